// Replays a record log's namespace history (docs/persistence-models.md, "Objects and entries"):
// entries map names in directory objects to objects, inode numbers map to the object that holds
// them now, and each entry remembers the last op that changed it, which is what the next op on it
// needs.
#include "faultfs/crash/history.h"

#include <sys/stat.h>

#include <algorithm>
#include <unordered_map>

namespace faultfs::crash {
namespace {

using record::Op;
using record::OpKind;

constexpr uint32_t kRenameNoreplace = 1;  // renameat2 flags
constexpr uint32_t kRenameExchange = 2;
constexpr size_t kMaxPathBytes = 4095;

struct EntryHash {
  size_t operator()(const EntryKey& e) const {
    return std::hash<std::string>()(e.name) * 31 + e.dir;
  }
};

std::string Described(const Op& op, size_t i) {
  std::string text = "record " + std::to_string(i + 1) + " (" +
                     std::string(record::OpKindName(op.kind)) + " '" + op.path + "'";
  if (op.kind == OpKind::kRename || op.kind == OpKind::kLink) text += " -> '" + op.path2 + "'";
  return text + ")";
}

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

std::vector<std::string> PathComponents(const std::string& path) {
  std::vector<std::string> parts;
  if (path.empty()) return parts;
  size_t start = 0;
  for (;;) {
    const size_t slash = path.find('/', start);
    parts.push_back(path.substr(start, slash == std::string::npos ? slash : slash - start));
    if (slash == std::string::npos) return parts;
    start = slash + 1;
  }
}

bool IsSafeName(const std::string& name) {
  return !name.empty() && name != "." && name != ".." && name.size() <= 255 &&
         name.find('/') == std::string::npos && name.find('\0') == std::string::npos;
}

// Builds a History op by op. In strict mode the first impossible op is an error; otherwise what
// is missing is taken to have existed from the start, and what is impossible is resolved as well
// as it can be.
class HistoryBuilder {
 public:
  explicit HistoryBuilder(bool strict) : strict_(strict) {
    h_.objects_.emplace_back();  // ObjectId 0: none
    names_.emplace_back();
    children_.push_back(0);
    NewObject(0, ObjectType::kDir, true);
  }

  void Size(size_t ops) {
    h_.ops_.assign(ops, OpObjects{});
    h_.needs_.assign(ops, {});
  }

  Status Start(const InodeNames& start);
  Status Apply(const Op& op, size_t i);
  History Take() &&;

 private:
  ObjectId NewObject(uint64_t ino, ObjectType type, bool initial);
  void Name(ObjectId obj, const EntryKey& e);
  void Unname(const EntryKey& e);
  ObjectId At(const EntryKey& e) const {
    const auto it = entries_.find(e);
    return it == entries_.end() ? kNoObject : it->second;
  }
  // The directory reached by the first `n` components of `parts`, noting the entries on the way.
  Result<ObjectId> Walk(const Op& op, size_t i, const std::vector<std::string>& parts, size_t n,
                        std::vector<EntryKey>* chain);
  Result<EntryKey> EntryOf(const Op& op, size_t i, const std::string& path,
                           std::vector<EntryKey>* chain);
  // The object at entry `e`, taken to have been there from the start when it is unknown (or an
  // error in strict mode).
  Result<ObjectId> Existing(const Op& op, size_t i, const EntryKey& e, const std::string& path);
  Result<ObjectId> ObjectOf(const Op& op, size_t i);
  Status SameInode(const Op& op, size_t i, ObjectId obj);
  std::vector<EntryKey> ChainOf(ObjectId obj) const;
  std::vector<EntryKey> SourceChain(const Op& op, size_t i, ObjectId obj);
  bool IsWithin(ObjectId dir, ObjectId top) const;
  Status Create(const Op& op, size_t i);
  Status Link(const Op& op, size_t i);
  Status Remove(const Op& op, size_t i);
  Status Rename(const Op& op, size_t i);
  // Op i changes entry `e` (and so needs the last op that did).
  void Changes(size_t i, const EntryKey& e);
  // Op i reaches its source through the entries of `chain`.
  void Reaches(size_t i, const std::vector<EntryKey>& chain);
  // Op i removes directory `dir`: it needs every change to an entry in it.
  void Empties(size_t i, ObjectId dir);
  Status Bad(const Op& op, size_t i, const std::string& why) const {
    return Status::Invalid(Described(op, i) + ": " + why);
  }

