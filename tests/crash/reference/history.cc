#include "reference/history.h"

#include <linux/falloc.h>
#include <linux/fs.h>
#include <unistd.h>

#include <map>

namespace faultfs::crash::reference {

using record::Op;
using record::OpKind;

bool IsSyncWriteOp(const Op& op) {
  return op.kind == OpKind::kWrite && (op.flags & (record::kSyncData | record::kSyncAll)) != 0;
}
bool IsPersistencePointOp(const Op& op) {
  return op.kind == OpKind::kFsync || op.kind == OpKind::kFdatasync ||
         op.kind == OpKind::kFsyncdir || IsSyncWriteOp(op);
}
bool IsEntryOp(const Op& op) { return op.kind >= OpKind::kCreate && op.kind <= OpKind::kRename; }
bool IsDataOp(const Op& op) { return op.kind >= OpKind::kWrite && op.kind <= OpKind::kFallocate; }
bool IsMetaOp(const Op& op) { return op.kind >= OpKind::kChmod && op.kind <= OpKind::kRemovexattr; }
bool IsDiskOp(const Op& op) { return IsEntryOp(op) || IsDataOp(op) || IsMetaOp(op); }

std::string DescribeRecordedOp(const Op& op) {
  static const char* const kNames[] = {
      "?",        "write",       "truncate", "fallocate", "create",   "mknod", "mkdir",
      "symlink",  "link",        "unlink",   "rmdir",     "rename",   "chmod", "chown",
      "setxattr", "removexattr", "fsync",    "fdatasync", "fsyncdir", "mark"};
  const auto k = static_cast<size_t>(op.kind);
  std::string s = "op " + std::to_string(op.seq) + " (" + (k < 20 ? kNames[k] : "?");
  if (op.kind == OpKind::kMark) return s + " \"" + op.data + "\")";
  s += " " + (op.path.empty() ? std::string("/") : op.path);
  if (op.kind == OpKind::kLink || op.kind == OpKind::kRename) s += " -> " + op.path2;
  if (op.kind == OpKind::kRename && op.flags != 0) {
    s += (op.flags & RENAME_EXCHANGE) ? " EXCHANGE" : " NOREPLACE";
  }
  if (op.kind == OpKind::kWrite) {
    s += " [" + std::to_string(op.offset) + ", +" + std::to_string(op.data.size()) + ")";
    if (op.flags & record::kSyncAll) s += " O_SYNC";
    if (op.flags & record::kSyncData) s += " O_DSYNC";
  }
  if (op.kind == OpKind::kTruncate) s += " to " + std::to_string(op.offset);
  if (op.kind == OpKind::kChmod) s += " " + std::to_string(op.mode);
  return s + ", ino " + std::to_string(op.ino) + ")";
}

std::string History::Describe(size_t i) const { return DescribeRecordedOp(ops_.at(i)); }

namespace {

// Replays ops over a filesystem, resolving each to a Step.
class Replayer {
 public:
  explicit Replayer(Fs fs) : fs_(std::move(fs)) {}

  Status Start(const record::LogHeader& header) {
    for (const auto& [ino, listed] : header.inodes) {
      // A directory is listed with a trailing '/'; the reference reads types from the snapshot.
      const std::string path = listed.ends_with('/') ? listed.substr(0, listed.size() - 1) : listed;
      auto walked = Walk(path);
      if (!walked.ok()) return Status::Invalid("header: " + walked.status().message());
      by_ino_[ino] = walked->empty() ? fs_.root : walked->back().second;
    }
    return Status::Ok();
  }

  Result<Step> Apply(const Op& op) {
    Step step;
    Status s = ApplyKind(op, step);
    if (!s.ok()) return Status::Invalid(DescribeRecordedOp(op) + ": " + s.message());
    return step;
  }

  const Fs& fs() const { return fs_; }

 private:
  using Path = std::vector<std::pair<Entry, ObjId>>;

  static Status CheckPath(const std::string& path) {
    if (path.empty() || path.front() == '/' || path.back() == '/') {
      return Status::Invalid("bad path \"" + path + "\"");
    }
    size_t start = 0;
    while (start <= path.size()) {
      const size_t end = std::min(path.find('/', start), path.size());
      const std::string part = path.substr(start, end - start);
      if (part.empty() || part == "." || part == "..") {
        return Status::Invalid("bad path \"" + path + "\"");
      }
      start = end + 1;
    }
    return Status::Ok();
  }

