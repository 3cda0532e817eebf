// Building a crash state in place of the previous one. The previous state differs from the
// snapshot only where its ops (and its checker) changed it, so instead of moving every file of
// the snapshot out and back again, the builder walks the state once and puts back what changed:
// names that the snapshot does not have go, changed or missing ones come back from the pristine
// copy (lent) or the snapshot (copied), and directories get the snapshot's mode, owner and times
// again. Then the new state's ops are applied as usual. Whether an object changed is told by its
// stat: every change gives it a new ctime, which is why this needs a kernel whose ctimes show
// every change (CtimeShowsEveryChange); elsewhere each state is built from scratch.
//
// What it cannot put back cheaply (a directory of the snapshot that is gone, a changed file with
// several names, a directory with extended attributes that changed) makes Reset() say no, and
// the state is built from scratch.
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

#include "faultfs/core/tree_copy.h"
#include "faultfs/core/tree_read.h"
#include "state_builder_parts.h"

namespace faultfs::crash {
bool StateBuilder::CanReset(const std::string& out) const {
  if (!ctime_fine_ || !state_ || clean_.empty() || out != out_path_) return false;
  // The checker may have replaced the state directory itself.
  struct stat named {
  }, open{};
  return stat(out.c_str(), &named) == 0 && fstat(state_.get(), &open) == 0 &&
         named.st_dev == open.st_dev && named.st_ino == open.st_ino;
}

// Makes the current state a copy of the snapshot again. False: it could not, and the state must
// be built from scratch.
Result<bool> StateBuilder::Reset() {
  ++resets_;
  ForgetHash();
  const auto root = clean_.find("");
  if (root == clean_.end()) return false;
  const struct stat want = root->second;  // as mkdir made it
  auto done = ResetDir("", state_.get(), want, false);
  if (!done.ok() || !*done) {
    clean_.clear();  // whatever the walk got to, the state is no longer a known copy
    return done;
  }
  // Lent files the walk did not find at home, unchanged, were removed with whatever held them.
  // (out_ lists every lent file first, so that if a Recopy fails, Park still finds the rest.)
  out_.clear();
  for (auto& [path, f] : files_) {
    if (f->lent()) out_.push_back(f.get());
  }
  for (File* f : out_) {
    if (f->found != resets_) FAULTFS_RETURN_IF_ERROR(Recopy(*f));
  }
  ++stats_.reset;
  return true;
}

// Puts back directory `rel` (open as `fd`) and everything under it; `want` is the stat whose
// mode, owner and times it must have, `xattrs` whether the snapshot's has extended attributes.
Result<bool> StateBuilder::ResetDir(const std::string& rel, int fd, const struct stat& want,
                                    bool xattrs) {
  const auto snap = snap_.find(rel);
  if (snap == snap_.end()) return false;
  auto names = SortedNames(fd, state_path_ + "/" + rel);
  if (!names.ok()) return names.status();
  std::unordered_set<std::string_view> kept;  // the snapshot's names found in place
  for (const std::string& name : *names) {
    const std::string path = JoinPath(rel, name);
    struct stat st {};
    if (fstatat(fd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) continue;
    const auto entry = snap->second.find(name);
    if (entry != snap->second.end() && S_ISDIR(st.st_mode) && S_ISDIR(entry->second.st.st_mode)) {
      UniqueFd sub(openat(fd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
      if (!sub) return Status::FromErrno(errno, "opening '" + path + "'");
      auto done = ResetDir(path, sub.get(), entry->second.st, entry->second.xattrs);
      if (!done.ok() || !*done) return done;
      kept.insert(entry->first);
      continue;
    }
    const auto clean = clean_.find(path);
    if (entry != snap->second.end() && clean != clean_.end() && SameFile(st, clean->second)) {
      if (entry->second.file != nullptr) entry->second.file->found = resets_;
      kept.insert(entry->first);
      continue;
    }
    if (entry != snap->second.end() && S_ISREG(entry->second.st.st_mode) &&
        entry->second.file == nullptr) {
      return false;  // one of several names of a file: they are copied together, by CopyTree
    }
    FAULTFS_RETURN_IF_ERROR(RemoveEntry(fd, name.c_str(), st));
    clean_.erase(path);
  }
  if (kept.size() < snap->second.size()) {
    // Some of the snapshot's names are missing (or were just removed): they come back. (The
    // listing says which: every name not kept is gone now.)
    for (const auto& [name, entry] : snap->second) {
      if (kept.contains(name)) continue;
      auto restored = Restore(fd, JoinPath(rel, name), name.c_str(), entry);
      if (!restored.ok() || !*restored) return restored;
    }
  }
  return FixDir(fd, rel, want, xattrs);
}

// Removes an object the snapshot does not have there. A lent file that is still as the state's
// hash saw it (an op renamed it) goes home instead.
Status StateBuilder::RemoveEntry(int dir, const char* name, const struct stat& st) {
  if (S_ISREG(st.st_mode) && st.st_dev == dev_) {
    const auto it = by_ino_.find(st.st_ino);
    if (it != by_ino_.end()) {
      File& f = *it->second;
      if (f.lent() && f.seen && SameFile(st, f.seen_st) &&
          renameat(dir, name, pristine_.get(), f.home.c_str()) == 0) {
        f.where = File::Where::kHome;
        return Status::Ok();
      }
    }
  }
  if (S_ISDIR(st.st_mode)) {
    UniqueFd sub(openat(dir, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!sub) return Status::FromErrno(errno, std::string("opening '") + name + "'");
    auto names = SortedNames(sub.get(), name);
    if (!names.ok()) return names.status();
    for (const std::string& n : *names) {
      struct stat sub_st {};
      if (fstatat(sub.get(), n.c_str(), &sub_st, AT_SYMLINK_NOFOLLOW) != 0) continue;
      FAULTFS_RETURN_IF_ERROR(RemoveEntry(sub.get(), n.c_str(), sub_st));
    }
  }
  if (unlinkat(dir, name, S_ISDIR(st.st_mode) ? AT_REMOVEDIR : 0) != 0 && errno != ENOENT)
    return Status::FromErrno(errno, std::string("removing '") + name + "' from a state");
  return Status::Ok();
}

// Puts the snapshot's object `path` (`name` in directory `dir`) back in the state.
Result<bool> StateBuilder::Restore(int dir, const std::string& path, const char* name,
                                   const SnapEntry& entry) {
  // A whole tree, or one of several names of a file (CopyTree copies those together): left to a
  // build from scratch.
  if (S_ISDIR(entry.st.st_mode) || (S_ISREG(entry.st.st_mode) && entry.file == nullptr))
    return false;
  if (entry.file != nullptr) {
    File& f = *entry.file;
    if (f.lent()) FAULTFS_RETURN_IF_ERROR(Recopy(f));  // not where it was lent: copied again
    auto lent = Lend(f.home, dir, name);
    if (!lent.ok()) return lent.status();
    if (*lent) {
      f.found = resets_;
    } else {
      FAULTFS_RETURN_IF_ERROR(CopyEntry(base(), path, state_.get(), path));
    }
  } else {
    FAULTFS_RETURN_IF_ERROR(CopyEntry(base(), path, state_.get(), path));
  }
  struct stat st {};
  if (fstatat(dir, name, &st, AT_SYMLINK_NOFOLLOW) != 0)
    return Status::FromErrno(errno, "stat of restored '" + path + "'");
  clean_[path] = st;
  if (entry.file != nullptr && entry.file->lent()) {
    // As it is now, it is intact: if the reset goes no further, Park finds it so (not seen,
    // it would be copied again).
    File& f = *entry.file;
    f.seen = true;
    f.seen_path = path;
    f.seen_st = st;
  }
  return true;
}

// Gives directory `rel` the mode, owner and times of `want`, unless it has them already.
Result<bool> StateBuilder::FixDir(int fd, const std::string& rel, const struct stat& want,
                                  bool xattrs) {
  struct stat st {};
  if (fstat(fd, &st) != 0) return Status::FromErrno(errno, "stat of '" + rel + "'");
  const auto clean = clean_.find(rel);
  if (clean != clean_.end() && SameFile(st, clean->second)) return true;
  // Something in it changed, or the directory itself did: mode, owner, times, or xattrs.
  if (xattrs || flistxattr(fd, nullptr, 0) > 0) return false;
  if ((st.st_mode & 07777) != (want.st_mode & 07777) && fchmod(fd, want.st_mode & 07777) != 0)
    return Status::FromErrno(errno, "chmod of '" + rel + "'");
  if ((st.st_uid != want.st_uid || st.st_gid != want.st_gid) &&
      fchown(fd, want.st_uid, want.st_gid) != 0) {
    return Status::FromErrno(errno, "chown of '" + rel + "'");
  }
  const timespec times[2] = {want.st_atim, want.st_mtim};
  if (futimens(fd, times) != 0) return Status::FromErrno(errno, "utimens of '" + rel + "'");
  if (fstat(fd, &st) != 0) return Status::FromErrno(errno, "stat of '" + rel + "'");
  clean_[rel] = st;
  return true;
}

// Notes every object of a state just copied from the snapshot, as it is now.
Status StateBuilder::RecordClean() {
  clean_.clear();
  struct stat root {};
  if (fstat(state_.get(), &root) != 0) return Status::FromErrno(errno, "stat of the state");
  clean_[""] = root;
  return WalkTree(state_.get(), [this](const std::string&, const std::string&,
                                       const std::string& path, const struct stat& st) {
    clean_[path] = st;
    return Status::Ok();
  });
}

Status WalkTree(int root, const TreeVisitor& visit) {
  std::vector<std::string> dirs = {""};
  while (!dirs.empty()) {
    const std::string dir = std::move(dirs.back());
    dirs.pop_back();
    UniqueFd fd(openat(root, dir.empty() ? "." : dir.c_str(),
                       O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!fd) return Status::FromErrno(errno, "opening '" + dir + "'");
    auto names = SortedNames(fd.get(), dir);
    if (!names.ok()) return names.status();
    for (const std::string& name : *names) {
      struct stat st {};
      const std::string path = JoinPath(dir, name);
      if (fstatat(fd.get(), name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0)
        return Status::FromErrno(errno, "stat of '" + path + "'");
      FAULTFS_RETURN_IF_ERROR(visit(dir, name, path, st));
      if (S_ISDIR(st.st_mode)) dirs.push_back(path);
    }
  }
  return Status::Ok();
}

}  // namespace faultfs::crash
