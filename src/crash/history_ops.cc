// The entry ops of a record log's namespace history: create, link, remove and rename, each
// checked against the entries as they stand and noted as the last change of what it changes.
#include <sys/stat.h>

#include "history_builder.h"

namespace faultfs::crash {

using record::Op;
using record::OpKind;

namespace {

constexpr uint32_t kRenameNoreplace = 1;  // renameat2 flags
constexpr uint32_t kRenameExchange = 2;

ObjectType CreatedType(const Op& op) {
  switch (op.kind) {
    case OpKind::kMkdir:
      return ObjectType::kDir;
    case OpKind::kSymlink:
      return ObjectType::kSymlink;
    case OpKind::kMknod:
      return S_ISREG(op.mode) ? ObjectType::kFile : ObjectType::kNode;
    default:
      return ObjectType::kFile;
  }
}

}  // namespace

Status HistoryBuilder::Create(const Op& op, size_t i) {
  auto e = EntryOf(op, i, op.path, nullptr);
  if (!e.ok()) return e.status();
  if (At(*e) != kNoObject) {
    if (strict_) return Bad(op, i, "'" + op.path + "' already exists at that point");
    Unname(*e);
  }
  if (strict_ && op.ino != 0) {
    const auto held = by_ino_.find(op.ino);
    if (held != by_ino_.end() && !names_[held->second].empty())
      return Bad(op, i, "inode " + std::to_string(op.ino) + " still has a name at that point");
  }
  const ObjectId obj = NewObject(op.ino, CreatedType(op), false);
  Name(obj, *e);
  h_.ops_[i] = OpObjects{.obj = obj, .entry = *e};
  Changes(i, *e);
  return Status::Ok();
}

Status HistoryBuilder::Link(const Op& op, size_t i) {
  auto obj = ObjectOf(op, i);
  if (!obj.ok()) return obj.status();
  if (strict_ && h_.objects_[*obj].type == ObjectType::kDir)
    return Bad(op, i, "a directory cannot get a second name");
  const std::vector<EntryKey> source = SourceChain(op, i, *obj);
  auto to = EntryOf(op, i, op.path2, nullptr);
  if (!to.ok()) return to.status();
  if (At(*to) != kNoObject) {
    if (strict_) return Bad(op, i, "'" + op.path2 + "' already exists at that point");
    Unname(*to);
  }
  Name(*obj, *to);
  // Member by member: GCC 12 at -O3 takes the designated initializer's empty `entry` for
  // uninitialized (-Wmaybe-uninitialized).
  OpObjects link;
  link.obj = *obj;
  link.entry2 = *to;
  h_.ops_[i] = std::move(link);
  Changes(i, *to);
  Reaches(i, source);
  return Status::Ok();
}

Status HistoryBuilder::Remove(const Op& op, size_t i) {
  auto e = EntryOf(op, i, op.path, nullptr);
  if (!e.ok()) return e.status();
  auto obj = Existing(op, i, *e, op.path);
  if (!obj.ok()) return obj.status();
  FAULTFS_RETURN_IF_ERROR(SameInode(op, i, *obj));
  const ObjectType type = h_.objects_[*obj].type;
  if (op.kind == OpKind::kRmdir) {
    if (strict_ && type != ObjectType::kDir && type != ObjectType::kUnknown)
      return Bad(op, i, "'" + op.path + "' is not a directory");
    if (strict_ && children_[*obj] != 0) return Bad(op, i, "'" + op.path + "' is not empty");
    h_.objects_[*obj].type = ObjectType::kDir;
  } else if (strict_ && type == ObjectType::kDir) {
    return Bad(op, i, "'" + op.path + "' is a directory");
  }
  Unname(*e);
  h_.ops_[i] = OpObjects{.obj = *obj, .entry = *e};
  Changes(i, *e);
  if (op.kind == OpKind::kRmdir) Empties(i, *obj);
  return Status::Ok();
}

Status HistoryBuilder::Rename(const Op& op, size_t i) {
  const bool exchange = (op.flags & kRenameExchange) != 0;
  std::vector<EntryKey> source, other;
  auto from = EntryOf(op, i, op.path, &source);
  if (!from.ok()) return from.status();
  auto to = EntryOf(op, i, op.path2, &other);
  if (!to.ok()) return to.status();
  auto obj = Existing(op, i, *from, op.path);
  if (!obj.ok()) return obj.status();
  FAULTFS_RETURN_IF_ERROR(SameInode(op, i, *obj));
  ObjectId replaced = At(*to);
  if (exchange && replaced == kNoObject) {
    if (strict_) return Bad(op, i, "'" + op.path2 + "' does not exist to exchange with");
    auto made = Existing(op, i, *to, op.path2);
    if (!made.ok()) return made.status();
    replaced = *made;
  }
  if (strict_ && (op.flags & kRenameNoreplace) != 0 && replaced != kNoObject)
    return Bad(op, i, "'" + op.path2 + "' already exists at that point");
  const bool is_dir = h_.objects_[*obj].type == ObjectType::kDir;
  if (is_dir && IsWithin(to->dir, *obj)) {
    if (strict_) return Bad(op, i, "a directory cannot move into itself");
    return Status::Ok();  // resolved as a rename that changed nothing
  }
  if (strict_ && !exchange && replaced != kNoObject && replaced != *obj) {
    const bool replaced_dir = h_.objects_[replaced].type == ObjectType::kDir;
    if (replaced_dir && children_[replaced] != 0)
      return Bad(op, i, "'" + op.path2 + "' is a directory that is not empty");
    if (replaced_dir != is_dir && h_.objects_[replaced].type != ObjectType::kUnknown)
      return Bad(op, i, "a directory and a non-directory cannot replace each other");
  }
  h_.ops_[i] = OpObjects{.obj = *obj, .entry = *from, .entry2 = *to, .replaced = replaced};
  Changes(i, *from);
  Changes(i, *to);
  Reaches(i, source);  // the directories above the source entry (which is changed, so needed)
  // An exchange reaches both sources; a directory's rename checks that its destination is not
  // under it, through the path to the destination.
  if (exchange || is_dir) Reaches(i, other);
  if (exchange) {
    Unname(*from);
    Unname(*to);
    Name(*obj, *to);
    Name(replaced, *from);
    return Status::Ok();
  }
  if (replaced == *obj) return Status::Ok();  // two names of one file: nothing moves
  if (replaced != kNoObject) {
    if (h_.objects_[replaced].type == ObjectType::kDir) Empties(i, replaced);
    Unname(*to);
  }
  Unname(*from);
  Name(*obj, *to);
  return Status::Ok();
}

Status HistoryBuilder::Apply(const Op& op, size_t i) {
  switch (op.kind) {
    case OpKind::kCreate:
    case OpKind::kMknod:
    case OpKind::kMkdir:
    case OpKind::kSymlink:
      return Create(op, i);
    case OpKind::kLink:
      return Link(op, i);
    case OpKind::kUnlink:
    case OpKind::kRmdir:
      return Remove(op, i);
    case OpKind::kRename:
      return Rename(op, i);
    case OpKind::kMark:
      return Status::Ok();
    default: {
      auto obj = ObjectOf(op, i);
      if (!obj.ok()) return obj.status();
      h_.ops_[i].obj = *obj;
      return Status::Ok();
    }
  }
}

}  // namespace faultfs::crash