  // The entries from the root to `path`'s last component, each with its object ("" is the
  // root: no entries). Every component must exist, and all but the last be directories.
  Result<Path> Walk(const std::string& path) const {
    Path out;
    if (path.empty()) return out;
    FAULTFS_RETURN_IF_ERROR(CheckPath(path));
    ObjId dir = fs_.root;
    size_t start = 0;
    while (start <= path.size()) {
      const size_t end = std::min(path.find('/', start), path.size());
      if (!fs_.objects[dir].IsDir()) return Status::Invalid(path + ": not a directory on the way");
      Entry e{dir, path.substr(start, end - start)};
      const ObjId obj = fs_.Lookup(e);
      if (obj == kNoObject) return Status::Invalid(path + " does not exist");
      out.emplace_back(std::move(e), obj);
      dir = obj;
      start = end + 1;
    }
    return out;
  }

  // The entry `path` names (it may be free): its directory must exist.
  Result<Entry> EntryOf(const std::string& path) const {
    FAULTFS_RETURN_IF_ERROR(CheckPath(path));
    const size_t slash = path.rfind('/');
    const std::string parent = slash == std::string::npos ? "" : path.substr(0, slash);
    auto walked = Walk(parent);
    if (!walked.ok()) return walked.status();
    const ObjId dir = walked->empty() ? fs_.root : walked->back().second;
    if (!fs_.objects[dir].IsDir()) return Status::Invalid(parent + " is not a directory");
    return Entry{dir, slash == std::string::npos ? path : path.substr(slash + 1)};
  }

  // The object of a data, metadata or sync op: by inode, as the doc says.
  Result<ObjId> ObjectOf(const Op& op) const {
    if (op.ino != 0) {
      auto it = by_ino_.find(op.ino);
      if (it == by_ino_.end()) return Status::Invalid("unknown inode " + std::to_string(op.ino));
      return it->second;
    }
    auto walked = Walk(op.path);
    if (!walked.ok()) return walked.status();
    return walked->empty() ? fs_.root : walked->back().second;
  }

  ObjId NewObject(const Object& o) {
    const auto id = static_cast<ObjId>(fs_.objects.size());
    fs_.objects.push_back(o);
    return id;
  }

  Status ApplyKind(const Op& op, Step& step) {
    switch (op.kind) {
      case OpKind::kCreate:
      case OpKind::kMknod:
      case OpKind::kMkdir:
      case OpKind::kSymlink:
        return Make(op, step);
      case OpKind::kLink:
        return Link(op, step);
      case OpKind::kUnlink:
      case OpKind::kRmdir:
        return Remove(op, step);
      case OpKind::kRename:
        return Rename(op, step);
      case OpKind::kWrite:
      case OpKind::kTruncate:
      case OpKind::kFallocate:
        return Data(op, step);
      case OpKind::kChmod:
      case OpKind::kChown:
      case OpKind::kSetxattr:
      case OpKind::kRemovexattr:
        return Meta(op, step);
      case OpKind::kFsync:
      case OpKind::kFdatasync:
      case OpKind::kFsyncdir: {
        auto obj = ObjectOf(op);
        if (!obj.ok()) return obj.status();
        step.object = *obj;
        if (op.kind == OpKind::kFsync) NoteSync(step);
        return Status::Ok();
      }
      case OpKind::kMark:
        return Status::Ok();
    }
    return Status::Invalid("unknown op kind");
  }

