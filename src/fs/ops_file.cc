// Open files: open/create with the application's flags kept, read, write, fsync, fallocate,
// copy_file_range, lseek, flush and release.
#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include "aligned_buffer.h"
#include "passthrough.h"
#include "uring_transport.h"

namespace faultfs::fs {

namespace {

// Flags the backing open must not see: the kernel resolved the name already (O_NOFOLLOW would
// refuse the /proc magic link), and creation is create()'s business.
constexpr int kNotForReopen = O_NOFOLLOW | O_CREAT | O_EXCL | O_NOCTTY;

// Caching policy of a new open file. Without rules that touch data, the kernel page cache may keep
// file contents across opens: every write goes through the mount and keeps it coherent.
void SetOpenFlags(fuse_file_info* fi) {
  fi->keep_cache = 1;
  fi->direct_io = 0;
  // Closing a file is not a durability point and forwards nothing the backing file needs; skipping
  // FLUSH saves a round trip per close(). Dirty mmap pages are still written back as usual.
  fi->noflush = 1;
}

// The kernel's FUSE layer already reads ahead for the application, as the application's own hints
// (fadvise) and access pattern decide. Readahead on the backing file as well would read more than
// the application's reads cause natively, and would warm the backing cache for it: off.
void NoBackingReadahead(int fd, int flags) {
  if ((flags & O_ACCMODE) != O_WRONLY && (flags & O_DIRECT) == 0) {
    (void)posix_fadvise(fd, 0, 0, POSIX_FADV_RANDOM);
  }
}

// Hands a new FileHandle to the kernel; if the reply does not arrive, the handle is closed.
template <typename SendFn>
void SendOpen(HandleRegistry& handles, UniqueFd fd, int flags, fuse_file_info* fi, SendFn&& send) {
  NoBackingReadahead(fd.get(), flags);
  auto* handle = new FileHandle();  // NOLINT(cppcoreguidelines-owning-memory): registry owns it
  handle->fd = std::move(fd);
  handle->flags = flags;
  handles.Add(handle);
  fi->fh = reinterpret_cast<uint64_t>(handle);
  SetOpenFlags(fi);
  if (send() != 0) handles.Delete(handle);  // the kernel never got it
}

}  // namespace

void Passthrough::Open(Reply& r, fuse_ino_t ino, fuse_file_info* fi) {
  auto ifd = inodes_.Fd(InodeOf(ino));
  if (!ifd.ok()) return (void)r.Err(ifd.status().code());
  UniqueFd fd(open(ProcFdPath(ifd->get()).c_str(), (fi->flags & ~kNotForReopen) | O_CLOEXEC));
  if (!fd) return (void)r.Err(errno);
  SendOpen(handles_, std::move(fd), fi->flags, fi, [&] { return r.Open(fi); });
}

void Passthrough::Create(Reply& r, fuse_ino_t parent, const char* name, mode_t mode,
                         fuse_file_info* fi) {
  auto pfd = inodes_.Fd(InodeOf(parent));
  if (!pfd.ok()) return (void)r.Err(pfd.status().code());
  const int flags = (fi->flags & ~(O_CREAT | O_EXCL)) | O_CLOEXEC;
  // Create exclusively first, so only a file this call made is given to the caller.
  bool created = true;
  UniqueFd fd(openat(pfd->get(), name, flags | O_CREAT | O_EXCL, mode));
  if (!fd && errno == EEXIST && (fi->flags & O_EXCL) == 0) {
    created = false;
    fd.reset(openat(pfd->get(), name, flags));
  }
  if (!fd) return (void)r.Err(errno);
  if (created) {
    Status given = GiveToCaller(r.req(), pfd->get(), fd.get(), "", S_IFREG | mode);
    if (!given.ok()) spdlog::warn("{}: {}", name, given.ToString());
  }
  auto e = MakeEntry(pfd->get(), name);
  if (!e.ok()) return (void)r.Err(e.status().code());
  SendOpen(handles_, std::move(fd), fi->flags, fi, [&] {
    const int res = r.Create(*e, fi);
    if (res != 0) Forget(e->ino, 1);
    return res;
  });
}

void Passthrough::Read(Reply& r, fuse_ino_t, size_t size, off_t off, fuse_file_info* fi) {
  const FileHandle& h = HandleOf(fi);
  // On an io_uring entry the data goes straight into the reply buffer the kernel reads from;
  // O_DIRECT needs an aligned buffer (the ring payload is page-aligned too).
  char* buf = UringTransport::ReplySpace(size);
  if (buf == nullptr && (h.flags & O_DIRECT)) buf = AlignedBuffer::ForThisThread().Reserve(size);
  if (buf != nullptr) {
    const ssize_t n = pread(h.fd.get(), buf, size, off);
    if (n < 0) return (void)r.Err(errno);
    return (void)r.Buf(buf, static_cast<size_t>(n));
  }
  fuse_bufvec src = FUSE_BUFVEC_INIT(size);
  src.buf[0].flags = static_cast<fuse_buf_flags>(FUSE_BUF_IS_FD | FUSE_BUF_FD_SEEK);
  src.buf[0].fd = h.fd.get();
  src.buf[0].pos = off;
  r.Data(&src, FUSE_BUF_SPLICE_MOVE);  // libfuse replies with the error itself if the read fails
}

void Passthrough::WriteBuf(Reply& r, fuse_ino_t, fuse_bufvec* in, off_t off, fuse_file_info* fi) {
  const FileHandle& h = HandleOf(fi);
  const size_t size = fuse_buf_size(in);
  fuse_bufvec dst = FUSE_BUFVEC_INIT(size);
  // Data already page-aligned in memory (the io_uring payload) needs no bounce for O_DIRECT.
  const bool aligned = in->count == 1 && (in->buf[0].flags & FUSE_BUF_IS_FD) == 0 &&
                       reinterpret_cast<uintptr_t>(in->buf[0].mem) % AlignedBuffer::kAlignment == 0;
  if ((h.flags & O_DIRECT) && !aligned) {
    char* buf = AlignedBuffer::ForThisThread().Reserve(size);
    if (buf == nullptr) return (void)r.Err(ENOMEM);
    dst.buf[0].mem = buf;
    const ssize_t copied = fuse_buf_copy(&dst, in, FUSE_BUF_NO_SPLICE);
    if (copied < 0) return (void)r.Err(static_cast<int>(-copied));
    const ssize_t n = pwrite(h.fd.get(), buf, static_cast<size_t>(copied), off);
    if (n < 0) return (void)r.Err(errno);
    return (void)r.Write(static_cast<size_t>(n));
  }
  dst.buf[0].flags = static_cast<fuse_buf_flags>(FUSE_BUF_IS_FD | FUSE_BUF_FD_SEEK);
  dst.buf[0].fd = h.fd.get();
  dst.buf[0].pos = off;
  const ssize_t n = fuse_buf_copy(&dst, in, static_cast<fuse_buf_copy_flags>(0));
  if (n < 0) return (void)r.Err(static_cast<int>(-n));
  r.Write(static_cast<size_t>(n));
}

void Passthrough::Flush(Reply& r, fuse_ino_t, fuse_file_info*) {
  // Only sent for handles opened without noflush. Nothing to forward: see SetOpenFlags().
  r.Ok();
}

void Passthrough::Release(Reply& r, fuse_ino_t, fuse_file_info* fi) {
  handles_.Delete(&HandleOf(fi));
  r.Ok();
}

void Passthrough::Fsync(Reply& r, fuse_ino_t, int datasync, fuse_file_info* fi) {
  const int fd = HandleOf(fi).fd.get();
  const int res = datasync ? fdatasync(fd) : fsync(fd);
  r.Err(res == 0 ? 0 : errno);
}

void Passthrough::Fallocate(Reply& r, fuse_ino_t, int mode, off_t off, off_t len,
                            fuse_file_info* fi) {
  r.Err(fallocate(HandleOf(fi).fd.get(), mode, off, len) == 0 ? 0 : errno);
}

void Passthrough::CopyFileRange(Reply& r, fuse_ino_t, off_t off_in, fuse_file_info* fi_in,
                                fuse_ino_t, off_t off_out, fuse_file_info* fi_out, size_t len,
                                int flags) {
  loff_t in = off_in;
  loff_t out = off_out;
  const ssize_t n = copy_file_range(HandleOf(fi_in).fd.get(), &in, HandleOf(fi_out).fd.get(), &out,
                                    len, static_cast<unsigned>(flags));
  if (n < 0) return (void)r.Err(errno);
  r.Write(static_cast<size_t>(n));
}

void Passthrough::Lseek(Reply& r, fuse_ino_t, off_t off, int whence, fuse_file_info* fi) {
  const off_t res = lseek(HandleOf(fi).fd.get(), off, whence);
  if (res < 0) return (void)r.Err(errno);
  r.Lseek(res);
}

}  // namespace faultfs::fs
