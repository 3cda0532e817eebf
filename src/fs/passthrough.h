// Passthrough: the FUSE low-level adapter over a backing directory. Each op turns a kernel request
// into *at syscalls on backing descriptors and answers through a Reply. The ops are grouped by
// concern: ops_entry.cc (names), ops_attr.cc (attributes, statfs), ops_file.cc (open files),
// ops_dir.cc (directory streams), ops_xattr.cc (extended attributes); ops_table.cc wires them to
// libfuse and turns exceptions into EIO at the boundary.
#pragma once

#include <spdlog/spdlog.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <utility>

#include "as_caller.h"
#include "backing_files.h"
#include "fault_gate.h"
#include "faultfs/core/mutex.h"
#include "faultfs/core/status.h"
#include "faultfs/core/unique_fd.h"
#include "faultfs/engine/engine.h"
#include "faultfs/fs/mount.h"
#include "fuse_version.h"
#include "handle_registry.h"
#include "init_patch.h"
#include "inode_table.h"
#include "op_stats.h"
#include "open_handle.h"
#include "recorder.h"
#include "reply.h"
#include "space_account.h"

namespace faultfs::fs {

class UringTransport;
class WriteHistory;

// Per-open state of a regular file; its address is fuse_file_info::fh.
struct FileHandle : OpenHandle {
  FileHandle(InodeTable& table, Inode& file, UniqueFd descriptor, InodeTable::OpenSlot slot,
             int open_flags, BackingFiles::Hold mode)
      : OpenHandle(table, file, std::move(descriptor), std::move(slot)),
        flags(open_flags),
        kernel_mode(std::move(mode)) {}
  const int flags;  // the application's open flags, as given
  // Whether the kernel serves its reads and writes in passthrough (backing_files.h).
  const BackingFiles::Hold kernel_mode;
};

struct Timeouts {
  double entry_s;
  double attr_s;
  double negative_s;
};

class Passthrough {
 public:
  Passthrough(UniqueFd backing_root, const MountOptions& options);
  ~Passthrough();

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
  // The fault gate every op passes first (fault_gate.h): the fault machinery, live crash points
  // and the crash state are set there.
  FaultGate& gate() { return gate_; }
  bool Crashed() const { return gate_.Crashed(); }

  // The capacity model: off until a policy with [capacity] arrives (at mount or live); then the
  // tree is measured once and every later change is accounted. nullopt lifts the budget.
  // Sets (or lifts) the capacity budget; the warning SetBudget gives, if any.
  Result<std::string> SetCapacity(const std::optional<policy::Capacity>& budget);
  const SpaceAccount* space() const { return space_.load(std::memory_order_acquire); }

  // Capabilities added to the INIT exchange behind libfuse's back (see init_patch.h).
  InitPatch& init_patch() { return init_patch_; }

  // Kernel passthrough (backing_files.h): on once INIT granted it and the mount started it.
  BackingFiles& backing_files() { return backing_; }
  // Whether a new open of `inode` may go to the kernel in passthrough: the mount does not record,
  // no capacity budget counts writes, and no enabled rule needs the file's reads or writes (data
  // faults, or the write history that fsync failures and stale reads use).
  bool WantsKernelPassthrough(const Inode& inode) const;
  // Whether the mount must see every write of every file: it records, counts bytes against a
  // capacity budget, or keeps the write history some rule needs.
  bool SeesEveryWrite() const;
  // The files open in passthrough now.
  std::vector<Mount::PassthroughFile> PassthroughFiles() const;
  // INIT's reply asks for passthrough with this stacking depth (0: it does not ask).
  void set_passthrough_depth(uint32_t depth) { passthrough_depth_ = depth; }
  uint32_t passthrough_depth() const { return passthrough_depth_; }

  // Recording (--record): null when off.
  void set_recorder(Recorder* recorder) { recorder_ = recorder; }

