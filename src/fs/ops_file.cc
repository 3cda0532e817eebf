// Open files: open/create with the application's flags kept, read, write, fsync, fallocate,
// copy_file_range, lseek, flush and release; and the data faults that act on them.
#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <optional>
#include <vector>

#include "aligned_buffer.h"
#include "data_faults.h"
#include "faultfs/core/errno_names.h"
#include "kill_setid.h"
#include "open_reply_patch.h"
#include "passthrough.h"
#include "uring_transport.h"
#include "write_history.h"

namespace faultfs::fs {

using policy::Op;

namespace {

// Flags the backing open must not see: the kernel resolved the name already (O_NOFOLLOW would
// refuse the /proc magic link), and creation is create()'s business.
constexpr int kNotForReopen = O_NOFOLLOW | O_CREAT | O_EXCL | O_NOCTTY;

// Caching policy of a new open file. Without rules on its data, the kernel page cache may keep
// file contents across opens: every write goes through the mount and keeps it coherent. A file
// that rules read or write is served around the page cache, so every read and write reaches them
// (and a short read stays short instead of looking like the end of the file).
void SetOpenFlags(fuse_file_info* fi, bool uncached, bool flush_rules) {
  fi->keep_cache = uncached ? 0 : 1;
  fi->direct_io = uncached ? 1 : 0;
  // Closing a file is not a durability point and forwards nothing the backing file needs; skipping
  // FLUSH saves a round trip per close(). Rules on flush bring it back.
  fi->noflush = flush_rules ? 0 : 1;
}

// Data in memory, aligned for O_DIRECT, as one contiguous buffer (copied only when needed).
char* Contiguous(fuse_bufvec* in, size_t size, bool need_aligned, bool need_copy) {
  const bool one_mem = in->count == 1 && (in->buf[0].flags & FUSE_BUF_IS_FD) == 0;
  const bool aligned =
      one_mem && reinterpret_cast<uintptr_t>(in->buf[0].mem) % AlignedBuffer::kAlignment == 0;
  if (one_mem && !need_copy && (!need_aligned || aligned))
    return static_cast<char*>(in->buf[0].mem);
  char* buf = AlignedBuffer::ForThisThread().Reserve(size);
  if (buf == nullptr) return nullptr;
  fuse_bufvec dst = FUSE_BUFVEC_INIT(size);
  dst.buf[0].mem = buf;
  if (fuse_buf_copy(&dst, in, FUSE_BUF_NO_SPLICE) != static_cast<ssize_t>(size)) return nullptr;
  return buf;
}

}  // namespace

// Hands a new FileHandle to the kernel; if the reply does not arrive, the handle is closed.
template <typename SendFn>
void Passthrough::SendOpen(UniqueFd fd, InodeTable::OpenSlot slot, int flags, Inode& inode,
                           fuse_file_info* fi, SendFn&& send) {
  const bool uncached = gate_.Uncached(inode);  // rules read or write it
  BackingFiles::Hold mode = backing_.Open(inode, fd.get(), !uncached && !SeesEveryWrite());
  const int32_t backing_id = mode.backing_id();
  // NOLINTNEXTLINE(cppcoreguidelines-owning-memory): the registry owns it
  auto* handle =
      new FileHandle(inodes_, inode, std::move(fd), std::move(slot), flags, std::move(mode));
  handles_.Add(handle);
  fi->fh = reinterpret_cast<uint64_t>(handle);
  // In passthrough the kernel's backing file has the page cache; rules on data may still hold a
  // file there (it was open in passthrough when they came), and serve it uncached otherwise.
  SetOpenFlags(fi, backing_id == 0 && uncached, gate_.Targets(Op::kFlush));
  OpenReplyPatch::Armed passthrough(backing_id);
  if (send() != 0) handles_.Delete(handle);  // the kernel never got it
}

bool Passthrough::SeesEveryWrite() const {
  return recording() || space() != nullptr || gate_.KeepsWriteHistory();
}

bool Passthrough::WantsKernelPassthrough(const Inode& inode) const {
  return !SeesEveryWrite() && !gate_.Uncached(inode);
}

std::vector<Mount::PassthroughFile> Passthrough::PassthroughFiles() const {
  std::vector<Mount::PassthroughFile> files;
  backing_.ForEachHeld([&](const Inode& inode, size_t opens) {
    files.push_back({inodes_.PathOf(inode), opens, !WantsKernelPassthrough(inode)});
  });
  std::sort(files.begin(), files.end(),
            [](const auto& a, const auto& b) { return a.path < b.path; });
  return files;
}

void Passthrough::Open(Reply& r, fuse_ino_t ino, fuse_file_info* fi) {
  Inode& inode = InodeOf(ino);
  Fault f;
  if (!Admitted(r, {.op = Op::kOpen, .inode = &inode, .open_flags = fi->flags}, f)) return;
  auto ifd = inodes_.Fd(inode);
  if (!ifd.ok()) return (void)r.Err(ifd.status().code());
  InodeTable::OpenSlot slot = inodes_.TakeOpenSlot();  // before the descriptor it stands for
  if (!slot) return (void)r.Err(ENFILE);
  std::optional<SpaceAccount::FileChange> change;  // O_TRUNC frees the file's blocks
  if (SpaceAccount* space = space_.load(std::memory_order_acquire);
      space && (fi->flags & O_TRUNC)) {
    change.emplace(*space, inode.key(), ifd->get());
  }
  // Only a truncating open changes the file (and takes its place in the record order).
  Mutation m = (fi->flags & O_TRUNC) != 0 ? BeginMutation() : Mutation();
  if (m.fenced()) return (void)r.Err(EIO);
  UniqueFd fd(open(ProcFdPath(ifd->get()).c_str(), (fi->flags & ~kNotForReopen) | O_CLOEXEC));
  const int err = fd ? 0 : errno;
  if (change) change->Settle();
  if (err != 0) return (void)r.Err(err);
  if (RequestKillsSetId()) KillSetIdOf(r.req(), fd.get());  // truncating, by an unprivileged caller
  if ((fi->flags & O_TRUNC) != 0) RecordOpenTruncate(r.req(), fd.get(), inodes_.PathOf(inode));
  m.Done();  // recorded: later changes may go ahead
  SendOpen(std::move(fd), std::move(slot), fi->flags, inode, fi, [&] { return r.Open(fi); });
}

void Passthrough::Create(Reply& r, fuse_ino_t parent, const char* name, mode_t mode,
                         fuse_file_info* fi) {
  Inode& dir = InodeOf(parent);
  Fault f;
  if (!Admitted(r,
                {.op = Op::kCreate,
                 .parent = &dir,
                 .name = name,
                 .mode = S_IFREG | mode,
                 .open_flags = fi->flags},
                f))
    return;
  auto pfd = inodes_.Fd(dir);
  if (!pfd.ok()) return (void)r.Err(pfd.status().code());
  // First: a create refused for want of a descriptor must not leave a file behind.
  InodeTable::OpenSlot slot = inodes_.TakeOpenSlot();
  if (!slot) return (void)r.Err(ENFILE);
  const int flags = (fi->flags & ~(O_CREAT | O_EXCL)) | O_CLOEXEC;
  // Create exclusively first (as the caller: as_caller.h), so that an existing file is opened as
  // itself, untouched. Only a new file needs an inode from the capacity budget.
  SpaceAccount::InodeClaim new_inode(space_.load(std::memory_order_acquire));
  UniqueFd fd;
  int err = 0;
  if (new_inode.granted()) {
    Mutation m = BeginMutation();
    if (m.fenced()) return (void)r.Err(EIO);
    err = AsCallerOf(r.req(), [&] {
      fd.reset(openat(pfd->get(), name, flags | O_CREAT | O_EXCL, mode));
      return fd.get();
    });
    if (err == 0 && recording()) RecordCreate(r.req(), dir, fd.get(), name, mode);
  } else {
    struct stat st {};
    err = fstatat(pfd->get(), name, &st, AT_SYMLINK_NOFOLLOW) == 0
              ? EEXIST
              : gate_.CapacityRefusal(r.req(), {.op = Op::kCreate, .parent = &dir, .name = name},
                                      new_inode.err());
  }
  const bool created = err == 0;
  if (err == EEXIST && (fi->flags & O_EXCL) == 0) {
    fd = OpenExisting(r.req(), dir, pfd->get(), name, flags);
    err = fd ? 0 : errno;
  }
  if (err != 0) return (void)r.Err(err);
  if (created) new_inode.Keep();
  auto e = MakeEntry(dir, pfd->get(), name);
  if (!e.ok()) {
    if (created) RemoveCreated(r.req(), dir, pfd->get(), name, std::move(fd));
    return (void)r.Err(e.status().code());
  }
  SendOpen(std::move(fd), std::move(slot), fi->flags, InodeOf(e->ino), fi, [&] {
    const int res = r.Create(*e, fi);
    if (res != 0) Forget(e->ino, 1);
    return res;
  });
}

void Passthrough::Read(Reply& r, fuse_ino_t, size_t size, off_t off, fuse_file_info* fi) {
  const FileHandle& h = HandleOf(fi);
  Fault f;
  if (!Admitted(r,
                {.op = Op::kRead,
                 .inode = h.inode,
                 .offset = static_cast<uint64_t>(off),
                 .size = size,
                 .open_flags = h.flags},
                f))
    return;
  const auto* corrupt = f.As<policy::CorruptAction>();
  const auto* short_read = f.As<policy::ShortAction>();
  const bool stale = f.As<policy::StaleReadAction>() != nullptr;
  // On an io_uring entry the data goes straight into the reply buffer the kernel reads from;
  // O_DIRECT and data faults need a buffer of ours (the ring payload is page-aligned too).
  char* buf = UringTransport::ReplySpace(size);
  if (buf == nullptr && ((h.flags & O_DIRECT) || corrupt || short_read || stale)) {
    buf = AlignedBuffer::ForThisThread().Reserve(size);
    if (buf == nullptr) return (void)r.Err(ENOMEM);
  }
  if (buf != nullptr) {
    ssize_t n = pread(h.fd.get(), buf, size, off);
    if (n < 0) return (void)r.Err(errno);
    if (stale)
      history_->Stale(h.inode->key(), static_cast<uint64_t>(off), buf, static_cast<size_t>(n));
    if (corrupt != nullptr) Corrupt(*corrupt, f.draw(), buf, static_cast<size_t>(n));
    if (short_read != nullptr)
      n = std::min<ssize_t>(n, static_cast<ssize_t>(ShortLength(*short_read, size)));
    return (void)r.Buf(buf, static_cast<size_t>(n));
  }
  fuse_bufvec src = FUSE_BUFVEC_INIT(size);
  src.buf[0].flags = static_cast<fuse_buf_flags>(FUSE_BUF_IS_FD | FUSE_BUF_FD_SEEK);
  src.buf[0].fd = h.fd.get();
  src.buf[0].pos = off;
  r.Data(&src, FUSE_BUF_SPLICE_MOVE);  // libfuse replies with the error itself if the read fails
}

UniqueFd Passthrough::OpenExisting(fuse_req_t req, const Inode& dir, int dir_fd, const char* name,
                                   int flags) {
  if ((flags & O_TRUNC) == 0) return UniqueFd(openat(dir_fd, name, flags));
  // A truncating open changes the file: accounted (space first), then recorded in order.
  UniqueFd path;  // declared before `change`, which measures the file through it
  std::optional<SpaceAccount::FileChange> change;
  if (SpaceAccount* space = space_.load(std::memory_order_acquire)) {
    path.reset(openat(dir_fd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC));
    struct stat st {};
    if (path && fstat(path.get(), &st) == 0)
      change.emplace(*space, InodeKey{st.st_ino, st.st_dev}, path.get());
  }
  Mutation m = BeginMutation();
  if (m.fenced()) {
    errno = EIO;
    return UniqueFd();
  }
  UniqueFd fd(openat(dir_fd, name, flags));
  const int err = errno;
  if (change) change->Settle();
  if (fd && RequestKillsSetId()) KillSetIdOf(req, fd.get());  // truncated by an unprivileged caller
  if (fd) RecordOpenTruncate(req, fd.get(), inodes_.PathOf(nullptr, &dir, name));
  errno = err;
  return fd;
}

void Passthrough::RemoveCreated(fuse_req_t req, const Inode& dir, int dir_fd, const char* name,
                                UniqueFd fd) {
  struct stat ours {};
  struct stat named {};
  const bool same = fstat(fd.get(), &ours) == 0 &&
                    fstatat(dir_fd, name, &named, AT_SYMLINK_NOFOLLOW) == 0 &&
                    ours.st_ino == named.st_ino && ours.st_dev == named.st_dev;
  fd.reset();
  if (!same) return;  // renamed away meanwhile: whatever has the name now is not ours to remove
  if (const int err = RemoveName(req, dir, dir_fd, name, 0); err != 0) {
    spdlog::warn("{}: a create failed, and removing the file it made failed too: {}", name,
                 ErrnoText(err));
  }
}

void Passthrough::RecordCreate(fuse_req_t req, const Inode& dir, int fd, const char* name,
                               mode_t mode) {
  record::Op op =
      NewRecord(record::OpKind::kCreate, req, nullptr, inodes_.PathOf(nullptr, &dir, name));
  struct stat st {};
  if (fstat(fd, &st) == 0) {
    op.ino = static_cast<uint64_t>(st.st_ino);
    op.uid = st.st_uid;  // the applier creates as root: the state's file is owned as this one
    op.gid = st.st_gid;
  }
  op.mode = mode & 07777;  // the permissions; the type is in the kind
  Record(std::move(op));
}

void Passthrough::WriteBuf(Reply& r, fuse_ino_t, fuse_bufvec* in, off_t off, fuse_file_info* fi) {
  const FileHandle& h = HandleOf(fi);
  const size_t asked = fuse_buf_size(in);
  Fault f;
  if (!Admitted(r,
                {.op = Op::kWrite,
                 .inode = h.inode,
                 .offset = static_cast<uint64_t>(off),
                 .size = asked,
                 .open_flags = h.flags},
                f))
    return;
  if (f.As<policy::LostWriteAction>() != nullptr)
    return (void)r.Write(asked);  // success, nothing stored
  std::optional<SpaceAccount::FileChange> change;
  size_t size = asked;
  if (SpaceAccount* space = space_.load(std::memory_order_acquire)) {
    change.emplace(*space, h.inode->key(), h.fd.get());
    const uint64_t at =
        (h.flags & O_APPEND) != 0 ? change->size_before() : static_cast<uint64_t>(off);
    size = change->AdmitWrite(at, asked);  // a full disk cuts the write short, as Linux does
    const OpTarget target{.op = Op::kWrite, .inode = h.inode, .offset = at, .size = asked};
    if (size == 0 && asked > 0) {
      change->Settle();
      return (void)r.Err(gate_.CapacityRefusal(r.req(), target, space->model().err()));
    }
    if (size < asked) gate_.CapacityShortWrite(r.req(), target, size);
  }
  const ssize_t n = WriteData(r.req(), h, f, in, size, off, fi->writepage != 0);
  if (change) change->Settle();  // before the reply: statfs right after must see the write
  if (n < 0) return (void)r.Err(static_cast<int>(-n));
  if (n > 0 && RequestKillsSetId()) KillSetIdOf(r.req(), h.fd.get());  // by an unprivileged caller
  r.Write(static_cast<size_t>(n));
}

ssize_t Passthrough::WriteData(fuse_req_t req, const FileHandle& h, const Fault& f, fuse_bufvec* in,
                               size_t size, off_t off, bool cached) {
  const auto* corrupt = f.As<policy::CorruptAction>();
  const auto* torn = f.As<policy::TornAction>();
  const auto* short_write = f.As<policy::ShortAction>();
  const auto* misdirect = f.As<policy::MisdirectAction>();
  char* data = Contiguous(in, size, (h.flags & O_DIRECT) != 0, corrupt != nullptr);
  if (data == nullptr) return -ENOMEM;
  if (gate_.KeepsWriteHistory()) {
    history_->BeforeWrite(h.inode->key(), h.fd.get(), static_cast<uint64_t>(off), size);
  }
  if (corrupt != nullptr) Corrupt(*corrupt, f.draw(), data, size);
  // Each pwrite below is recorded as what it stored (corrupted bytes, a kept unit of a torn write,
  // the short part, the misdirected offset): the record log holds what the backing file got.
  if (torn != nullptr) {
    // Only the kept units reach the disk; the application is told the whole write succeeded.
    const TornPlan plan = PlanTorn(*torn, f.draw(), static_cast<uint64_t>(off), size);
    const uint64_t first_unit = static_cast<uint64_t>(off) / plan.unit;
    for (size_t i = 0; i < plan.keep.size(); ++i) {
      if (!plan.keep[i]) continue;
      const uint64_t lo =
          std::max<uint64_t>((first_unit + i) * plan.unit, static_cast<uint64_t>(off));
      const uint64_t hi =
          std::min<uint64_t>((first_unit + i + 1) * plan.unit, static_cast<uint64_t>(off) + size);
      if (WriteAndRecord(req, h, data + (lo - static_cast<uint64_t>(off)), hi - lo,
                         static_cast<off_t>(lo), cached) < 0) {
        return -errno;
      }
    }
    return static_cast<ssize_t>(size);
  }
  const size_t length = short_write != nullptr ? ShortLength(*short_write, size) : size;
  const off_t where = misdirect != nullptr ? std::max<off_t>(0, off + misdirect->shift_bytes) : off;
  const ssize_t n = WriteAndRecord(req, h, data, length, where, cached);
  if (n < 0) return -errno;
  return misdirect != nullptr ? static_cast<ssize_t>(size) : n;
}

void Passthrough::Flush(Reply& r, fuse_ino_t, fuse_file_info* fi) {
  // Only sent for handles opened without noflush (rules on flush). Nothing to forward.
  Fault f;
  if (!Admitted(
          r, {.op = Op::kFlush, .inode = HandleOf(fi).inode, .open_flags = HandleOf(fi).flags}, f))
    return;
  r.Ok();
}

void Passthrough::Release(Reply& r, fuse_ino_t, fuse_file_info* fi) {
  Fault f;
  const FaultGate::Verdict gate =
      gate_.Admit(r, OpTarget{.op = Op::kRelease, .inode = HandleOf(fi).inode}, f);
  if (gate == FaultGate::Verdict::kDeferred) return;  // reruns later and releases then
  handles_.Delete(&HandleOf(fi));                     // released even when an error was injected
  if (gate == FaultGate::Verdict::kRun) r.Ok();
}

void Passthrough::Fsync(Reply& r, fuse_ino_t, int datasync, fuse_file_info* fi) {
  const FileHandle& h = HandleOf(fi);
  Fault f;
  if (!Admitted(
          r,
          {.op = datasync ? Op::kFdatasync : Op::kFsync, .inode = h.inode, .open_flags = h.flags},
          f))
    return;
  if (f.As<policy::LyingFsyncAction>() != nullptr) return (void)r.Ok();  // success, nothing synced
  if (const auto* fail = f.As<policy::FsyncFailAction>()) {
    if (fail->drop_dirty && !history_->DropUnsynced(h.inode->key(), h.fd.get())) {
      spdlog::warn("fsync_fail: history incomplete, some unsynced data of a file was not dropped");
    }
    return (void)r.Err(fail->err);
  }
  // Lying and failing fsyncs (above) return before this point: nothing was made durable, so
  // nothing is recorded. The order is held across the sync, so that every change recorded before
  // it happened before the sync started and is covered by it.
  Mutation m = BeginMutation();
  if (m.fenced()) return (void)r.Err(EIO);
  const int res = datasync ? fdatasync(h.fd.get()) : fsync(h.fd.get());
  if (res != 0) return (void)r.Err(errno);
  if (recording()) {
    const auto kind = datasync ? record::OpKind::kFdatasync : record::OpKind::kFsync;
    Record(NewRecord(kind, r.req(), h.inode, inodes_.PathOf(*h.inode)));
  }
  m.Done();
  if (gate_.KeepsWriteHistory()) history_->Synced(h.inode->key());
  r.Ok();
}

void Passthrough::Fallocate(Reply& r, fuse_ino_t, int mode, off_t off, off_t len,
                            fuse_file_info* fi) {
  const FileHandle& h = HandleOf(fi);
  Fault f;
  if (!Admitted(r,
                {.op = Op::kFallocate,
                 .inode = h.inode,
                 .offset = static_cast<uint64_t>(off),
                 .size = static_cast<uint64_t>(len),
                 .open_flags = h.flags},
                f))
    return;
  std::optional<SpaceAccount::FileChange> change;
  if (SpaceAccount* space = space_.load(std::memory_order_acquire)) {
    change.emplace(*space, h.inode->key(), h.fd.get());
    // Allocating is all or nothing; punching and collapsing only free.
    const bool frees = (mode & (FALLOC_FL_PUNCH_HOLE | FALLOC_FL_COLLAPSE_RANGE)) != 0;
    if (!frees && !change->AdmitAll(static_cast<uint64_t>(off), static_cast<uint64_t>(len))) {
      change->Settle();
      return (void)r.Err(gate_.CapacityRefusal(r.req(),
                                               {.op = Op::kFallocate,
                                                .inode = h.inode,
                                                .offset = static_cast<uint64_t>(off),
                                                .size = static_cast<uint64_t>(len)},
                                               space->model().err()));
    }
  }
  Mutation m = BeginMutation();
  if (m.fenced()) return (void)r.Err(EIO);
  const int err = fallocate(h.fd.get(), mode, off, len) == 0 ? 0 : errno;
  if (change) change->Settle();
  if (err == 0 && recording()) {
    record::Op op =
        NewRecord(record::OpKind::kFallocate, r.req(), h.inode, inodes_.PathOf(*h.inode));
    op.offset = static_cast<uint64_t>(off);
    op.length = static_cast<uint64_t>(len);
    op.flags = static_cast<uint32_t>(mode);
    Record(std::move(op));
  }
  m.Done();
  r.Err(err);
}

void Passthrough::CopyFileRange(Reply& r, fuse_ino_t, off_t off_in, fuse_file_info* fi_in,
                                fuse_ino_t, off_t off_out, fuse_file_info* fi_out, size_t len,
                                int flags) {
  Fault f;
  if (!Admitted(r,
                {.op = Op::kCopyFileRange,
                 .inode = HandleOf(fi_in).inode,
                 .inode2 = HandleOf(fi_out).inode,
                 .offset = static_cast<uint64_t>(off_out),
                 .size = len},
                f))
    return;
  const FileHandle& dst = HandleOf(fi_out);
  // When rules may read or write these files' data, they must see this copy too: EXDEV makes the
  // kernel copy through READ and WRITE requests instead.
  if (gate_.Uncached(*HandleOf(fi_in).inode) || gate_.Uncached(*dst.inode))
    return (void)r.Err(EXDEV);
  std::optional<SpaceAccount::FileChange> change;
  if (SpaceAccount* space = space_.load(std::memory_order_acquire)) {
    change.emplace(*space, dst.inode->key(), dst.fd.get());
    const size_t fits = change->AdmitWrite(static_cast<uint64_t>(off_out), len);
    const OpTarget target{.op = Op::kCopyFileRange,
                          .inode = HandleOf(fi_in).inode,
                          .inode2 = dst.inode,
                          .offset = static_cast<uint64_t>(off_out),
                          .size = len};
    if (fits == 0 && len > 0) {
      change->Settle();
      return (void)r.Err(gate_.CapacityRefusal(r.req(), target, space->model().err()));
    }
    if (fits < len) gate_.CapacityShortWrite(r.req(), target, fits);
    len = fits;
  }
  loff_t in = off_in;
  loff_t out = off_out;
  Mutation m = BeginMutation();
  if (m.fenced()) return (void)r.Err(EIO);
  const ssize_t n = copy_file_range(HandleOf(fi_in).fd.get(), &in, dst.fd.get(), &out, len,
                                    static_cast<unsigned>(flags));
  const int err = n < 0 ? errno : 0;
  if (change) change->Settle();
  if (err != 0) return (void)r.Err(err);
  // Replay has no source file to copy from (it may have changed since): the bytes are recorded.
  RecordCopy(r.req(), dst, static_cast<size_t>(n), off_out);
  m.Done();
  r.Write(static_cast<size_t>(n));
}

void Passthrough::Lseek(Reply& r, fuse_ino_t, off_t off, int whence, fuse_file_info* fi) {
  Fault f;
  if (!Admitted(
          r, {.op = Op::kLseek, .inode = HandleOf(fi).inode, .offset = static_cast<uint64_t>(off)},
          f))
    return;
  const off_t res = lseek(HandleOf(fi).fd.get(), off, whence);
  if (res < 0) return (void)r.Err(errno);
  r.Lseek(res);
}

}  // namespace faultfs::fs
