// Attributes: getattr, setattr (mode, owner, size, times), access, statfs.
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <cerrno>
#include <optional>
#include <string>

#include "kill_setid.h"
#include "passthrough.h"

namespace faultfs::fs {

namespace {

// The kernel passes an open file with getattr/setattr only for regular files it has open.
int OpenFdOf(const Inode& inode, const fuse_file_info* fi) {
  return (fi != nullptr && S_ISREG(inode.type())) ? HandleOf(fi).fd.get() : -1;
}

int StatInto(int open_fd, int inode_fd, struct stat* st) {
  if (open_fd >= 0) return fstat(open_fd, st);
  return fstatat(inode_fd, "", st, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW);
}

timespec TimeToSet(const struct stat& attr, int to_set, bool atime) {
  const int now_bit = atime ? FUSE_SET_ATTR_ATIME_NOW : FUSE_SET_ATTR_MTIME_NOW;
  const int set_bit = atime ? FUSE_SET_ATTR_ATIME : FUSE_SET_ATTR_MTIME;
  if (to_set & now_bit) return {0, UTIME_NOW};
  if (to_set & set_bit) return atime ? attr.st_atim : attr.st_mtim;
  return {0, UTIME_OMIT};
}

// Applies the requested changes in the order chmod, chown, truncate, utimens; returns an errno.
// `applied` gets the FUSE_SET_ATTR_* bits of the changes that took effect (a failure stops the
// sequence, and what came before it stays applied).
int ApplySetattr(int open_fd, int inode_fd, const struct stat& attr, int to_set, int* applied) {
  constexpr int kChanges = FUSE_SET_ATTR_MODE | FUSE_SET_ATTR_UID | FUSE_SET_ATTR_GID |
                           FUSE_SET_ATTR_SIZE | FUSE_SET_ATTR_ATIME | FUSE_SET_ATTR_MTIME |
                           FUSE_SET_ATTR_ATIME_NOW | FUSE_SET_ATTR_MTIME_NOW;
  // Nothing to change is chown(-1, -1) (or a bare ctime update): it still marks the change time,
  // which only the filesystem can set; a chown to no one in particular asks it to.
  if ((to_set & kChanges) == 0) {
    return fchownat(inode_fd, "", static_cast<uid_t>(-1), static_cast<gid_t>(-1),
                    AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) != 0
               ? errno
               : 0;
  }
  if (to_set & FUSE_SET_ATTR_MODE) {
    const int res = open_fd >= 0
                        ? fchmod(open_fd, attr.st_mode)
                        : fchmodat(AT_FDCWD, ProcFdPath(inode_fd).c_str(), attr.st_mode, 0);
    if (res != 0) return errno;
    *applied |= FUSE_SET_ATTR_MODE;
  }
  if (to_set & (FUSE_SET_ATTR_UID | FUSE_SET_ATTR_GID)) {
    const uid_t uid = (to_set & FUSE_SET_ATTR_UID) ? attr.st_uid : static_cast<uid_t>(-1);
    const gid_t gid = (to_set & FUSE_SET_ATTR_GID) ? attr.st_gid : static_cast<gid_t>(-1);
    if (fchownat(inode_fd, "", uid, gid, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) != 0) return errno;
    *applied |= to_set & (FUSE_SET_ATTR_UID | FUSE_SET_ATTR_GID);
  }
  if (to_set & FUSE_SET_ATTR_SIZE) {
    const int res = open_fd >= 0 ? ftruncate(open_fd, attr.st_size)
                                 : truncate(ProcFdPath(inode_fd).c_str(), attr.st_size);
    if (res != 0) return errno;
    *applied |= FUSE_SET_ATTR_SIZE;
  }
  if (to_set & (FUSE_SET_ATTR_ATIME | FUSE_SET_ATTR_MTIME)) {
    const timespec times[2] = {TimeToSet(attr, to_set, true), TimeToSet(attr, to_set, false)};
    const int res = open_fd >= 0
                        ? futimens(open_fd, times)
                        : utimensat(inode_fd, "", times, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW);
    if (res != 0) return errno;
  }
  return 0;
}

}  // namespace

void Passthrough::Getattr(Reply& r, fuse_ino_t ino, fuse_file_info* fi) {
  Inode& inode = InodeOf(ino);
  Fault f;
  if (!Admitted(r, {.op = policy::Op::kGetattr, .inode = &inode}, f)) return;
  struct stat st {};
  if (const int open_fd = OpenFdOf(inode, fi); open_fd >= 0) {  // no lease needed
    if (fstat(open_fd, &st) != 0) return (void)r.Err(errno);
    return (void)r.Attr(st, timeouts_.attr_s);
  }
  auto fd = inodes_.Fd(inode);
  if (!fd.ok()) return (void)r.Err(fd.status().code());
  if (StatInto(-1, fd->get(), &st) != 0) return (void)r.Err(errno);
  r.Attr(st, timeouts_.attr_s);
}

void Passthrough::Setattr(Reply& r, fuse_ino_t ino, struct stat* attr, int to_set,
                          fuse_file_info* fi) {
  Inode& inode = InodeOf(ino);
  const bool truncate = (to_set & FUSE_SET_ATTR_SIZE) != 0;
  Fault f;
  if (!Admitted(r,
                {.op = truncate ? policy::Op::kTruncate : policy::Op::kSetattr,
                 .inode = &inode,
                 .offset = truncate ? static_cast<uint64_t>(attr->st_size) : 0},
                f))
    return;
  auto fd = inodes_.Fd(inode);
  if (!fd.ok()) return (void)r.Err(fd.status().code());
  const int open_fd = OpenFdOf(inode, fi);
  std::optional<SpaceAccount::FileChange> change;  // a truncate frees (or a growing one allocates)
  if (SpaceAccount* space = space_.load(std::memory_order_acquire); space && truncate) {
    change.emplace(*space, inode.key(), fd->get());
  }
  Mutation m = BeginMutation();
  if (m.fenced()) return (void)r.Err(EIO);
  int applied = 0;
  const int err = ApplySetattr(open_fd, fd->get(), *attr, to_set, &applied);
  if (err == 0 && RequestKillsSetId())
    KillSetIdOf(r.req(), fd->get());  // by an unprivileged caller
  if (change) change->Settle();
  if (recording()) RecordSetattr(r.req(), inode, *attr, applied);
  m.Done();
  if (err != 0) return (void)r.Err(err);
  struct stat st {};
  if (StatInto(open_fd, fd->get(), &st) != 0) return (void)r.Err(errno);
  r.Attr(st, timeouts_.attr_s);
}

// Records what a setattr changed, in the order applied. Times are not recorded: they are not
// what crash consistency is about, and a replay could not reproduce them anyway (it runs later).
void Passthrough::RecordSetattr(fuse_req_t req, const Inode& inode, const struct stat& attr,
                                int applied) {
  const std::string path = inodes_.PathOf(inode);
  if (applied & FUSE_SET_ATTR_MODE) {
    record::Op op = NewRecord(record::OpKind::kChmod, req, &inode, path);
    op.mode = attr.st_mode & 07777;
    Record(std::move(op));
  }
  if (applied & (FUSE_SET_ATTR_UID | FUSE_SET_ATTR_GID)) {
    record::Op op = NewRecord(record::OpKind::kChown, req, &inode, path);
    if (applied & FUSE_SET_ATTR_UID) op.uid = attr.st_uid;
    if (applied & FUSE_SET_ATTR_GID) op.gid = attr.st_gid;
    Record(std::move(op));
  }
  if (applied & FUSE_SET_ATTR_SIZE) {
    record::Op op = NewRecord(record::OpKind::kTruncate, req, &inode, path);
    op.offset = static_cast<uint64_t>(attr.st_size);
    Record(std::move(op));
  }
}

void Passthrough::Access(Reply& r, fuse_ino_t ino, int mask) {
  Fault f;
  if (!Admitted(r, {.op = policy::Op::kAccess, .inode = &InodeOf(ino)}, f)) return;
  auto fd = inodes_.Fd(InodeOf(ino));
  if (!fd.ok()) return (void)r.Err(fd.status().code());
  r.Err(faccessat(AT_FDCWD, ProcFdPath(fd->get()).c_str(), mask, 0) == 0 ? 0 : errno);
}

void Passthrough::Statfs(Reply& r, fuse_ino_t ino) {
  Fault f;
  if (!Admitted(r, {.op = policy::Op::kStatfs, .inode = &InodeOf(ino)}, f)) return;
  auto fd = inodes_.Fd(InodeOf(ino));
  if (!fd.ok()) return (void)r.Err(fd.status().code());
  struct statvfs st {};
  if (fstatvfs(fd->get(), &st) != 0) return (void)r.Err(errno);
  if (const SpaceAccount* space = space_.load(std::memory_order_acquire))
    st = space->model().Report(st);
  r.Statfs(st);
}

}  // namespace faultfs::fs