  // After a live crash replaced the backing directory's contents.
  void ForgetWriteHistory();
  Status RemeasureSpace();
  // The FUSE node id of an inode of the table (which may be gone: the kernel only compares it).
  fuse_ino_t NodeId(const Inode* inode) {
    return inode == &inodes_.root() ? FUSE_ROOT_ID : reinterpret_cast<fuse_ino_t>(inode);
  }

  // Where libfuse's replies go (the session's custom writev): the io_uring transport when set.
  void set_uring(UringTransport* uring) { uring_ = uring; }
  UringTransport* uring() const { return uring_; }

 private:
  // An op's first step, the fault gate: whether it runs (else the gate answered or deferred the
  // request, and the op returns). `f` must live until the op has replied, in every op: the gate
  // may hang on the reply a hook that reads it (a kill after the op, Fault::KillAfter), and the
  // data faults of read, write, fsync and fsyncdir act through it.
  bool Admitted(Reply& r, const OpTarget& t, Fault& f) {
    return gate_.Admit(r, t, f) == FaultGate::Verdict::kRun;
  }

  Inode& InodeOf(fuse_ino_t ino);
  fuse_ino_t FuseIno(Inode& inode);
  // Looks `name` up under `parent` (open as `parent_fd`) and returns the entry with one lookup
  // counted; the inode remembers the name for path-based rules.
  Result<fuse_entry_param> MakeEntry(const Inode& parent, int parent_fd, const char* name);
  // Runs `create`, a system call that makes a directory entry (-1 and errno on failure), with the
  // request's caller as this thread's filesystem identity (as_caller.h); 0 or the errno.
  template <typename CreateFn>
  static int AsCallerOf(fuse_req_t req, CreateFn&& create) {
    const fuse_ctx* ctx = fuse_req_ctx(req);
    AsCaller caller(ctx->uid, ctx->gid);
    if (!caller.status().ok()) {
      spdlog::error("not creating as root for uid {}: {}", ctx->uid, caller.status().ToString());
      return EPERM;
    }
    return create() < 0 ? errno : 0;  // read before the identity goes back
  }
  // Answers an op that created `name` under `parent`: entry, or the error.
  void ReplyNewEntry(Reply& r, const Inode& parent, int parent_fd, const char* name);
  // mknod, mkdir and symlink past their gate: an inode from the capacity budget, the entry made
  // by `make` (the one system call, given the parent's descriptor; -1 and errno on failure) as
  // the caller, its record (`kind`, with the fields `fill` adds), and the new entry as the reply.
  void NewEntry(Reply& r, policy::Op op, Inode& parent, const char* name, record::OpKind kind,
                const std::function<int(int parent_fd)>& make,
                const std::function<void(record::Op&)>& fill);
  // Hands a new open file to the kernel (caching flags decided by the rules on it).
  template <typename SendFn>
  void SendOpen(UniqueFd fd, InodeTable::OpenSlot slot, int flags, Inode& inode, fuse_file_info* fi,
                SendFn&& send);
  // unlinkat() that gives the object's space back when it was the last name; returns the errno.
  int RemoveName(fuse_req_t req, const Inode& dir, int dir_fd, const char* name, int flags);
  // One change to the backing directory, from the moment it may start until it is recorded. On
  // a recording mount it holds the record order, so that changes reach the record in the order
  // they reached the disk. fenced(): a live crash began since the op's gate (whether or not the
  // mount has recovered since), so the op must not touch the backing directory (the crash waited
  // for the order, then rolled back). Done() lets the next change go, once this one is recorded;
  // so does the guard's end. An op runs on one thread from its gate on.
  class Mutation {
   public:
    Mutation() = default;  // no change after all (an open without O_TRUNC): holds nothing
    Mutation(std::unique_lock<std::mutex> order, bool fenced)
        : order_(std::move(order)), fenced_(fenced) {}
    bool fenced() const { return fenced_; }
    void Done() { order_ = {}; }

