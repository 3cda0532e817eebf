#include "applier.h"

#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "faultfs/core/random.h"

namespace faultfs::crash {

using record::Op;
using record::OpKind;

namespace {

constexpr size_t kMaxDepth = 4096;
constexpr size_t kMaxDirFds = 256;  // directory descriptors kept open

// The bytes of a write that reach the disk in this state.
std::string PieceOf(const Op& op, const Applied& how, uint64_t seed) {
  const uint64_t end = std::min<uint64_t>(how.end, op.data.size());
  const uint64_t begin = std::min(how.begin, end);
  std::string piece = op.data.substr(begin, end - begin);
  if (how.fill == Applied::Fill::kZeros) std::fill(piece.begin(), piece.end(), '\0');
  if (how.fill == Applied::Fill::kGarbage) {
    Rng rng(DeriveSeed(seed, "garbage/" + std::to_string(op.seq)));
    for (char& c : piece) c = static_cast<char>(rng.Next());
  }
  return piece;
}

// `path` (relative, "" the root) opened beneath `root` without following any symlink.
int OpenBeneath(int root, const std::string& path, uint64_t flags) {
  open_how how{};
  how.flags = flags | O_CLOEXEC;
  how.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV;
  const char* name = path.empty() ? "." : path.c_str();
  return static_cast<int>(syscall(SYS_openat2, root, name, &how, sizeof(how)));
}

std::string Join(const std::string& dir, const std::string& name) {
  return dir.empty() ? name : dir + "/" + name;
}

// A path to `name` in the directory `dir_fd` for the calls that take only paths (xattrs); the
// final name is never followed by the l*xattr calls.
std::string ProcPath(int dir_fd, const std::string& name) {
  return "/proc/self/fd/" + std::to_string(dir_fd) + "/" + name;
}

}  // namespace

Applier::Applier(UniqueFd root, const record::ReadLog& log, std::shared_ptr<const History> history,
                 bool replay)
    : root_(std::move(root)),
      log_(&log),
      history_(std::move(history)),
      replay_(replay),
      applied_(log.ops.size(), false) {}

Result<Applier> Applier::Open(const std::string& dir, const record::ReadLog& log,
                              std::shared_ptr<const History> history, bool replay) {
  FAULTFS_CHECK(history != nullptr && history->size() == log.ops.size())
      << "an applier needs the history of its own log";
  UniqueFd root(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!root) return Status::FromErrno(errno, "opening '" + dir + "'");
  Applier a(std::move(root), log, std::move(history), replay);
  for (const auto& [obj, e] : a.history_->initial_names()) a.Name(obj, e);
  return a;
}

Result<Applier> Applier::Open(const std::string& dir, const record::ReadLog& log, bool replay) {
  return Open(dir, log, std::make_shared<const History>(History::Of(log.ops, log.header.inodes)),
              replay);
}

Result<Applier> Applier::Fork(const std::string& dir) const {
  UniqueFd root(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!root) return Status::FromErrno(errno, "opening '" + dir + "'");
  Applier a(std::move(root), *log_, history_, replay_);
  a.entries_ = entries_;
  a.names_ = names_;
  a.applied_ = applied_;
  return a;
}

void Applier::Name(ObjectId obj, const EntryKey& e) {
  entries_[e] = obj;
  names_[obj].push_back(e);
}

void Applier::Unname(const EntryKey& e) {
  const auto it = entries_.find(e);
  if (it == entries_.end()) return;
  std::erase(names_[it->second], e);
  entries_.erase(it);
}

ObjectId Applier::At(const EntryKey& e) const {
  const auto it = entries_.find(e);
  return it == entries_.end() ? kNoObject : it->second;
}

std::optional<std::string> Applier::PathOfObject(ObjectId obj, size_t depth) const {
  if (obj == kRootObject) return std::string();
  const auto it = names_.find(obj);
  if (it == names_.end() || depth > kMaxDepth) return std::nullopt;
  for (const EntryKey& e : it->second) {
    if (auto dir = PathOfObject(e.dir, depth + 1)) return Join(*dir, e.name);
  }
  return std::nullopt;
}

std::optional<std::string> Applier::PathOf(uint32_t i) const {
  return PathOfObject(history_->at(i).obj);
}

Result<int> Applier::OpenDir(const EntryKey& e, std::string* path) const {
  if (!IsSafeName(e.name)) return Status::Invalid("unsafe name '" + e.name + "'");
  const auto dir = PathOfObject(e.dir);
  if (!dir) return -1;  // out of reach
  if (path != nullptr) *path = Join(*dir, e.name);
  if (e.dir == kRootObject) return root_.get();
  // A directory's descriptor stays right when the directory is renamed; it is dropped when the
  // directory is removed (Forget).
  if (const auto it = dir_fds_.find(e.dir); it != dir_fds_.end()) return it->second.get();
  UniqueFd fd(OpenBeneath(root_.get(), *dir, O_PATH | O_DIRECTORY));
  if (!fd) return Status::FromErrno(errno, "opening directory '" + *dir + "' beneath the state");
  if (dir_fds_.size() >= kMaxDirFds) dir_fds_.clear();
  return dir_fds_.emplace(e.dir, std::move(fd)).first->second.get();
}

Status Applier::Changing(const std::string& path) {
  return hooks_ != nullptr ? hooks_->BeforeChange(path, false) : Status::Ok();
}

Status Applier::Touching(const std::string& path) {
  if (hooks_ == nullptr) return Status::Ok();
  FAULTFS_RETURN_IF_ERROR(hooks_->Touching(path));
  const size_t slash = path.rfind('/');
  return hooks_->Touching(slash == std::string::npos ? std::string() : path.substr(0, slash));
}

Result<bool> Applier::TakenAway(const std::string& path) {
  return hooks_ != nullptr ? hooks_->TakeAway(path) : Result<bool>(false);
}

Status Applier::Failed(int err, uint32_t i, const std::string& what) const {
  return Status::FromErrno(err, what + " for " + DescribeOp(log_->ops, i));
}

Status Applier::Inconsistent(uint32_t i, const std::string& why) const {
  return Status::Invalid(
      "the state is not one a filesystem could have: " + DescribeOp(log_->ops, i) + " " + why);
}

// Every op an entry op needs was applied before it (the models promise it; this checks).
Status Applier::CheckNeeds(uint32_t i) const {
  for (uint32_t need : history_->needs(i)) {
    if (!applied_[need])
      return Inconsistent(i,
                          "is applied without " + DescribeOp(log_->ops, need) + ", which it needs");
  }
  return Status::Ok();
}

Status Applier::CheckEntry(uint32_t i, const EntryKey& e, ObjectId want) const {
  if (At(e) == want) return Status::Ok();
  return Inconsistent(i, "finds '" + e.name + "' holding another object than when it was recorded");
}

Status Applier::Apply(uint32_t i, const Applied& how, uint64_t seed) {
  FAULTFS_CHECK(i < log_->ops.size()) << "op index " << i << " of " << log_->ops.size();
  const Op& op = log_->ops[i];
  Status s;
  if (op.kind == OpKind::kRename && how.part == Applied::Part::kUnlinkTarget) {
    s = UnlinkTarget(i);
  } else if (record::IsEntryKind(op.kind)) {
    s = CheckNeeds(i);
    if (s.ok() && history_->at(i).obj == kNoObject)
      s = Inconsistent(i, "does not fit the recorded history");
    if (s.ok()) {
      switch (op.kind) {
        case OpKind::kLink:
          s = Link(i);
          break;
        case OpKind::kUnlink:
        case OpKind::kRmdir:
          s = Remove(i);
          break;
        case OpKind::kRename:
          s = Rename(i);
          break;
        default:
          s = Create(i);
          break;
      }
    }
  } else if (record::IsDataKind(op.kind)) {
    s = ApplyData(i, how, seed);
  } else if (record::IsMetaKind(op.kind)) {
    s = ApplyMeta(i);
  }
  if (s.ok()) applied_[i] = true;
  return s;
}

Status Applier::ApplyData(uint32_t i, const Applied& how, uint64_t seed) {
  const Op& op = log_->ops[i];
  const ObjectId obj = history_->at(i).obj;
  const auto path = PathOfObject(obj);
  if (!path) return Status::Ok();  // out of reach: the data is lost with the object
  FAULTFS_RETURN_IF_ERROR(Touching(*path));
  auto fd = FileToWrite(obj, *path, i);
  if (!fd.ok()) return fd.status();
  int rc = 0;
  if (op.kind == OpKind::kWrite) {
    const std::string piece = PieceOf(op, how, seed);
    const uint64_t at = op.offset + std::min<uint64_t>(how.begin, op.data.size());
    const ssize_t n = pwrite(*fd, piece.data(), piece.size(), static_cast<off_t>(at));
    if (n != static_cast<ssize_t>(piece.size()))
      return Failed(n < 0 ? errno : EIO, i, "writing '" + *path + "'");
  } else if (op.kind == OpKind::kTruncate) {
    rc = ftruncate(*fd, static_cast<off_t>(op.offset));
  } else {
    rc = fallocate(*fd, static_cast<int>(op.flags), static_cast<off_t>(op.offset),
                   static_cast<off_t>(op.length));
  }
  return rc == 0 ? Status::Ok() : Failed(errno, i, "changing '" + *path + "'");
}

Result<int> Applier::FileToWrite(ObjectId obj, const std::string& path, uint32_t i) {
  // A descriptor kept from an earlier op is the object's file still: the object has a name in
  // reach (the caller checked), names never move an object to another inode, and no builder
  // shares a file that went through BeforeChange once.
  if (const auto it = file_fds_.find(obj); it != file_fds_.end()) return it->second.get();
  FAULTFS_RETURN_IF_ERROR(Changing(path));
  UniqueFd fd(OpenBeneath(root_.get(), path, O_WRONLY | O_NOFOLLOW));
  if (!fd) return Failed(errno, i, "opening '" + path + "'");
  if (file_fds_.size() >= kMaxFileFds) file_fds_.clear();
  return file_fds_.emplace(obj, std::move(fd)).first->second.get();
}

// Metadata ops apply their outcome: an extended attribute is set to the recorded value or
// removed, whatever XATTR_CREATE or XATTR_REPLACE said (a state may lack an earlier change that
// made the recorded call succeed).
Status Applier::ApplyMeta(uint32_t i) {
  const Op& op = log_->ops[i];
  const ObjectId obj = history_->at(i).obj;
  const auto path = PathOfObject(obj);
  if (!path) return Status::Ok();  // out of reach
  FAULTFS_RETURN_IF_ERROR(Touching(*path));
  FAULTFS_RETURN_IF_ERROR(Changing(*path));
  if (obj == kRootObject) return RootMeta(i);
  auto named = ReachableName(obj);
  if (!named.ok()) return named.status();
  const int fd = named->first;
  const std::string& name = named->second;
  int rc = 0;
  switch (op.kind) {
    case OpKind::kChmod:
      rc = fchmodat(fd, name.c_str(), op.mode & 07777, AT_SYMLINK_NOFOLLOW);
      break;
    case OpKind::kChown:
      rc = fchownat(fd, name.c_str(), op.uid, op.gid, AT_SYMLINK_NOFOLLOW);
      break;
    case OpKind::kSetxattr:
      rc = lsetxattr(ProcPath(fd, name).c_str(), op.path2.c_str(), op.data.data(), op.data.size(),
                     0);
      break;
    default:
      rc = lremovexattr(ProcPath(fd, name).c_str(), op.path2.c_str());
      if (rc != 0 && errno == ENODATA) rc = 0;
      break;
  }
  return rc == 0 ? Status::Ok() : Failed(errno, i, "changing '" + *path + "'");
}

// The root's own mode, owner and extended attributes, through its descriptor.
Status Applier::RootMeta(uint32_t i) {
  const Op& op = log_->ops[i];
  const int fd = root_.get();
  int rc = 0;
  switch (op.kind) {
    case OpKind::kChmod:
      rc = fchmod(fd, op.mode & 07777);
      break;
    case OpKind::kChown:
      rc = fchown(fd, op.uid, op.gid);
      break;
    case OpKind::kSetxattr:
      rc = fsetxattr(fd, op.path2.c_str(), op.data.data(), op.data.size(), 0);
      break;
    default:
      rc = fremovexattr(fd, op.path2.c_str());
      if (rc != 0 && errno == ENODATA) rc = 0;
      break;
  }
  return rc == 0 ? Status::Ok() : Failed(errno, i, "changing the root directory");
}

Result<std::pair<int, std::string>> Applier::ReachableName(ObjectId obj) const {
  const auto it = names_.find(obj);
  if (it != names_.end()) {
    for (const EntryKey& e : it->second) {
      auto dir = OpenDir(e, nullptr);
      if (!dir.ok()) return dir.status();
      if (*dir >= 0) return std::make_pair(*dir, e.name);
    }
  }
  return Status::Invalid("an object out of reach has no name to use");
}

Status Applier::Persist(uint32_t i) {
  const Op& op = log_->ops[i];
  const auto path = PathOf(i);
  if (!path) return Status::Ok();  // out of reach (or synced after its last name went)
  UniqueFd fd(OpenBeneath(root_.get(), *path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK));
  if (!fd) return Failed(errno, i, "opening '" + *path + "'");
  const int rc = op.kind == OpKind::kFdatasync ? fdatasync(fd.get()) : fsync(fd.get());
  return rc == 0 ? Status::Ok() : Failed(errno, i, "syncing '" + *path + "'");
}

Status ApplyState(Applier& applier, const CrashState& state, uint64_t seed, size_t from) {
  for (size_t i = from; i < state.applied.size(); ++i) {
    const Applied& how = state.applied[i];
    if (Status s = applier.Apply(how.op, how, seed); !s.ok()) {
      applier.CloseFiles();
      return s;
    }
  }
  applier.CloseFiles();
  return Status::Ok();
}

}  // namespace faultfs::crash
