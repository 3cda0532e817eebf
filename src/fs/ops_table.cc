// Wiring: the libfuse op table, session capabilities, and the exception boundary. No exception
// crosses into libfuse: an op that throws is logged and answered with EIO by its Reply.
#include <spdlog/spdlog.h>

#include <exception>

#include "faultfs/core/mutex.h"
#include "op_stats.h"
#include "passthrough.h"
#include "write_history.h"

namespace faultfs::fs {

namespace {

Passthrough& Fs(fuse_req_t req) { return *static_cast<Passthrough*>(fuse_req_userdata(req)); }

template <typename Fn>
void Guarded(fuse_req_t req, FuseOp op, Fn&& fn) noexcept {
  Reply reply(req);
  try {
    Passthrough& fs = Fs(req);
    fs.stats().Count(op);
    fn(fs, reply);
  } catch (const std::exception& e) {
    spdlog::error("{}: unexpected exception: {}", FuseOpName(op), e.what());
  } catch (...) {
    spdlog::error("{}: unexpected exception", FuseOpName(op));
  }
}

#define FAULTFS_OP(op, call) Guarded(req, FuseOp::op, [&](Passthrough& fs, Reply& r) { call; })

fuse_lowlevel_ops MakeOps() {
  fuse_lowlevel_ops ops{};
  ops.init = [](void* userdata, fuse_conn_info* conn) {
    static_cast<Passthrough*>(userdata)->Init(conn);
  };
  ops.lookup = [](fuse_req_t req, fuse_ino_t parent, const char* name) {
    FAULTFS_OP(kLookup, fs.Lookup(r, parent, name));
  };
  ops.forget = [](fuse_req_t req, fuse_ino_t ino, uint64_t nlookup) {
    FAULTFS_OP(kForget, (fs.Forget(ino, nlookup), r.None()));
  };
  ops.forget_multi = [](fuse_req_t req, size_t count, fuse_forget_data* forgets) {
    FAULTFS_OP(kForget, {
      for (size_t i = 0; i < count; ++i) fs.Forget(forgets[i].ino, forgets[i].nlookup);
      r.None();
    });
  };
  ops.getattr = [](fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi) {
    FAULTFS_OP(kGetattr, fs.Getattr(r, ino, fi));
  };
  ops.setattr = [](fuse_req_t req, fuse_ino_t ino, struct stat* attr, int to_set,
                   fuse_file_info* fi) {
    FAULTFS_OP(kSetattr, fs.Setattr(r, ino, attr, to_set, fi));
  };
  ops.readlink = [](fuse_req_t req, fuse_ino_t ino) { FAULTFS_OP(kReadlink, fs.Readlink(r, ino)); };
  ops.mknod = [](fuse_req_t req, fuse_ino_t parent, const char* name, mode_t mode, dev_t rdev) {
    FAULTFS_OP(kMknod, fs.Mknod(r, parent, name, mode, rdev));
  };
  ops.mkdir = [](fuse_req_t req, fuse_ino_t parent, const char* name, mode_t mode) {
    FAULTFS_OP(kMkdir, fs.Mkdir(r, parent, name, mode));
  };
  ops.unlink = [](fuse_req_t req, fuse_ino_t parent, const char* name) {
    FAULTFS_OP(kUnlink, fs.Unlink(r, parent, name));
  };
  ops.rmdir = [](fuse_req_t req, fuse_ino_t parent, const char* name) {
    FAULTFS_OP(kRmdir, fs.Rmdir(r, parent, name));
  };
  ops.symlink = [](fuse_req_t req, const char* target, fuse_ino_t parent, const char* name) {
    FAULTFS_OP(kSymlink, fs.Symlink(r, target, parent, name));
  };
  ops.rename = [](fuse_req_t req, fuse_ino_t parent, const char* name, fuse_ino_t new_parent,
                  const char* new_name, unsigned int flags) {
    FAULTFS_OP(kRename, fs.Rename(r, parent, name, new_parent, new_name, flags));
  };
  ops.link = [](fuse_req_t req, fuse_ino_t ino, fuse_ino_t new_parent, const char* new_name) {
    FAULTFS_OP(kLink, fs.Link(r, ino, new_parent, new_name));
  };
  ops.open = [](fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi) {
    FAULTFS_OP(kOpen, fs.Open(r, ino, fi));
  };
  ops.create = [](fuse_req_t req, fuse_ino_t parent, const char* name, mode_t mode,
                  fuse_file_info* fi) {
    FAULTFS_OP(kCreate, fs.Create(r, parent, name, mode, fi));
  };
  ops.read = [](fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, fuse_file_info* fi) {
    FAULTFS_OP(kRead, fs.Read(r, ino, size, off, fi));
  };
  ops.write_buf = [](fuse_req_t req, fuse_ino_t ino, fuse_bufvec* in, off_t off,
                     fuse_file_info* fi) { FAULTFS_OP(kWrite, fs.WriteBuf(r, ino, in, off, fi)); };
  ops.flush = [](fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi) {
    FAULTFS_OP(kFlush, fs.Flush(r, ino, fi));
  };
  ops.release = [](fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi) {
    FAULTFS_OP(kRelease, fs.Release(r, ino, fi));
  };
  ops.fsync = [](fuse_req_t req, fuse_ino_t ino, int datasync, fuse_file_info* fi) {
    FAULTFS_OP(kFsync, fs.Fsync(r, ino, datasync, fi));
  };
  ops.opendir = [](fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi) {
    FAULTFS_OP(kOpendir, fs.Opendir(r, ino, fi));
  };
  ops.readdir = [](fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, fuse_file_info* fi) {
    FAULTFS_OP(kReaddir, fs.Readdir(r, ino, size, off, fi, false));
  };
  ops.readdirplus = [](fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, fuse_file_info* fi) {
    FAULTFS_OP(kReaddirplus, fs.Readdir(r, ino, size, off, fi, true));
  };
  ops.releasedir = [](fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi) {
    FAULTFS_OP(kReleasedir, fs.Releasedir(r, ino, fi));
  };
  ops.fsyncdir = [](fuse_req_t req, fuse_ino_t ino, int datasync, fuse_file_info* fi) {
    FAULTFS_OP(kFsyncdir, fs.Fsyncdir(r, ino, datasync, fi));
  };
  ops.statfs = [](fuse_req_t req, fuse_ino_t ino) { FAULTFS_OP(kStatfs, fs.Statfs(r, ino)); };
  ops.setxattr = [](fuse_req_t req, fuse_ino_t ino, const char* name, const char* value,
                    size_t size, int flags) {
    FAULTFS_OP(kSetxattr, fs.Setxattr(r, ino, name, value, size, flags));
  };
  ops.getxattr = [](fuse_req_t req, fuse_ino_t ino, const char* name, size_t size) {
    FAULTFS_OP(kGetxattr, fs.Getxattr(r, ino, name, size));
  };
  ops.listxattr = [](fuse_req_t req, fuse_ino_t ino, size_t size) {
    FAULTFS_OP(kListxattr, fs.Listxattr(r, ino, size));
  };
  ops.removexattr = [](fuse_req_t req, fuse_ino_t ino, const char* name) {
    FAULTFS_OP(kRemovexattr, fs.Removexattr(r, ino, name));
  };
  ops.access = [](fuse_req_t req, fuse_ino_t ino, int mask) {
    FAULTFS_OP(kAccess, fs.Access(r, ino, mask));
  };
  ops.fallocate = [](fuse_req_t req, fuse_ino_t ino, int mode, off_t off, off_t len,
                     fuse_file_info* fi) {
    FAULTFS_OP(kFallocate, fs.Fallocate(r, ino, mode, off, len, fi));
  };
  ops.copy_file_range = [](fuse_req_t req, fuse_ino_t ino_in, off_t off_in, fuse_file_info* fi_in,
                           fuse_ino_t ino_out, off_t off_out, fuse_file_info* fi_out, size_t len,
                           int flags) {
    FAULTFS_OP(kCopyFileRange,
               fs.CopyFileRange(r, ino_in, off_in, fi_in, ino_out, off_out, fi_out, len, flags));
  };
  ops.lseek = [](fuse_req_t req, fuse_ino_t ino, off_t off, int whence, fuse_file_info* fi) {
    FAULTFS_OP(kLseek, fs.Lseek(r, ino, off, whence, fi));
  };
  // No getlk/setlk/flock: the kernel then keeps POSIX and flock locks itself, with exactly the
  // semantics of a local filesystem for the processes sharing the mount.
  return ops;
}

#undef FAULTFS_OP

}  // namespace

Passthrough::Passthrough(UniqueFd backing_root, const MountOptions& options)
    : inodes_(std::move(backing_root), options.max_cached_fds, FdBudget::RaiseLimit()),
      timeouts_{options.entry_timeout_s, options.attr_timeout_s, options.negative_timeout_s},
      history_(std::make_unique<WriteHistory>()) {}

Passthrough::~Passthrough() = default;

Result<std::string> Passthrough::SetCapacity(const std::optional<policy::Capacity>& budget) {
  MutexLock lock(space_mu_);
  if (space_owner_ == nullptr) {
    if (!budget) return std::string();  // nothing to lift
    auto root = inodes_.Fd(inodes_.root());
    if (!root.ok()) return root.status();
    auto used = SpaceAccount::Measure(root->get());
    if (!used.ok()) return used.status();
    spdlog::info("capacity: the tree uses {} bytes of data in {} inodes", used->bytes,
                 used->inodes);
    space_owner_ = std::make_unique<SpaceAccount>(*used);
  }
  std::string warning = space_owner_->model().SetBudget(budget);
  space_.store(space_owner_.get(), std::memory_order_release);
  if (!warning.empty()) spdlog::info("{}", warning);  // the caller tells the user
  return warning;
}

Status Passthrough::RemeasureSpace() {
  MutexLock lock(space_mu_);
  if (space_owner_ == nullptr) return Status::Ok();
  auto root = inodes_.Fd(inodes_.root());
  if (!root.ok()) return root.status();
  auto used = SpaceAccount::Measure(root->get());
  if (!used.ok()) return used.status();
  space_owner_->model().SetUsed(*used);
  return Status::Ok();
}

void Passthrough::ForgetWriteHistory() { history_->Clear(); }

const fuse_lowlevel_ops& Passthrough::Ops() {
  static const fuse_lowlevel_ops ops = MakeOps();
  return ops;
}

void Passthrough::Init(fuse_conn_info* conn) {
  // Every write and fsync must reach the daemon (faults and recording depend on it).
  conn->want &= ~static_cast<unsigned>(FUSE_CAP_WRITEBACK_CACHE);
  // Set-id bits: not the first version of the daemon's duty (which would have it kill them on
  // every write, whoever the writer); the second, which the INIT reply asks for behind libfuse's
  // back (mount.cc) and kill_setid.h carries out, keeps a write to one round trip.
  conn->want &= ~static_cast<unsigned>(FUSE_CAP_HANDLE_KILLPRIV);
  if (conn->capable & FUSE_CAP_CACHE_SYMLINKS) conn->want |= FUSE_CAP_CACHE_SYMLINKS;
  // The request loop reads whole requests into memory (see request_loop.h), so no splicing.
  conn->want &=
      ~static_cast<unsigned>(FUSE_CAP_SPLICE_READ | FUSE_CAP_SPLICE_WRITE | FUSE_CAP_SPLICE_MOVE);
  spdlog::info("kernel FUSE protocol {}.{}; max_write {} KiB, max_readahead {} KiB",
               conn->proto_major, conn->proto_minor, conn->max_write / 1024,
               conn->max_readahead / 1024);
}

}  // namespace faultfs::fs