  Status Make(const Op& op, Step& step) {
    auto entry = EntryOf(op.path);
    if (!entry.ok()) return entry.status();
    if (fs_.Lookup(*entry) != kNoObject) return Status::Invalid(op.path + " exists");
    Object o;
    o.uid = static_cast<uint32_t>(geteuid());
    o.gid = static_cast<uint32_t>(getegid());
    const uint32_t perm = op.mode & 07777;
    switch (op.kind) {
      case OpKind::kMkdir:
        o.mode = S_IFDIR | perm;
        break;
      case OpKind::kSymlink:
        o.mode = S_IFLNK | 0777;
        o.data = op.data;
        break;
      case OpKind::kMknod:
        o.mode = ((op.mode & S_IFMT) == 0 ? S_IFREG : (op.mode & S_IFMT)) | perm;
        if (S_ISCHR(o.mode) || S_ISBLK(o.mode)) o.rdev = op.offset;
        break;
      default:
        o.mode = S_IFREG | perm;
        break;
    }
    const ObjId obj = NewObject(o);
    step.created = o;
    step.object = obj;
    step.changes = {{*entry, kNoObject, obj}};
    step.dest_dir = entry->dir;
    step.named = {obj};
    if (S_ISREG(o.mode)) {
      known_size_[obj] = 0;
      step.changes_size = true;
    }
    by_ino_[op.ino] = obj;
    fs_.Set(*entry, obj);
    return Status::Ok();
  }

  Status Link(const Op& op, Step& step) {
    auto source = Walk(op.path);
    if (!source.ok()) return source.status();
    auto entry = EntryOf(op.path2);
    if (!entry.ok()) return entry.status();
    const ObjId obj = source->back().second;
    if (fs_.objects[obj].IsDir()) return Status::Invalid("link of a directory");
    if (fs_.Lookup(*entry) != kNoObject) return Status::Invalid(op.path2 + " exists");
    step.object = obj;
    step.source_path = *source;
    step.changes = {{*entry, kNoObject, obj}};
    step.dest_dir = entry->dir;
    step.named = {obj};
    fs_.Set(*entry, obj);
    return Status::Ok();
  }

  Status Remove(const Op& op, Step& step) {
    auto walked = Walk(op.path);
    if (!walked.ok()) return walked.status();
    const auto [entry, obj] = walked->back();
    const Object& o = fs_.objects[obj];
    if (op.kind == OpKind::kRmdir) {
      if (!o.IsDir()) return Status::Invalid("rmdir of a non-directory");
      if (!o.entries.empty()) return Status::Invalid("rmdir of a non-empty directory");
      step.removed_dir = obj;
    } else if (o.IsDir()) {
      return Status::Invalid("unlink of a directory");
    }
    step.object = obj;
    step.changes = {{entry, obj, kNoObject}};
    step.dest_dir = entry.dir;
    step.named = {obj};
    fs_.Set(entry, kNoObject);
    return Status::Ok();
  }

  Status Rename(const Op& op, Step& step) {
    auto source = Walk(op.path);
    if (!source.ok()) return source.status();
    auto dest = EntryOf(op.path2);
    if (!dest.ok()) return dest.status();
    const auto [src, moved] = source->back();
    const ObjId target = fs_.Lookup(*dest);
    if (src == *dest || moved == target) return Status::Invalid("rename onto itself");
    step.object = moved;
    step.source_path = *source;
    step.dest_dir = dest->dir;
    step.source_dir = src.dir;
    step.named = {moved};
    if (target != kNoObject) step.named.push_back(target);
    if (fs_.objects[moved].IsDir()) {  // the way to the destination's directory
      const size_t slash = op.path2.rfind('/');
      auto way = Walk(slash == std::string::npos ? "" : op.path2.substr(0, slash));
      if (!way.ok()) return way.status();
      for (const auto& [entry, obj] : *way) step.dest_path.push_back(entry);
    }
    if (op.flags & RENAME_EXCHANGE) {
      if (target == kNoObject) return Status::Invalid("exchange with a free name");
      auto other = Walk(op.path2);
      if (!other.ok()) return other.status();
      step.source_path.insert(step.source_path.end(), other->begin(), other->end());
      step.changes = {{src, moved, target}, {*dest, target, moved}};
      fs_.Set(src, target);
      fs_.Set(*dest, moved);
      return Status::Ok();
    }
    if (target != kNoObject) {
      if (op.flags & RENAME_NOREPLACE) return Status::Invalid(op.path2 + " exists (NOREPLACE)");
      const Object& t = fs_.objects[target];
      if (t.IsDir() != fs_.objects[moved].IsDir()) return Status::Invalid("rename across types");
      if (t.IsDir() && !t.entries.empty()) return Status::Invalid("rename onto a non-empty dir");
      if (t.IsDir()) step.removed_dir = target;
      step.replaces_file = !t.IsDir();
    }
    step.changes = {{src, moved, kNoObject}, {*dest, target, moved}};
    fs_.Set(src, kNoObject);
    fs_.Set(*dest, moved);
    return Status::Ok();
  }

