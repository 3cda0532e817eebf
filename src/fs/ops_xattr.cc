// Extended attributes, through the /proc/self/fd path of the inode's O_PATH descriptor (the
// f*xattr calls refuse O_PATH descriptors, and opening the file could block on a FIFO).
#include <sys/xattr.h>

#include <cerrno>
#include <vector>

#include "passthrough.h"

namespace faultfs::fs {

namespace {

// Answers a get/list call: the size when asked for it (size 0), else the bytes.
template <typename CallFn>
void ReplyXattrData(Reply& r, size_t size, CallFn&& call) {
  if (size == 0) {
    const ssize_t n = call(nullptr, 0);
    if (n < 0) return (void)r.Err(errno);
    return (void)r.Xattr(static_cast<size_t>(n));
  }
  std::vector<char> buf(size);
  const ssize_t n = call(buf.data(), size);
  if (n < 0) return (void)r.Err(errno);
  r.Buf(buf.data(), static_cast<size_t>(n));
}

}  // namespace

void Passthrough::Setxattr(Reply& r, fuse_ino_t ino, const char* name, const char* value,
                           size_t size, int flags) {
  Fault f;
  if (!Admitted(r, {.op = policy::Op::kSetxattr, .inode = &InodeOf(ino)}, f)) return;
  auto fd = inodes_.Fd(InodeOf(ino));
  if (!fd.ok()) return (void)r.Err(fd.status().code());
  Mutation m = BeginMutation();
  if (m.fenced()) return (void)r.Err(EIO);
  const int err =
      setxattr(ProcFdPath(fd->get()).c_str(), name, value, size, flags) == 0 ? 0 : errno;
  if (err == 0 && recording()) {
    record::Op op =
        NewRecord(record::OpKind::kSetxattr, r.req(), &InodeOf(ino), inodes_.PathOf(InodeOf(ino)));
    op.path2 = name;
    op.data.assign(value, size);
    op.flags = static_cast<uint32_t>(flags);
    Record(std::move(op));
  }
  m.Done();
  r.Err(err);
}

void Passthrough::Getxattr(Reply& r, fuse_ino_t ino, const char* name, size_t size) {
  Fault f;
  if (!Admitted(r, {.op = policy::Op::kGetxattr, .inode = &InodeOf(ino)}, f)) return;
  auto fd = inodes_.Fd(InodeOf(ino));
  if (!fd.ok()) return (void)r.Err(fd.status().code());
  const ProcFdPath path(fd->get());
  ReplyXattrData(r, size,
                 [&](char* buf, size_t len) { return getxattr(path.c_str(), name, buf, len); });
}

void Passthrough::Listxattr(Reply& r, fuse_ino_t ino, size_t size) {
  Fault f;
  if (!Admitted(r, {.op = policy::Op::kListxattr, .inode = &InodeOf(ino)}, f)) return;
  auto fd = inodes_.Fd(InodeOf(ino));
  if (!fd.ok()) return (void)r.Err(fd.status().code());
  const ProcFdPath path(fd->get());
  ReplyXattrData(r, size, [&](char* buf, size_t len) { return listxattr(path.c_str(), buf, len); });
}

void Passthrough::Removexattr(Reply& r, fuse_ino_t ino, const char* name) {
  Fault f;
  if (!Admitted(r, {.op = policy::Op::kRemovexattr, .inode = &InodeOf(ino)}, f)) return;
  auto fd = inodes_.Fd(InodeOf(ino));
  if (!fd.ok()) return (void)r.Err(fd.status().code());
  Mutation m = BeginMutation();
  if (m.fenced()) return (void)r.Err(EIO);
  const int err = removexattr(ProcFdPath(fd->get()).c_str(), name) == 0 ? 0 : errno;
  if (err == 0 && recording()) {
    record::Op op = NewRecord(record::OpKind::kRemovexattr, r.req(), &InodeOf(ino),
                              inodes_.PathOf(InodeOf(ino)));
    op.path2 = name;
    Record(std::move(op));
  }
  m.Done();
  r.Err(err);
}

}  // namespace faultfs::fs
