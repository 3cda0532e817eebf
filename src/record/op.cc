#include "faultfs/record/op.h"

namespace faultfs::record {

std::string_view OpKindName(OpKind kind) {
  switch (kind) {
    case OpKind::kWrite:
      return "write";
    case OpKind::kTruncate:
      return "truncate";
    case OpKind::kFallocate:
      return "fallocate";
    case OpKind::kCreate:
      return "create";
    case OpKind::kMknod:
      return "mknod";
    case OpKind::kMkdir:
      return "mkdir";
    case OpKind::kSymlink:
      return "symlink";
    case OpKind::kLink:
      return "link";
    case OpKind::kUnlink:
      return "unlink";
    case OpKind::kRmdir:
      return "rmdir";
    case OpKind::kRename:
      return "rename";
    case OpKind::kChmod:
      return "chmod";
    case OpKind::kChown:
      return "chown";
    case OpKind::kSetxattr:
      return "setxattr";
    case OpKind::kRemovexattr:
      return "removexattr";
    case OpKind::kFsync:
      return "fsync";
    case OpKind::kFdatasync:
      return "fdatasync";
    case OpKind::kFsyncdir:
      return "fsyncdir";
    case OpKind::kMark:
      return "mark";
  }
  return "unknown";
}

bool IsPersistencePoint(OpKind kind) {
  return kind == OpKind::kFsync || kind == OpKind::kFdatasync || kind == OpKind::kFsyncdir;
}

bool IsEntryKind(OpKind kind) { return kind >= OpKind::kCreate && kind <= OpKind::kRename; }
bool IsDataKind(OpKind kind) { return kind >= OpKind::kWrite && kind <= OpKind::kFallocate; }
bool IsMetaKind(OpKind kind) { return kind >= OpKind::kChmod && kind <= OpKind::kRemovexattr; }

bool IsSyncWrite(const Op& op) {
  return op.kind == OpKind::kWrite && (op.flags & (kSyncData | kSyncAll)) != 0;
}

}  // namespace faultfs::record
