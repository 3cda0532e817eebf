// The entry ops of the applier (applier.h): create, link, remove and rename, each where its
// objects are in this directory, and the half renames of states that split them.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <string>

#include "applier.h"
#include "faultfs/core/tree_copy.h"

namespace faultfs::crash {

using record::Op;
using record::OpKind;

namespace {

constexpr uint32_t kRenameExchange = 2;  // renameat2 flags

// The recording gives the owner of each object it saw made (uid and gid; UINT32_MAX in logs
// from before it did, which leave the object to whoever applies them). `chown` runs only then.
template <typename Chown>
int OwnAsRecorded(const Op& op, Chown chown) {
  if (op.uid == UINT32_MAX && op.gid == UINT32_MAX) return 0;
  return chown();
}

int ChownAt(int dir_fd, const char* name, const Op& op) {
  return fchownat(dir_fd, name, op.uid, op.gid, AT_SYMLINK_NOFOLLOW);
}

}  // namespace

Status Applier::Create(uint32_t i) {
  const Op& op = log_->ops[i];
  const OpObjects& o = history_->at(i);
  FAULTFS_RETURN_IF_ERROR(CheckEntry(i, o.entry, kNoObject));
  std::string path;
  auto dir = OpenDir(o.entry, &path);
  if (!dir.ok()) return dir.status();
  if (*dir >= 0) {
    FAULTFS_RETURN_IF_ERROR(Touching(path));
    const int fd = *dir;
    const char* name = o.entry.name.c_str();
    const mode_t perms = op.mode & 07777;
    int rc = 0;
    switch (op.kind) {
      case OpKind::kCreate: {
        UniqueFd file(
            openat(fd, name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, perms));
        // Owned as recorded before the mode is set: a chown clears set-id bits.
        rc = file ? OwnAsRecorded(op, [&] { return fchown(file.get(), op.uid, op.gid); }) : -1;
        if (rc == 0) rc = fchmod(file.get(), perms);
        // Its data ops write through this descriptor: a file created here is the state's own.
        if (rc == 0 && file_fds_.size() < kMaxFileFds) file_fds_[o.obj] = std::move(file);
        break;
      }
      case OpKind::kMknod:
        rc = mknodat(fd, name, op.mode, static_cast<dev_t>(op.offset));
        if (rc == 0) rc = OwnAsRecorded(op, [&] { return ChownAt(fd, name, op); });
        if (rc == 0) rc = fchmodat(fd, name, perms, AT_SYMLINK_NOFOLLOW);
        break;
      case OpKind::kMkdir:
        rc = mkdirat(fd, name, perms);
        if (rc == 0) rc = OwnAsRecorded(op, [&] { return ChownAt(fd, name, op); });
        if (rc == 0) rc = fchmodat(fd, name, perms, AT_SYMLINK_NOFOLLOW);
        break;
      default:
        rc = symlinkat(op.data.c_str(), fd, name);
        if (rc == 0) rc = OwnAsRecorded(op, [&] { return ChownAt(fd, name, op); });
        break;
    }
    if (rc != 0) return Failed(errno, i, "creating '" + path + "'");
  }
  Name(o.obj, o.entry);
  return Status::Ok();
}

Status Applier::Link(uint32_t i) {
  const OpObjects& o = history_->at(i);
  FAULTFS_RETURN_IF_ERROR(CheckEntry(i, o.entry2, kNoObject));
  const auto from = PathOfObject(o.obj);
  if (!from) return Inconsistent(i, "links an object out of reach");
  std::string path;
  auto dir = OpenDir(o.entry2, &path);
  if (!dir.ok()) return dir.status();
  if (*dir >= 0) {
    FAULTFS_RETURN_IF_ERROR(Touching(*from));
    FAULTFS_RETURN_IF_ERROR(Touching(path));
    FAULTFS_RETURN_IF_ERROR(Changing(*from));
    auto source = ReachableName(o.obj);
    if (!source.ok()) return source.status();
    if (linkat(source->first, source->second.c_str(), *dir, o.entry2.name.c_str(), 0) != 0)
      return Failed(errno, i, "linking '" + *from + "' to '" + path + "'");
  }
  Name(o.obj, o.entry2);
  return Status::Ok();
}

Status Applier::Remove(uint32_t i) {
  const Op& op = log_->ops[i];
  const OpObjects& o = history_->at(i);
  FAULTFS_RETURN_IF_ERROR(CheckEntry(i, o.entry, o.obj));
  std::string path;
  auto dir = OpenDir(o.entry, &path);
  if (!dir.ok()) return dir.status();
  if (*dir >= 0) {
    FAULTFS_RETURN_IF_ERROR(Touching(path));
    auto taken = TakenAway(path);
    if (!taken.ok()) return taken.status();
    if (op.kind == OpKind::kRmdir) dir_fds_.erase(o.obj);
    if (!*taken &&
        unlinkat(*dir, o.entry.name.c_str(), op.kind == OpKind::kRmdir ? AT_REMOVEDIR : 0) != 0)
      return Failed(errno, i, "removing '" + path + "'");
  }
  Unname(o.entry);
  return Status::Ok();
}

Status Applier::Rename(uint32_t i) {
  const Op& op = log_->ops[i];
  const OpObjects& o = history_->at(i);
  const bool exchange = (op.flags & kRenameExchange) != 0;
  FAULTFS_RETURN_IF_ERROR(CheckEntry(i, o.entry, o.obj));
  FAULTFS_RETURN_IF_ERROR(CheckEntry(i, o.entry2, o.replaced));
  std::string from, to;
  auto from_dir = OpenDir(o.entry, &from);
  if (!from_dir.ok()) return from_dir.status();
  auto to_dir = OpenDir(o.entry2, &to);
  if (!to_dir.ok()) return to_dir.status();
  if (*from_dir < 0 || (exchange && *to_dir < 0))
    return Inconsistent(i, "moves an object out of reach");
  FAULTFS_RETURN_IF_ERROR(Touching(from));
  if (*to_dir >= 0) FAULTFS_RETURN_IF_ERROR(Touching(to));
  if (*to_dir < 0) {
    FAULTFS_RETURN_IF_ERROR(MoveOutOfReach(i, *from_dir, from));
  } else if (o.replaced != o.obj) {
    bool taken = false;  // the replaced object is gone already
    if (!exchange && o.replaced != kNoObject) {
      auto t = TakenAway(to);
      if (!t.ok()) return t.status();
      taken = *t;
    }
    const char* name = o.entry.name.c_str();
    const char* name2 = o.entry2.name.c_str();
    struct stat src {
    }, dst{};
    // In a crash state only the outcome matters: a file the rename replaces is unlinked first,
    // because ext4 writes back the source's data when a rename replaces a file (auto_da_alloc),
    // which costs more than building the rest of the state.
    if (!taken && !replay_ && op.flags == 0 && o.replaced != kNoObject &&
        fstatat(*from_dir, name, &src, AT_SYMLINK_NOFOLLOW) == 0 &&
        fstatat(*to_dir, name2, &dst, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(src.st_mode) &&
        S_ISREG(dst.st_mode)) {
      (void)unlinkat(*to_dir, name2, 0);
    }
    if (o.replaced != kNoObject) dir_fds_.erase(o.replaced);  // a directory it replaces is gone
    if (renameat2(*from_dir, name, *to_dir, name2, op.flags) != 0)
      return Failed(errno, i, "renaming '" + from + "' to '" + to + "'");
  }
  if (exchange) {
    Unname(o.entry);
    Unname(o.entry2);
    Name(o.obj, o.entry2);
    Name(o.replaced, o.entry);
  } else if (o.replaced != o.obj) {
    Unname(o.entry2);
    Unname(o.entry);
    Name(o.obj, o.entry2);
  }
  return Status::Ok();
}

// A rename into a directory that is out of reach: the object leaves the state's tree.
Status Applier::MoveOutOfReach(uint32_t i, int from_dir, const std::string& from) {
  const OpObjects& o = history_->at(i);
  struct stat st {};
  if (fstatat(from_dir, o.entry.name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0)
    return Failed(errno, i, "finding '" + from + "'");
  auto taken = TakenAway(from);
  if (!taken.ok()) return taken.status();
  Status s;
  if (*taken) {
    // gone already
  } else if (S_ISDIR(st.st_mode)) {
    s = RemoveTree("/proc/self/fd/" + std::to_string(from_dir) + "/" + o.entry.name);
  } else if (unlinkat(from_dir, o.entry.name.c_str(), 0) != 0) {
    s = Failed(errno, i, "removing '" + from + "'");
  }
  dir_fds_.clear();  // `from_dir` may be one; directories under the object went too
  return s;
}

// Half of a rename that was not atomic: the destination's old object is gone, the source has not
// moved yet.
Status Applier::UnlinkTarget(uint32_t i) {
  FAULTFS_RETURN_IF_ERROR(CheckNeeds(i));
  const OpObjects& o = history_->at(i);
  FAULTFS_RETURN_IF_ERROR(CheckEntry(i, o.entry2, o.replaced));
  if (o.replaced == kNoObject || o.replaced == o.obj) return Status::Ok();  // nothing to remove
  std::string path;
  auto dir = OpenDir(o.entry2, &path);
  if (!dir.ok()) return dir.status();
  if (*dir >= 0) {
    FAULTFS_RETURN_IF_ERROR(Touching(path));
    struct stat st {};
    if (fstatat(*dir, o.entry2.name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0)
      return Failed(errno, i, "finding '" + path + "'");
    auto taken = TakenAway(path);
    if (!taken.ok()) return taken.status();
    dir_fds_.erase(o.replaced);
    if (!*taken &&
        unlinkat(*dir, o.entry2.name.c_str(), S_ISDIR(st.st_mode) ? AT_REMOVEDIR : 0) != 0)
      return Failed(errno, i, "removing '" + path + "'");
  }
  Unname(o.entry2);
  return Status::Ok();
}

}  // namespace faultfs::crash
