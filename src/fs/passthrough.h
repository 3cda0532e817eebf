// Passthrough: the FUSE low-level adapter over a backing directory. Each op turns a kernel request
// into *at syscalls on backing descriptors and answers through a Reply. The ops are grouped by
// concern: ops_entry.cc (names), ops_attr.cc (attributes, statfs), ops_file.cc (open files),
// ops_dir.cc (directory streams), ops_xattr.cc (extended attributes); ops_table.cc wires them to
// libfuse and turns exceptions into EIO at the boundary.
#pragma once

#include <sys/stat.h>

#include <cstdint>

#include "faultfs/core/status.h"
#include "faultfs/core/unique_fd.h"
#include "faultfs/fs/mount.h"
#include "fuse_version.h"
#include "handle_registry.h"
#include "inode_table.h"
#include "op_stats.h"
#include "reply.h"

namespace faultfs::fs {

class UringTransport;

// Per-open state of a regular file; its address is fuse_file_info::fh.
struct FileHandle : RegisteredHandle {
  UniqueFd fd;
  int flags = 0;  // the application's open flags, as given
};

struct Timeouts {
  double entry_s;
  double attr_s;
  double negative_s;
};

class Passthrough {
 public:
  Passthrough(UniqueFd backing_root, const MountOptions& options);

  static const fuse_lowlevel_ops& Ops();
  void Init(fuse_conn_info* conn);

  // Names (ops_entry.cc)
  void Lookup(Reply& r, fuse_ino_t parent, const char* name);
  void Forget(fuse_ino_t ino, uint64_t nlookup);
  void Mknod(Reply& r, fuse_ino_t parent, const char* name, mode_t mode, dev_t rdev);
  void Mkdir(Reply& r, fuse_ino_t parent, const char* name, mode_t mode);
  void Symlink(Reply& r, const char* target, fuse_ino_t parent, const char* name);
  void Link(Reply& r, fuse_ino_t ino, fuse_ino_t new_parent, const char* new_name);
  void Unlink(Reply& r, fuse_ino_t parent, const char* name);
  void Rmdir(Reply& r, fuse_ino_t parent, const char* name);
  void Rename(Reply& r, fuse_ino_t parent, const char* name, fuse_ino_t new_parent,
              const char* new_name, unsigned int flags);
  void Readlink(Reply& r, fuse_ino_t ino);

  // Attributes (ops_attr.cc)
  void Getattr(Reply& r, fuse_ino_t ino, fuse_file_info* fi);
  void Setattr(Reply& r, fuse_ino_t ino, struct stat* attr, int to_set, fuse_file_info* fi);
  void Access(Reply& r, fuse_ino_t ino, int mask);
  void Statfs(Reply& r, fuse_ino_t ino);

  // Open files (ops_file.cc)
  void Open(Reply& r, fuse_ino_t ino, fuse_file_info* fi);
  void Create(Reply& r, fuse_ino_t parent, const char* name, mode_t mode, fuse_file_info* fi);
  void Read(Reply& r, fuse_ino_t ino, size_t size, off_t off, fuse_file_info* fi);
  void WriteBuf(Reply& r, fuse_ino_t ino, fuse_bufvec* in, off_t off, fuse_file_info* fi);
  void Flush(Reply& r, fuse_ino_t ino, fuse_file_info* fi);
  void Release(Reply& r, fuse_ino_t ino, fuse_file_info* fi);
  void Fsync(Reply& r, fuse_ino_t ino, int datasync, fuse_file_info* fi);
  void Fallocate(Reply& r, fuse_ino_t ino, int mode, off_t off, off_t len, fuse_file_info* fi);
  void CopyFileRange(Reply& r, fuse_ino_t ino_in, off_t off_in, fuse_file_info* fi_in,
                     fuse_ino_t ino_out, off_t off_out, fuse_file_info* fi_out, size_t len,
                     int flags);
  void Lseek(Reply& r, fuse_ino_t ino, off_t off, int whence, fuse_file_info* fi);

  // Directory streams (ops_dir.cc)
  void Opendir(Reply& r, fuse_ino_t ino, fuse_file_info* fi);
  void Readdir(Reply& r, fuse_ino_t ino, size_t size, off_t off, fuse_file_info* fi, bool plus);
  void Releasedir(Reply& r, fuse_ino_t ino, fuse_file_info* fi);
  void Fsyncdir(Reply& r, fuse_ino_t ino, int datasync, fuse_file_info* fi);

  // Extended attributes (ops_xattr.cc)
  void Setxattr(Reply& r, fuse_ino_t ino, const char* name, const char* value, size_t size,
                int flags);
  void Getxattr(Reply& r, fuse_ino_t ino, const char* name, size_t size);
  void Listxattr(Reply& r, fuse_ino_t ino, size_t size);
  void Removexattr(Reply& r, fuse_ino_t ino, const char* name);

  InodeTable& inodes() { return inodes_; }
  HandleRegistry& handles() { return handles_; }
  OpStats& stats() { return stats_; }
  // Where libfuse's replies go (the session's custom writev): the io_uring transport when set.
  void set_uring(UringTransport* uring) { uring_ = uring; }
  UringTransport* uring() const { return uring_; }

 private:
  Inode& InodeOf(fuse_ino_t ino);
  fuse_ino_t FuseIno(Inode& inode);
  // Looks `name` up under `parent_fd` and returns the entry with one lookup counted.
  Result<fuse_entry_param> MakeEntry(int parent_fd, const char* name);
  // Gives an entry the daemon (root) just created under `parent_fd` to the calling user. The entry
  // is `name` under `at_fd`, or `at_fd` itself when `name` is empty.
  Status GiveToCaller(fuse_req_t req, int parent_fd, int at_fd, const char* name, mode_t mode);
  // Answers an op that created `name` under `parent_fd`: entry, or the error.
  void ReplyNewEntry(Reply& r, int parent_fd, const char* name, mode_t mode);
  // Replies with an entry; if the kernel did not take it, drops the lookup it counted.
  void SendEntry(Reply& r, const fuse_entry_param& e);

  InodeTable inodes_;
  HandleRegistry handles_;  // declared after inodes_: handles close before inode descriptors
  const Timeouts timeouts_;
  OpStats stats_;
  UringTransport* uring_ = nullptr;
};

// "/proc/self/fd/N": how the daemon names an O_PATH descriptor to calls that take only paths.
class ProcFdPath {
 public:
  explicit ProcFdPath(int fd);
  const char* c_str() const { return buf_; }

 private:
  char buf_[32];
};

inline FileHandle& HandleOf(const fuse_file_info* fi) {
  return *reinterpret_cast<FileHandle*>(fi->fh);
}

}  // namespace faultfs::fs