  const bool strict_;
  History h_;
  std::unordered_map<EntryKey, ObjectId, EntryHash> entries_;
  std::vector<std::vector<EntryKey>> names_;       // by ObjectId: its current names
  std::vector<size_t> children_;                   // by ObjectId: entries in it now
  std::unordered_map<uint64_t, ObjectId> by_ino_;  // inode -> the object that has it now
  std::unordered_map<EntryKey, uint32_t, EntryHash> last_change_;
  std::unordered_map<ObjectId, std::vector<std::string>> changed_in_;  // names changed in a dir
};

ObjectId HistoryBuilder::NewObject(uint64_t ino, ObjectType type, bool initial) {
  const auto id = static_cast<ObjectId>(h_.objects_.size());
  h_.objects_.push_back(ObjectInfo{.ino = ino, .type = type, .initial = initial});
  names_.emplace_back();
  children_.push_back(0);
  if (ino != 0) by_ino_[ino] = id;
  return id;
}

void HistoryBuilder::Name(ObjectId obj, const EntryKey& e) {
  entries_[e] = obj;
  names_[obj].push_back(e);
  ++children_[e.dir];
  ObjectInfo& dir = h_.objects_[e.dir];
  if (dir.type == ObjectType::kUnknown) dir.type = ObjectType::kDir;
}

void HistoryBuilder::Unname(const EntryKey& e) {
  const auto it = entries_.find(e);
  if (it == entries_.end()) return;
  std::erase(names_[it->second], e);
  --children_[e.dir];
  entries_.erase(it);
}

Status HistoryBuilder::Start(const InodeNames& start) {
  for (const auto& [ino, path] : start) {
    if (path.empty()) {
      h_.objects_[kRootObject].ino = ino;
      by_ino_[ino] = kRootObject;
      continue;
    }
    // A directory is listed with a trailing '/' (older logs list no types: kUnknown).
    const bool is_dir = path.ends_with('/');
    Op listed;
    listed.kind = OpKind::kCreate;
    listed.ino = ino;
    listed.path = is_dir ? path.substr(0, path.size() - 1) : path;
    if (is_dir && (listed.path.empty() || listed.path.ends_with('/')))
      return Status::Invalid("the log header's name '" + path + "' is not a path");
    auto e = EntryOf(listed, 0, listed.path, nullptr);
    if (!e.ok())
      return Status::Invalid("the log header's name '" + path + "' " + e.status().message());
    if (At(*e) != kNoObject) {
      if (strict_) return Status::Invalid("the log header lists '" + path + "' twice");
      continue;
    }
    const auto known = by_ino_.find(ino);
    const ObjectId obj =
        known != by_ino_.end() && ino != 0
            ? known->second
            : NewObject(ino, is_dir ? ObjectType::kDir : ObjectType::kUnknown, true);
    Name(obj, *e);
    h_.initial_.emplace_back(obj, *e);
  }
  return Status::Ok();
}

Result<ObjectId> HistoryBuilder::Walk(const Op& op, size_t i, const std::vector<std::string>& parts,
                                      size_t n, std::vector<EntryKey>* chain) {
  ObjectId dir = kRootObject;
  for (size_t k = 0; k < n; ++k) {
    if (strict_ && !IsSafeName(parts[k]))
      return Bad(op, i, "unsafe path component '" + parts[k] + "'");
    EntryKey e{dir, parts[k]};
    if (chain != nullptr) chain->push_back(e);
    ObjectId next = At(e);
    if (next == kNoObject) {
      if (strict_) return Bad(op, i, "directory '" + parts[k] + "' does not exist at that point");
      next = NewObject(0, ObjectType::kDir, true);
      Name(next, e);
      h_.initial_.emplace_back(next, e);
    }
    const ObjectType type = h_.objects_[next].type;
    if (strict_ && type != ObjectType::kDir && type != ObjectType::kUnknown)
      return Bad(op, i, "'" + parts[k] + "' is not a directory");
    dir = next;
  }
  return dir;
}

Result<EntryKey> HistoryBuilder::EntryOf(const Op& op, size_t i, const std::string& path,
                                         std::vector<EntryKey>* chain) {
  if (path.size() > kMaxPathBytes) return Bad(op, i, "path longer than 4095 bytes");
  std::vector<std::string> parts = PathComponents(path);
  if (parts.empty()) return Bad(op, i, "the root has no entry");
  if (!IsSafeName(parts.back())) {
    if (strict_) return Bad(op, i, "unsafe name '" + parts.back() + "'");
  }
  auto dir = Walk(op, i, parts, parts.size() - 1, chain);
  if (!dir.ok()) return dir.status();
  return EntryKey{*dir, std::move(parts.back())};
}

Result<ObjectId> HistoryBuilder::Existing(const Op& op, size_t i, const EntryKey& e,
                                          const std::string& path) {
  const ObjectId obj = At(e);
  if (obj != kNoObject) return obj;
  if (strict_) return Bad(op, i, "'" + path + "' does not exist at that point");
  // A name the start did not list: another name of an object already known by its inode (a
  // hard link), or an object of its own that existed from the start.
  const auto known = op.ino != 0 ? by_ino_.find(op.ino) : by_ino_.end();
  const ObjectId made =
      known != by_ino_.end()
          ? known->second
          : NewObject(0, op.kind == OpKind::kRmdir ? ObjectType::kDir : ObjectType::kUnknown, true);
  Name(made, e);
  h_.initial_.emplace_back(made, e);
  return made;
}

// Data, metadata and sync ops name their object by inode (a file may be written after its last
// name is gone); the path serves when the inode is not known.
Result<ObjectId> HistoryBuilder::ObjectOf(const Op& op, size_t i) {
  if (op.ino != 0) {
    const auto it = by_ino_.find(op.ino);
    if (it != by_ino_.end()) return it->second;
  }
  if (op.path.empty()) return kRootObject;
  auto e = EntryOf(op, i, op.path, nullptr);
  if (!e.ok()) return e.status();
  auto obj = Existing(op, i, *e, op.path);
  if (obj.ok()) FAULTFS_RETURN_IF_ERROR(SameInode(op, i, *obj));
  return obj;
}

// The recorded inode of the object an entry op found: learned when not known yet, else checked.
Status HistoryBuilder::SameInode(const Op& op, size_t i, ObjectId obj) {
  ObjectInfo& info = h_.objects_[obj];
  if (op.ino == 0 || info.ino == op.ino) return Status::Ok();
  if (info.ino == 0) {
    info.ino = op.ino;
    by_ino_[op.ino] = obj;
    return Status::Ok();
  }
  if (!strict_) return Status::Ok();
  return Bad(op, i,
             "'" + op.path + "' is inode " + std::to_string(info.ino) + " at that point, not " +
                 std::to_string(op.ino));
}

// The entries from the root to a name of `obj` (empty when it has none).
std::vector<EntryKey> HistoryBuilder::ChainOf(ObjectId obj) const {
  std::vector<EntryKey> chain;
  for (ObjectId at = obj; at != kRootObject && chain.size() <= h_.objects_.size();) {
    if (names_[at].empty()) return {};
    chain.push_back(names_[at].front());
    at = names_[at].front().dir;
  }
  std::reverse(chain.begin(), chain.end());
  return chain;
}

// The entries by which a link reaches its source: those of the recorded path when it names the
// object (it always does in a recording), else those of a name the object has.
std::vector<EntryKey> HistoryBuilder::SourceChain(const Op& op, size_t i, ObjectId obj) {
  std::vector<EntryKey> chain;
  auto e = EntryOf(op, i, op.path, &chain);
  if (e.ok() && !strict_ && At(*e) == kNoObject) {  // a name of it the start did not list
    Name(obj, *e);
    h_.initial_.emplace_back(obj, *e);
  }
  if (e.ok() && At(*e) == obj) {
    chain.push_back(*e);
    return chain;
  }
  return ChainOf(obj);
}

// Whether directory `dir` is `top` or lies under it.
bool HistoryBuilder::IsWithin(ObjectId dir, ObjectId top) const {
  for (size_t steps = 0; steps <= h_.objects_.size(); ++steps) {
    if (dir == top) return true;
    if (dir == kRootObject || names_[dir].empty()) return false;
    dir = names_[dir].front().dir;
  }
  return true;  // a cycle: only an impossible history makes one
}

void HistoryBuilder::Changes(size_t i, const EntryKey& e) {
  const auto [it, fresh] = last_change_.try_emplace(e, static_cast<uint32_t>(i));
  if (fresh) {
    changed_in_[e.dir].push_back(e.name);
    return;
  }
  if (it->second != i) h_.needs_[i].push_back(it->second);
  it->second = static_cast<uint32_t>(i);
}

void HistoryBuilder::Reaches(size_t i, const std::vector<EntryKey>& chain) {
  for (const EntryKey& e : chain) {
    const auto it = last_change_.find(e);
    if (it != last_change_.end()) h_.needs_[i].push_back(it->second);
  }
}

void HistoryBuilder::Empties(size_t i, ObjectId dir) {
  const auto names = changed_in_.find(dir);
  if (names == changed_in_.end()) return;
  for (const std::string& name : names->second) {
    const uint32_t last = last_change_.at(EntryKey{dir, name});
    if (last != i) h_.needs_[i].push_back(last);
  }
}

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

History HistoryBuilder::Take() && {
  h_.needed_by_.assign(h_.ops_.size(), {});
  for (size_t j = 0; j < h_.needs_.size(); ++j) {
    std::vector<uint32_t>& needs = h_.needs_[j];
    std::sort(needs.begin(), needs.end());
    needs.erase(std::unique(needs.begin(), needs.end()), needs.end());
    for (uint32_t i : needs) h_.needed_by_[i].push_back(static_cast<uint32_t>(j));
  }
  return std::move(h_);
}

namespace {

Result<History> Resolve(const std::vector<Op>& ops, const InodeNames& start, bool strict) {
  HistoryBuilder b(strict);
  b.Size(ops.size());
  FAULTFS_RETURN_IF_ERROR(b.Start(start));
  for (size_t i = 0; i < ops.size(); ++i) {
    Status s = b.Apply(ops[i], i);
    if (!s.ok() && strict) return s;
  }
  return std::move(b).Take();
}

}  // namespace

History History::Of(const std::vector<Op>& ops, const InodeNames& start) {
  auto h = Resolve(ops, start, /*strict=*/false);
  FAULTFS_CHECK(h.ok()) << "resolving a history leniently failed: " << h.status().ToString();
  return std::move(*h);
}

Status History::Check(const std::vector<Op>& ops, const InodeNames& start) {
  auto h = Resolve(ops, start, /*strict=*/true);
  return h.ok() ? Status::Ok() : h.status();
}

}  // namespace faultfs::crash