  Status Data(const Op& op, Step& step) {
    auto obj = ObjectOf(op);
    if (!obj.ok()) return obj.status();
    step.object = *obj;
    Object& o = fs_.objects[*obj];
    if (!o.IsFile()) return Status::Invalid("data op on a non-file");
    auto known = known_size_.find(*obj);
    step.size_known = known != known_size_.end();
    step.size_before = step.size_known ? known->second : 0;
    if (op.kind == OpKind::kWrite) {
      const uint64_t end = op.offset + op.data.size();
      if (o.data.size() < end) o.data.resize(end, '\0');
      o.data.replace(op.offset, op.data.size(), op.data);
      step.changes_size = !step.size_known || end > step.size_before;
      if (step.size_known && end > known->second) known->second = end;
      if (op.flags & record::kSyncAll) NoteSync(step);
      return Status::Ok();
    }
    step.changes_size = true;
    if (op.kind == OpKind::kTruncate) {
      o.data.resize(op.offset, '\0');
      known_size_[*obj] = op.offset;
      return Status::Ok();
    }
    const uint64_t end = op.offset + op.length;
    if (op.flags == 0) {
      if (o.data.size() < end) o.data.resize(end, '\0');
      if (step.size_known && end > known->second) known->second = end;
    } else if (op.flags == (FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE)) {
      if (op.offset < o.data.size()) {
        const uint64_t stop = std::min<uint64_t>(end, o.data.size());
        o.data.replace(op.offset, stop - op.offset, stop - op.offset, '\0');
      }
    } else if (op.flags != FALLOC_FL_KEEP_SIZE) {
      return Status::Invalid("fallocate mode the reference does not model");
    }
    return Status::Ok();
  }

  Status Meta(const Op& op, Step& step) {
    auto obj = ObjectOf(op);
    if (!obj.ok()) return obj.status();
    step.object = *obj;
    Object& o = fs_.objects[*obj];
    switch (op.kind) {
      case OpKind::kChmod:
        o.mode = (o.mode & S_IFMT) | (op.mode & 07777);
        break;
      case OpKind::kChown:
        if (op.uid != UINT32_MAX) o.uid = op.uid;
        if (op.gid != UINT32_MAX) o.gid = op.gid;
        break;
      case OpKind::kSetxattr:
        o.xattrs[op.path2] = op.data;
        break;
      default:
        o.xattrs.erase(op.path2);
        break;
    }
    return Status::Ok();
  }

  // fsync of a regular file (or an O_SYNC write): what it made durable, for the promise checks.
  void NoteSync(Step& step) const {
    const Object& o = fs_.objects[step.object];
    if (!o.IsFile()) return;
    step.syncs_file = true;
    step.synced_data = o.data;
    for (ObjId dir = 0; dir < fs_.objects.size(); ++dir) {
      for (const auto& [name, obj] : fs_.objects[dir].entries) {
        if (obj == step.object) step.synced_names.push_back({dir, name});
      }
    }
  }

  Fs fs_;
  std::map<uint64_t, ObjId> by_ino_;
  std::map<ObjId, uint64_t> known_size_;
};

}  // namespace

Result<History> History::Replay(const record::ReadLog& log, Fs start) {
  History h;
  h.ops_ = log.ops;
  Replayer replayer(start);
  FAULTFS_RETURN_IF_ERROR(replayer.Start(log.header));
  h.trees_.push_back(VisibleTree(replayer.fs()));
  for (const Op& op : log.ops) {
    auto step = replayer.Apply(op);
    if (!step.ok()) return step.status();
    h.steps_.push_back(std::move(*step));
    h.trees_.push_back(VisibleTree(replayer.fs()));
  }
  // Unborn objects for every one the log created: a state holds them once their create applies.
  start.objects.resize(replayer.fs().objects.size());
  h.end_ = replayer.fs();
  h.start_ = std::move(start);
  return h;
}

}  // namespace faultfs::crash::reference
