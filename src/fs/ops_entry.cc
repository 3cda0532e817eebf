// Names: lookup/forget and every op that creates, links, renames or removes a directory entry.
#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstdio>
#include <optional>

#include "passthrough.h"

namespace faultfs::fs {

using policy::Op;

ProcFdPath::ProcFdPath(int fd) { std::snprintf(buf_, sizeof(buf_), "/proc/self/fd/%d", fd); }

namespace {

// The object named `name` in `dir_fd`, if any.
std::optional<InodeKey> KeyAt(int dir_fd, const char* name) {
  struct stat st {};
  if (fstatat(dir_fd, name, &st, AT_SYMLINK_NOFOLLOW) != 0) return std::nullopt;
  return InodeKey{st.st_ino, st.st_dev};
}

}  // namespace

Inode& Passthrough::InodeOf(fuse_ino_t ino) {
  if (ino == FUSE_ROOT_ID) return inodes_.root();
  return *reinterpret_cast<Inode*>(ino);
}

fuse_ino_t Passthrough::FuseIno(Inode& inode) {
  if (&inode == &inodes_.root()) return FUSE_ROOT_ID;
  return reinterpret_cast<fuse_ino_t>(&inode);
}

Result<fuse_entry_param> Passthrough::MakeEntry(const Inode& parent, int parent_fd,
                                                const char* name) {
  UniqueFd fd(openat(parent_fd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC));
  if (!fd) return Status::FromErrno(errno, "lookup");
  fuse_entry_param e{};
  if (fstatat(fd.get(), "", &e.attr, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) != 0) {
    return Status::FromErrno(errno, "lookup stat");
  }
  Inode& inode = inodes_.Ref(e.attr, std::move(fd));
  inodes_.SetName(inode, parent, name);
  e.ino = FuseIno(inode);
  e.attr_timeout = timeouts_.attr_s;
  e.entry_timeout = timeouts_.entry_s;
  return e;
}

void Passthrough::SendEntry(Reply& r, const fuse_entry_param& e) {
  if (r.Entry(e) != 0) Forget(e.ino, 1);  // interrupted: the kernel never counted this lookup
}

void Passthrough::ReplyNewEntry(Reply& r, const Inode& parent, int parent_fd, const char* name) {
  auto e = MakeEntry(parent, parent_fd, name);
  if (!e.ok()) return (void)r.Err(e.status().code());
  SendEntry(r, *e);
}

void Passthrough::Lookup(Reply& r, fuse_ino_t parent, const char* name) {
  Inode& dir = InodeOf(parent);
  Fault f;
  if (!Admitted(r, {.op = Op::kLookup, .parent = &dir, .name = name}, f)) return;
  auto pfd = inodes_.Fd(dir);
  if (!pfd.ok()) return (void)r.Err(pfd.status().code());
  auto e = MakeEntry(dir, pfd->get(), name);
  if (e.ok()) return SendEntry(r, *e);
  if (e.status().code() == ENOENT && timeouts_.negative_s > 0) {
    fuse_entry_param negative{};  // ino 0: the kernel caches "no such name" for entry_timeout
    negative.entry_timeout = timeouts_.negative_s;
    return (void)r.Entry(negative);
  }
  r.Err(e.status().code());
}

void Passthrough::Forget(fuse_ino_t ino, uint64_t nlookup) { inodes_.Unref(InodeOf(ino), nlookup); }

void Passthrough::NewEntry(Reply& r, Op op, Inode& parent, const char* name, record::OpKind kind,
                           const std::function<int(int parent_fd)>& make,
                           const std::function<void(record::Op&)>& fill) {
  auto pfd = inodes_.Fd(parent);
  if (!pfd.ok()) return (void)r.Err(pfd.status().code());
  SpaceAccount::InodeClaim inode(space_.load(std::memory_order_acquire));
  if (!inode.granted())
    return (void)r.Err(
        gate_.CapacityRefusal(r.req(), {.op = op, .parent = &parent, .name = name}, inode.err()));
  Mutation m = BeginMutation();
  if (m.fenced()) return (void)r.Err(EIO);
  if (const int err = AsCallerOf(r.req(), [&] { return make(pfd->get()); }))
    return (void)r.Err(err);
  inode.Keep();
  if (recording()) {
    record::Op rec = NewRecordAt(kind, r.req(), parent, pfd->get(), name);
    fill(rec);
    Record(std::move(rec));
  }
  m.Done();  // recorded: no lock is held across the reply
  ReplyNewEntry(r, parent, pfd->get(), name);
}

void Passthrough::Mknod(Reply& r, fuse_ino_t parent, const char* name, mode_t mode, dev_t rdev) {
  Fault f;
  if (!Admitted(r, {.op = Op::kMknod, .parent = &InodeOf(parent), .name = name, .mode = mode}, f))
    return;
  NewEntry(
      r, Op::kMknod, InodeOf(parent), name, record::OpKind::kMknod,
      [&](int dir) { return mknodat(dir, name, mode, rdev); },
      [&](record::Op& rec) {
        rec.mode = mode;
        rec.offset = rdev;
      });
}

void Passthrough::Mkdir(Reply& r, fuse_ino_t parent, const char* name, mode_t mode) {
  Fault f;
  if (!Admitted(
          r, {.op = Op::kMkdir, .parent = &InodeOf(parent), .name = name, .mode = S_IFDIR | mode},
          f))
    return;
  NewEntry(
      r, Op::kMkdir, InodeOf(parent), name, record::OpKind::kMkdir,
      [&](int dir) { return mkdirat(dir, name, mode); },
      [&](record::Op& rec) { rec.mode = mode & 07777; });
}

void Passthrough::Symlink(Reply& r, const char* target, fuse_ino_t parent, const char* name) {
  Fault f;
  if (!Admitted(r, {.op = Op::kSymlink, .parent = &InodeOf(parent), .name = name, .mode = S_IFLNK},
                f))
    return;
  NewEntry(
      r, Op::kSymlink, InodeOf(parent), name, record::OpKind::kSymlink,
      [&](int dir) { return symlinkat(target, dir, name); },
      [&](record::Op& rec) { rec.data = target; });
}

void Passthrough::Link(Reply& r, fuse_ino_t ino, fuse_ino_t new_parent, const char* new_name) {
  Fault f;
  if (!Admitted(r,
                {.op = Op::kLink,
                 .inode = &InodeOf(ino),
                 .parent2 = &InodeOf(new_parent),
                 .name2 = new_name},
                f))
    return;
  auto fd = inodes_.Fd(InodeOf(ino));
  if (!fd.ok()) return (void)r.Err(fd.status().code());
  Inode& dir = InodeOf(new_parent);
  auto pfd = inodes_.Fd(dir);
  if (!pfd.ok()) return (void)r.Err(pfd.status().code());
  // AT_EMPTY_PATH links the inode itself (the daemon has CAP_DAC_READ_SEARCH as root).
  Mutation m = BeginMutation();
  if (m.fenced()) return (void)r.Err(EIO);
  if (const int err = AsCallerOf(
          r.req(), [&] { return linkat(fd->get(), "", pfd->get(), new_name, AT_EMPTY_PATH); })) {
    return (void)r.Err(err);
  }
  if (recording()) {
    record::Op op =
        NewRecord(record::OpKind::kLink, r.req(), &InodeOf(ino), inodes_.PathOf(InodeOf(ino)));
    op.path2 = inodes_.PathOf(nullptr, &dir, new_name);
    Record(std::move(op));
  }
  m.Done();  // recorded: no lock is held across the reply
  auto e = MakeEntry(dir, pfd->get(), new_name);
  if (!e.ok()) return (void)r.Err(e.status().code());
  SendEntry(r, *e);
}

int Passthrough::RemoveName(fuse_req_t req, const Inode& dir, int dir_fd, const char* name,
                            int flags) {
  std::optional<SpaceAccount::Removal> removal;
  if (SpaceAccount* space = space_.load(std::memory_order_acquire))
    removal.emplace(*space, dir_fd, name);
  Mutation m = BeginMutation();
  if (m.fenced()) return EIO;
  // Named before the removal: afterwards the entry (and perhaps the object) is gone.
  std::optional<record::Op> op;
  if (recording()) {
    const auto kind =
        (flags & AT_REMOVEDIR) != 0 ? record::OpKind::kRmdir : record::OpKind::kUnlink;
    op = NewRecordAt(kind, req, dir, dir_fd, name);
  }
  const std::optional<InodeKey> victim =
      (flags & AT_REMOVEDIR) != 0 ? std::nullopt : KeyAt(dir_fd, name);
  if (unlinkat(dir_fd, name, flags) != 0) return errno;
  if (removal) removal->Removed();
  if (op) Record(std::move(*op));
  if (victim) inodes_.Unlinked(*victim);  // before the reply: its blocks are free when it returns
  return 0;
}

void Passthrough::Unlink(Reply& r, fuse_ino_t parent, const char* name) {
  Fault f;
  if (!Admitted(r, {.op = Op::kUnlink, .parent = &InodeOf(parent), .name = name}, f)) return;
  auto pfd = inodes_.Fd(InodeOf(parent));
  if (!pfd.ok()) return (void)r.Err(pfd.status().code());
  r.Err(RemoveName(r.req(), InodeOf(parent), pfd->get(), name, 0));
}

void Passthrough::Rmdir(Reply& r, fuse_ino_t parent, const char* name) {
  Fault f;
  if (!Admitted(r, {.op = Op::kRmdir, .parent = &InodeOf(parent), .name = name, .mode = S_IFDIR},
                f))
    return;
  auto pfd = inodes_.Fd(InodeOf(parent));
  if (!pfd.ok()) return (void)r.Err(pfd.status().code());
  r.Err(RemoveName(r.req(), InodeOf(parent), pfd->get(), name, AT_REMOVEDIR));
}

void Passthrough::Rename(Reply& r, fuse_ino_t parent, const char* name, fuse_ino_t new_parent,
                         const char* new_name, unsigned int flags) {
  Fault f;
  if (!Admitted(r,
                {.op = Op::kRename,
                 .parent = &InodeOf(parent),
                 .name = name,
                 .parent2 = &InodeOf(new_parent),
                 .name2 = new_name},
                f))
    return;
  auto pfd = inodes_.Fd(InodeOf(parent));
  if (!pfd.ok()) return (void)r.Err(pfd.status().code());
  auto npfd = inodes_.Fd(InodeOf(new_parent));
  if (!npfd.ok()) return (void)r.Err(npfd.status().code());
  std::optional<SpaceAccount::Removal> replaced;  // the object a rename replaces, if any
  if (SpaceAccount* space = space_.load(std::memory_order_acquire);
      space && !(flags & RENAME_EXCHANGE)) {
    replaced.emplace(*space, npfd->get(), new_name);
    replaced->UnlessSameAs(pfd->get(), name);
  }
  Mutation m = BeginMutation();
  if (m.fenced()) return (void)r.Err(EIO);
  // Named as before the rename (the record says what moved where): the object at the old name.
  std::optional<record::Op> op;
  if (recording()) {
    op = NewRecordAt(record::OpKind::kRename, r.req(), InodeOf(parent), pfd->get(), name);
    op->path2 = inodes_.PathOf(nullptr, &InodeOf(new_parent), new_name);
    op->flags = flags;
  }
  const std::optional<InodeKey> victim =
      (flags & RENAME_EXCHANGE) != 0 ? std::nullopt : KeyAt(npfd->get(), new_name);
  if (renameat2(pfd->get(), name, npfd->get(), new_name, flags) != 0) return (void)r.Err(errno);
  if (victim) inodes_.Unlinked(*victim);  // the file the rename replaced, if that was its last name
  if (replaced) replaced->Removed();
  if (op) Record(std::move(*op));
  m.Done();
  // Keep path-based rules pointed at the right names.
  inodes_.Renamed(npfd->get(), InodeOf(new_parent), new_name);
  if (flags & RENAME_EXCHANGE) inodes_.Renamed(pfd->get(), InodeOf(parent), name);
  r.Ok();
}

void Passthrough::Readlink(Reply& r, fuse_ino_t ino) {
  Fault f;
  if (!Admitted(r, {.op = Op::kReadlink, .inode = &InodeOf(ino)}, f)) return;
  auto fd = inodes_.Fd(InodeOf(ino));
  if (!fd.ok()) return (void)r.Err(fd.status().code());
  char target[PATH_MAX + 1];
  const ssize_t n = readlinkat(fd->get(), "", target, PATH_MAX);
  if (n < 0) return (void)r.Err(errno);
  target[n] = '\0';
  r.Readlink(target);
}

}  // namespace faultfs::fs