   private:
    std::unique_lock<std::mutex> order_;
    bool fenced_ = false;
  };
  Mutation BeginMutation() {
    std::unique_lock<std::mutex> order =
        recorder_ != nullptr ? recorder_->Order() : std::unique_lock<std::mutex>();
    const bool fenced = gate_.CrashedSinceAdmit();
    return Mutation(std::move(order), fenced);
  }
  bool recording() const { return recorder_ != nullptr; }
  void Record(record::Op op) {
    if (recorder_ != nullptr) recorder_->Append(std::move(op));
  }
  // A record of `kind` by the request's caller on `path` (object `inode`, if known).
  static record::Op NewRecord(record::OpKind kind, fuse_req_t req, const Inode* inode,
                              std::string path);
  // A record of `kind` on the entry `name` in `parent` (open as `parent_fd`), naming the object
  // the entry holds now: call it after creating an entry, or before removing or renaming one.
  record::Op NewRecordAt(record::OpKind kind, fuse_req_t req, const Inode& parent, int parent_fd,
                         const char* name) const;
  // A write of `n` bytes at `off` that reached the backing file, recorded with its data.
  void RecordWrite(fuse_req_t req, const FileHandle& h, const char* data, size_t n, off_t off);
  // The chmod, chown and truncate a setattr applied (`applied`: FUSE_SET_ATTR_* bits).
  void RecordSetattr(fuse_req_t req, const Inode& inode, const struct stat& attr, int applied);
  // The creation of the regular file `name` in `dir`, open as `fd`.
  void RecordCreate(fuse_req_t req, const Inode& dir, int fd, const char* name, mode_t mode);
  // A truncation to size 0 by an open with O_TRUNC (of the regular file open as `fd`).
  void RecordOpenTruncate(fuse_req_t req, int fd, std::string path);
  // After a create made `name` (open as `fd`) but failed: removes it, if the name is still it.
  void RemoveCreated(fuse_req_t req, const Inode& dir, int dir_fd, const char* name, UniqueFd fd);
  // Opens an existing file by name (create without O_EXCL); a truncation is accounted and recorded.
  UniqueFd OpenExisting(fuse_req_t req, const Inode& dir, int dir_fd, const char* name, int flags);
  // The write itself, `size` bytes of `in`, with its data faults; bytes to report or -errno. What
  // reaches the backing file is recorded. `cached`: the kernel writes back its page cache (a
  // shared mapping's pages), not an application's write.
  ssize_t WriteData(fuse_req_t req, const FileHandle& h, const Fault& f, fuse_bufvec* in,
                    size_t size, off_t off, bool cached);
  // pwrite() of `n` bytes at `off`, recorded as what reached the file; the result of pwrite().
  ssize_t WriteAndRecord(fuse_req_t req, const FileHandle& h, const char* data, size_t n, off_t off,
                         bool cached);
  // Records the destination range a copy_file_range() wrote, as read back from the file.
  void RecordCopy(fuse_req_t req, const FileHandle& dst, size_t n, off_t off);
  // Replies with an entry; if the kernel did not take it, drops the lookup it counted.
  void SendEntry(Reply& r, const fuse_entry_param& e);

  InodeTable inodes_;
  BackingFiles backing_;    // outlives the handles that hold its modes
  HandleRegistry handles_;  // declared after inodes_: handles close before inode descriptors
  const Timeouts timeouts_;
  OpStats stats_;
  UringTransport* uring_ = nullptr;
  FaultGate gate_{inodes_};
  std::unique_ptr<WriteHistory> history_;
  InitPatch init_patch_;
  Recorder* recorder_ = nullptr;
  uint32_t passthrough_depth_ = 0;
  Mutex space_mu_;  // serializes SetCapacity
  std::unique_ptr<SpaceAccount> space_owner_;
  std::atomic<SpaceAccount*> space_{nullptr};  // set once, then lives as long as the mount
};

// "/proc/self/fd/N": how the daemon names an O_PATH descriptor to calls that take only paths.
class ProcFdPath {
 public:
  explicit ProcFdPath(int fd);
  const char* c_str() const { return buf_; }

 private:
  char buf_[32] = {};
};

inline FileHandle& HandleOf(const fuse_file_info* fi) {
  return *reinterpret_cast<FileHandle*>(fi->fh);
}

}  // namespace faultfs::fs
