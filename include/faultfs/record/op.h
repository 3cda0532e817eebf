// What a record log holds: the mutations and persistence points a workload made through a
// recording mount, and its markers, each with enough detail to replay it on a copy of the starting
// directory. This is the vocabulary shared by the recorder (fs), the crash-state generator (crash)
// and replay.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace faultfs::record {

enum class OpKind : uint8_t {
  // Mutations of file data.
  kWrite = 1,      // path, offset, data; flags: kSyncData/kSyncAll when the file is O_DSYNC/O_SYNC
  kTruncate = 2,   // path, offset = new size
  kFallocate = 3,  // path, offset, length, flags = fallocate mode
  // Mutations of the namespace.
  kCreate = 4,   // path (a regular file), mode
  kMknod = 5,    // path, mode, offset = rdev
  kMkdir = 6,    // path, mode
  kSymlink = 7,  // path, data = the link's target
  kLink = 8,     // path = existing name, path2 = new name
  kUnlink = 9,   // path
  kRmdir = 10,   // path
  kRename = 11,  // path -> path2, flags = renameat2 flags
  // Mutations of metadata.
  kChmod = 12,        // path, mode
  kChown = 13,        // path, uid, gid (uint32 max: unchanged)
  kSetxattr = 14,     // path, path2 = attribute name, data = value, flags = XATTR_CREATE/REPLACE
  kRemovexattr = 15,  // path, path2 = attribute name
  // Persistence points.
  kFsync = 16,      // path: the file's data and metadata are durable
  kFdatasync = 17,  // path: the file's data is durable
  kFsyncdir = 18,   // path: the directory's entries are durable
  // The workload's own markers ("acknowledged ..."), in order with the ops.
  kMark = 19,  // data = the marker text
};

// kWrite flags: the file was opened O_DSYNC or O_SYNC, so the write is also a persistence point.
inline constexpr uint32_t kSyncData = 1;
inline constexpr uint32_t kSyncAll = 2;

std::string_view OpKindName(OpKind kind);
bool IsPersistencePoint(OpKind kind);  // fsync, fdatasync, fsyncdir
bool IsEntryKind(OpKind kind);         // create, mknod, mkdir, symlink, link, unlink, rmdir, rename
bool IsDataKind(OpKind kind);          // write, truncate, fallocate
bool IsMetaKind(OpKind kind);          // chmod, chown, setxattr, removexattr

struct Op {
  uint64_t seq = 0;      // 1, 2, 3 ... in the order the mount applied the ops
  uint64_t time_ns = 0;  // monotonic, since the recording started
  uint32_t pid = 0;      // the caller (0 for markers sent through faultfs ctl)
  OpKind kind = OpKind::kWrite;
  uint64_t ino = 0;   // the backing inode of the object operated on (0 when unknown)
  std::string path;   // relative to the mount root, no leading '/'
  std::string path2;  // see OpKind
  uint64_t offset = 0;
  uint64_t length = 0;
  uint32_t mode = 0;
  uint32_t flags = 0;
  uint32_t uid = UINT32_MAX;
  uint32_t gid = UINT32_MAX;
  std::string data;

  bool operator==(const Op&) const = default;
};

// A write to an O_SYNC or O_DSYNC file: also a persistence point.
bool IsSyncWrite(const Op& op);

}  // namespace faultfs::record
