#include "applier.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "faultfs/core/random.h"

namespace faultfs::crash {

using record::Op;
using record::OpKind;

namespace {

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

bool IsPrefix(const std::string& dir, const std::string& path) {
  return path.size() > dir.size() && path.compare(0, dir.size(), dir) == 0 &&
         path[dir.size()] == '/';
}

}  // namespace

Result<Applier> Applier::Open(const std::string& dir, const record::ReadLog& log, bool strict) {
  auto a = OpenRoot(dir, strict);
  if (!a.ok()) return a;
  for (const auto& [ino, name] : log.header.inodes) a->Named(ino, name);
  return a;
}

Result<Applier> Applier::Fork(const std::string& dir) const {
  auto a = OpenRoot(dir, strict_);
  if (!a.ok()) return a;
  a->ino_of_ = ino_of_;
  a->names_ = names_;
  return a;
}

Result<Applier> Applier::OpenRoot(const std::string& dir, bool strict) {
  UniqueFd root(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!root) return Status::FromErrno(errno, "opening '" + dir + "'");
  Applier a(std::move(root), strict);
  char real[PATH_MAX];
  if (realpath(dir.c_str(), real) == nullptr)
    return Status::FromErrno(errno, "resolving '" + dir + "'");
  a.root_path_ = real;
  return a;
}

std::string Applier::AbsPath(const std::string& rel) const {
  return rel.empty() ? root_path_ : root_path_ + "/" + rel;
}

void Applier::Named(uint64_t ino, const std::string& path) {
  Unnamed(path);
  ino_of_[path] = ino;
  names_[ino].insert(path);
}

void Applier::Unnamed(const std::string& path) {
  auto it = ino_of_.find(path);
  if (it == ino_of_.end()) return;
  names_[it->second].erase(path);
  ino_of_.erase(it);
}

void Applier::Moved(const std::string& from, const std::string& to) {
  // The object and, for a directory, everything under it.
  std::vector<std::pair<std::string, uint64_t>> moved;
  for (auto it = ino_of_.lower_bound(from); it != ino_of_.end(); ++it) {
    if (it->first != from && !IsPrefix(from, it->first)) {
      if (it->first.compare(0, from.size(), from) != 0)
        break;  // past every name starting with `from`
      continue;
    }
    moved.emplace_back(it->first, it->second);
  }
  for (const auto& [name, ino] : moved) Unnamed(name);
  for (const auto& [name, ino] : moved) Named(ino, to + name.substr(from.size()));
}

std::optional<std::string> Applier::PathOf(const Op& op) const {
  auto it = names_.find(op.ino);
  if (op.ino == 0 || it == names_.end()) return op.path;
  if (it->second.empty()) return std::nullopt;
  // Prefer the name the op used, when the inode still has it.
  return it->second.count(op.path) != 0 ? op.path : *it->second.begin();
}

Status Applier::Changing(const std::string& path, bool follow) {
  return hooks_ != nullptr ? hooks_->BeforeChange(path, follow) : Status::Ok();
}

Status Applier::Removing(const std::string& path) {
  return hooks_ != nullptr ? hooks_->BeforeRemove(path) : Status::Ok();
}

Status Applier::Removed() { return hooks_ != nullptr ? hooks_->AfterRemove() : Status::Ok(); }

Status Applier::Failed(int err, const Op& op, const char* what) const {
  const bool missing = err == ENOENT || err == ENOTDIR || err == EEXIST || err == ENOTEMPTY;
  if (!strict_ && missing) return Status::Ok();  // its target did not survive in this state
  return Status::FromErrno(err, std::string(what) + " of op " + std::to_string(op.seq) + " (" +
                                    std::string(record::OpKindName(op.kind)) + " " + op.path + ")");
}

Status Applier::Apply(const Op& op, const Applied& how, uint64_t seed) {
  if (op.kind == OpKind::kRename && how.part == Applied::Part::kUnlinkTarget)
    return UnlinkTarget(op);
  if (record::IsEntryKind(op.kind)) return ApplyEntry(op);
  switch (op.kind) {
    case OpKind::kWrite:
    case OpKind::kTruncate:
    case OpKind::kFallocate:
      return ApplyData(op, how, seed);
    case OpKind::kChmod:
    case OpKind::kChown:
    case OpKind::kSetxattr:
    case OpKind::kRemovexattr:
      return ApplyMeta(op);
    default:
      return Status::Ok();  // persistence points and markers change no data
  }
}

Status Applier::ApplyEntry(const Op& op) {
  const int dir = root_.get();
  const char* path = op.path.c_str();
  int rc = 0;
  switch (op.kind) {
    case OpKind::kCreate: {
      UniqueFd fd(
          openat(dir, path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, op.mode & 07777));
      rc = fd ? fchmod(fd.get(), op.mode & 07777) : -1;
      break;
    }
    case OpKind::kMknod:
      rc = mknodat(dir, path, op.mode, static_cast<dev_t>(op.offset));
      break;
    case OpKind::kMkdir:
      rc = mkdirat(dir, path, op.mode & 07777);
      if (rc == 0) rc = fchmodat(dir, path, op.mode & 07777, 0);
      break;
    case OpKind::kSymlink:
      rc = symlinkat(op.data.c_str(), dir, path);
      break;
    case OpKind::kLink: {
      const auto from = PathOf(op);
      if (!from) return Failed(ENOENT, op, "link");
      FAULTFS_RETURN_IF_ERROR(Changing(*from, false));
      rc = linkat(dir, from->c_str(), dir, op.path2.c_str(), 0);
      if (rc == 0) Named(op.ino, op.path2);
      return rc == 0 ? Status::Ok() : Failed(errno, op, "link");
    }
    case OpKind::kUnlink:
    case OpKind::kRmdir: {
      FAULTFS_RETURN_IF_ERROR(Removing(op.path));
      rc = unlinkat(dir, path, op.kind == OpKind::kRmdir ? AT_REMOVEDIR : 0);
      const int err = rc == 0 ? 0 : errno;
      FAULTFS_RETURN_IF_ERROR(Removed());
      if (rc == 0) Unnamed(op.path);
      return rc == 0 ? Status::Ok() : Failed(err, op, "unlink");
    }
    case OpKind::kRename:
      return Rename(op);
    default:
      break;
  }
  if (rc != 0) return Failed(errno, op, "creating");
  Named(op.ino, op.path);
  return Status::Ok();
}

Status Applier::Rename(const Op& op) {
  // An exchange removes no name; any other rename may replace its destination.
  const bool exchange = (op.flags & RENAME_EXCHANGE) != 0;
  if (!exchange) FAULTFS_RETURN_IF_ERROR(Removing(op.path2));
  if (!strict_ && op.flags == 0) ClearRenameTarget(op);
  const int rc = renameat2(root_.get(), op.path.c_str(), root_.get(), op.path2.c_str(), op.flags);
  const int err = rc == 0 ? 0 : errno;
  if (!exchange) FAULTFS_RETURN_IF_ERROR(Removed());
  if (rc != 0) return Failed(err, op, "rename");
  if (exchange) {
    const std::string parked = "\x01exchange";  // a name no path can have
    Moved(op.path, parked);
    Moved(op.path2, op.path);
    Moved(parked, op.path2);
    return Status::Ok();
  }
  // The replaced object, and what was under it, lose their names.
  std::vector<std::string> replaced;
  for (const auto& [name, ino] : ino_of_) {
    if (name == op.path2 || IsPrefix(op.path2, name)) replaced.push_back(name);
  }
  for (const auto& name : replaced) Unnamed(name);
  Moved(op.path, op.path2);
  return Status::Ok();
}

// In a crash state only a rename's outcome matters, not its atomicity: a file it would replace
// is unlinked first, because ext4 writes back the source's data when a rename replaces a file
// (auto_da_alloc), which costs more than the rest of building a state.
void Applier::ClearRenameTarget(const Op& op) {
  struct stat from {
  }, to{};
  if (fstatat(root_.get(), op.path.c_str(), &from, AT_SYMLINK_NOFOLLOW) != 0 ||
      fstatat(root_.get(), op.path2.c_str(), &to, AT_SYMLINK_NOFOLLOW) != 0) {
    return;
  }
  // Two names of one file: the rename changes nothing.
  if (from.st_ino == to.st_ino && from.st_dev == to.st_dev) return;
  if (S_ISREG(from.st_mode) && S_ISREG(to.st_mode))
    (void)unlinkat(root_.get(), op.path2.c_str(), 0);
}

Status Applier::UnlinkTarget(const Op& op) {
  struct stat st {};
  if (fstatat(root_.get(), op.path2.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0)
    return Failed(errno, op, "half rename");
  FAULTFS_RETURN_IF_ERROR(Removing(op.path2));
  const int rc = unlinkat(root_.get(), op.path2.c_str(), S_ISDIR(st.st_mode) ? AT_REMOVEDIR : 0);
  const int err = rc == 0 ? 0 : errno;
  FAULTFS_RETURN_IF_ERROR(Removed());
  if (rc != 0) return Failed(err, op, "half rename");
  Unnamed(op.path2);
  return Status::Ok();
}

Status Applier::ApplyData(const Op& op, const Applied& how, uint64_t seed) {
  const auto path = PathOf(op);
  if (!path) return strict_ ? Failed(ENOENT, op, "opening") : Status::Ok();  // no name left
  FAULTFS_RETURN_IF_ERROR(Changing(*path, false));
  UniqueFd fd(openat(root_.get(), path->c_str(), O_WRONLY | O_CLOEXEC | O_NOFOLLOW));
  if (!fd) return Failed(errno, op, "opening");
  int rc = 0;
  if (op.kind == OpKind::kWrite) {
    const std::string piece = PieceOf(op, how, seed);
    const uint64_t at = op.offset + std::min<uint64_t>(how.begin, op.data.size());
    const ssize_t n = pwrite(fd.get(), piece.data(), piece.size(), static_cast<off_t>(at));
    if (n != static_cast<ssize_t>(piece.size())) return Failed(n < 0 ? errno : EIO, op, "writing");
  } else if (op.kind == OpKind::kTruncate) {
    rc = ftruncate(fd.get(), static_cast<off_t>(op.offset));
  } else {
    rc = fallocate(fd.get(), static_cast<int>(op.flags), static_cast<off_t>(op.offset),
                   static_cast<off_t>(op.length));
  }
  return rc == 0 ? Status::Ok() : Failed(errno, op, "applying");
}

Status Applier::ApplyMeta(const Op& op) {
  const auto found = PathOf(op);
  if (!found) return strict_ ? Failed(ENOENT, op, "finding") : Status::Ok();
  const std::string& path = *found;
  const std::string abs = AbsPath(path);
  FAULTFS_RETURN_IF_ERROR(Changing(path, op.kind == OpKind::kChmod));  // only chmod follows
  int rc = 0;
  switch (op.kind) {
    case OpKind::kChmod:
      rc = fchmodat(root_.get(), path.c_str(), op.mode & 07777, 0);
      break;
    case OpKind::kChown:
      rc = fchownat(root_.get(), path.c_str(), op.uid, op.gid, AT_SYMLINK_NOFOLLOW);
      break;
    case OpKind::kSetxattr:
      rc = lsetxattr(abs.c_str(), op.path2.c_str(), op.data.data(), op.data.size(),
                     static_cast<int>(op.flags));
      break;
    default:
      rc = lremovexattr(abs.c_str(), op.path2.c_str());
      break;
  }
  return rc == 0 ? Status::Ok() : Failed(errno, op, "applying");
}

Status Applier::Persist(const Op& op) {
  const auto path = PathOf(op);
  if (!path) return Failed(ENOENT, op, "opening");
  UniqueFd fd(openat(root_.get(), path->empty() ? "." : path->c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) return Failed(errno, op, "opening");
  const int rc = op.kind == OpKind::kFdatasync ? fdatasync(fd.get()) : fsync(fd.get());
  return rc == 0 ? Status::Ok() : Failed(errno, op, "syncing");
}

}  // namespace faultfs::crash
