// Replays a record log's namespace history (docs/persistence-models.md, "Objects and entries"):
// entries map names in directory objects to objects, inode numbers map to the object that holds
// them now, and each entry remembers the last op that changed it, which is what the next op on it
// needs.
#include "faultfs/crash/history.h"

#include <sys/stat.h>

#include <algorithm>
#include <unordered_map>

#include "history_builder.h"

namespace faultfs::crash {
namespace {

using record::Op;
using record::OpKind;

constexpr size_t kMaxPathBytes = 4095;

}  // namespace

std::string Described(const Op& op, size_t i) {
  std::string text = "record " + std::to_string(i + 1) + " (" +
                     std::string(record::OpKindName(op.kind)) + " '" + op.path + "'";
  if (op.kind == OpKind::kRename || op.kind == OpKind::kLink) text += " -> '" + op.path2 + "'";
  return text + ")";
}

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
