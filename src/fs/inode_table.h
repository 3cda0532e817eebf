// The inode table: one Inode per backing (st_ino, st_dev) the kernel knows about, with its FUSE
// lookup count.
//
// Descriptors. Each inode may hold an O_PATH descriptor for *at syscalls. The process may not hold
// more than 20,000 descriptors on these machines, and the kernel can know far more inodes than
// that, so the descriptors form a bounded cache: when more than `max_cached_fds` are open, idle
// ones are closed (clock / second-chance order) after their file handle (name_to_handle_at) is
// saved, and reopened from it with open_by_handle_at when next needed. Inodes whose handle cannot
// be saved (filesystem without export support, another device) or whose link count is zero (an
// unlinked file has no handle that reopens it) keep their descriptor.
//
// Inode numbers are reused. While an inode holds a descriptor its file cannot be freed, so its
// number cannot be reused; once its descriptor is evicted, it can. A lookup that finds an evicted
// inode therefore compares file handles (which include the generation): if they differ, the old
// inode is retired (taken out of the table, left to the kernel's forget, ESTALE from then on) and
// the new file gets an inode of its own.
//
// Lifetime: the table owns each inode until its lookup count reaches zero. An op may still hold a
// descriptor lease then (the kernel can forget an inode as soon as it has the reply that ends the
// op, before the op's lease is released), so a forgotten inode with leases is orphaned: out of the
// table, freed by its last lease.
//
// Paths. Each inode remembers the parent and name it was last reached by (lookup, create,
// rename), so rules on paths can be matched without keeping path strings per inode; PathOf() walks
// the parents. A hard-linked file answers to the name it was last reached by.
//
// Live crashes. After a live crash rolled the backing directory back (live_crash.h), every inode
// known until then names an object that is gone. MarkAllStale() starts a new epoch: inodes of
// earlier epochs are stale (ops on them fail with ESTALE, and a lookup that finds one by number
// retires it like a reused number), and new lookups get new inodes.
//
// Open files. Each open file or directory (FileHandle, DirHandle) holds a descriptor of its own,
// registered with its inode (OpenLink). An inode with no descriptor of its own borrows one of
// those, so an op on a file that is open never needs a new descriptor, and never fails for want of
// one; a released handle whose descriptor is borrowed is closed by the last borrower. The
// descriptors are budgeted (fd_budget.h): open files take slots, and the cache shrinks to the room
// they leave.
//
// Unlinked files. When an op removes a file's last name, the table drops the inode's O_PATH
// descriptor at once (Unlinked): the daemon must not keep a deleted file's blocks allocated until
// the kernel's forget arrives, which may come after the application's next write (a write right
// after `rm` of a large file failed with ENOSPC in 2 of 8 runs). Open handles still reach it; with
// none, ops on it fail with ESTALE.
//
// Lock order: evict_mu_ -> Shard::mu -> Inode::mu_ -> path_mu_. Inode::mu_ is never held across a
// FUSE reply.
#pragma once

#include <fcntl.h>
#include <sys/stat.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "faultfs/core/mutex.h"
#include "faultfs/core/status.h"
#include "faultfs/core/unique_fd.h"
#include "fd_budget.h"

namespace faultfs::fs {

struct InodeKey {
  ino_t ino = 0;
  dev_t dev = 0;
  bool operator==(const InodeKey&) const = default;
};

struct InodeKeyHash {
  size_t operator()(const InodeKey& k) const noexcept {
    return std::hash<uint64_t>()(k.ino * 0x9E3779B97F4A7C15ULL ^ k.dev);
  }
};

// An open file or directory of an inode, as the table sees it: its descriptor, which ops on the
// inode may borrow. Embedded in the handle; guarded by the inode's mutex.
struct OpenLink {
  int fd = -1;
  OpenLink* prev = nullptr;
  OpenLink* next = nullptr;
};

class Inode {
 public:
  Inode(InodeKey key, mode_t type, uint32_t epoch = 0) : key_(key), type_(type), epoch_(epoch) {}
  Inode(const Inode&) = delete;
  Inode& operator=(const Inode&) = delete;

  const InodeKey& key() const { return key_; }
  mode_t type() const { return type_; }  // S_IFMT bits; an inode never changes type
  bool is_dir() const { return S_ISDIR(type_); }
  bool is_symlink() const { return S_ISLNK(type_); }

 private:
  friend class InodeTable;
  friend class InodeFd;
  const InodeKey key_;
  const mode_t type_;
  const uint32_t epoch_;  // the table's epoch when this inode was made (see MarkAllStale)
  uint64_t nlookup_ = 0;  // guarded by the shard mutex of the table holding this inode

  // The inode's own state below: its descriptor, its leases, its open files.
  Mutex mu_;
  // O_PATH (or directory) descriptor, -1 when evicted.
  int fd_ FAULTFS_GUARDED_BY(mu_) = -1;
  // Live InodeFd leases; the descriptor is not closed while > 0.
  int users_ FAULTFS_GUARDED_BY(mu_) = 0;
  bool orphaned_ FAULTFS_GUARDED_BY(mu_) =
      false;  // forgotten while leased: the last lease frees it
  // Replaced in the table by a newer file with the same number; guarded by the shard mutex of
  // the table holding this inode, as nlookup_.
  bool retired_ = false;
  bool referenced_ FAULTFS_GUARDED_BY(mu_) = true;  // second-chance bit for eviction
  bool pinned_ FAULTFS_GUARDED_BY(mu_) = false;     // never evict (no usable handle)
  // Its last name was removed: no descriptor of its own is kept.
  bool unlinked_ FAULTFS_GUARDED_BY(mu_) = false;
  OpenLink* open_ FAULTFS_GUARDED_BY(mu_) = nullptr;  // open files and directories of this inode
  int borrowers_ FAULTFS_GUARDED_BY(mu_) = 0;         // leases on a descriptor of `open_`
  // Descriptors of released handles, closed by the last borrower.
  std::vector<int> closing_ FAULTFS_GUARDED_BY(mu_);
  // Saved struct file_handle, empty until first eviction.
  std::vector<unsigned char> handle_ FAULTFS_GUARDED_BY(mu_);

  // Where the inode was last reached from; guarded by the table's path_mu_.
  InodeKey parent_{};
  std::string name_;
};

// A lease on an inode's descriptor: the descriptor stays open while the lease lives.
class InodeTable;

class InodeFd {
 public:
  InodeFd() = default;
  InodeFd(InodeFd&& o) noexcept
      : table_(o.table_),
        inode_(std::exchange(o.inode_, nullptr)),
        fd_(o.fd_),
        borrowed_(o.borrowed_) {}
  InodeFd& operator=(InodeFd&&) = delete;
  InodeFd(const InodeFd&) = delete;
  ~InodeFd();
  int get() const { return fd_; }

 private:
  friend class InodeTable;
  InodeFd(InodeTable* table, Inode* inode, int fd, bool borrowed)
      : table_(table), inode_(inode), fd_(fd), borrowed_(borrowed) {}
  InodeTable* table_ = nullptr;
  Inode* inode_ = nullptr;
  int fd_ = -1;
  bool borrowed_ = false;  // an open handle's descriptor, not the inode's own
};

class InodeTable {
 public:
  // `root` is the backing directory (opened O_RDONLY|O_DIRECTORY so it can also serve as the mount
  // descriptor for open_by_handle_at). `fd_limit` is the process's descriptor limit (the budget's);
  // `max_cached_fds` 0 means half of it.
  InodeTable(UniqueFd root, size_t max_cached_fds, size_t fd_limit);
  ~InodeTable();
  InodeTable(const InodeTable&) = delete;
  InodeTable& operator=(const InodeTable&) = delete;

  Inode& root() { return *root_; }

  // Finds or adds the inode `st` describes and adds `n` to its lookup count. `fd` is an O_PATH
  // descriptor of that inode; the table keeps it if the inode has none open, else closes it.
  Inode& Ref(const struct stat& st, UniqueFd fd, uint64_t n = 1);
  // Drops `n` lookups (FUSE forget); the inode is freed when its count reaches zero.
  void Unref(Inode& inode, uint64_t n);

  // A descriptor for `inode`: its own, else an open handle's, else reopened from its file handle.
  Result<InodeFd> Fd(Inode& inode);

  // A budget slot for one open file or directory, held by its handle (FdBudget): taking it closes
  // idle cached descriptors when the open files need their room. Empty when the daemon already
  // holds as many open files as it can (the open is then refused with ENFILE).
  class OpenSlot {
   public:
    OpenSlot() = default;
    OpenSlot(OpenSlot&& o) noexcept : table_(std::exchange(o.table_, nullptr)) {}
    OpenSlot& operator=(OpenSlot&& o) noexcept {
      std::swap(table_, o.table_);
      return *this;
    }
    OpenSlot(const OpenSlot&) = delete;
    ~OpenSlot() {
      if (table_ != nullptr) table_->budget_.ReturnOpen();
    }
    explicit operator bool() const { return table_ != nullptr; }

   private:
    friend class InodeTable;
    explicit OpenSlot(InodeTable* table) : table_(table) {}
    InodeTable* table_ = nullptr;
  };
  OpenSlot TakeOpenSlot();
  // An open file or directory of `inode` with descriptor `link.fd`, until DetachOpen (which closes
  // `fd`, at once or when the last op borrowing it ends).
  void AttachOpen(Inode& inode, OpenLink& link);
  void DetachOpen(Inode& inode, OpenLink& link, UniqueFd fd);
  // An op removed a name of the object `key`: if that was its last name, its descriptor goes.
  void Unlinked(const InodeKey& key);
  FdBudget& budget() { return budget_; }

  size_t size() const;

  // Records that `inode` is reached as `name` in `parent`.
  void SetName(Inode& inode, const Inode& parent, std::string_view name);
  // After a rename: the inode now at (parent_fd, name), if the table knows it, is named so.
  void Renamed(int parent_fd, const Inode& parent, const char* name);
  // The inode's path relative to the root ("" for the root), from the names it was reached by.
  std::string PathOf(const Inode& inode) const;
  // The path of `inode` when given, else of the entry `name` in `parent` ("" when neither is).
  std::string PathOf(const Inode* inode, const Inode* parent, const char* name) const;
  size_t cached_fds() const { return cached_fds_.load(std::memory_order_relaxed); }

  // After a live crash: every inode known now is stale (the root never is).
  void MarkAllStale() { epoch_.fetch_add(1, std::memory_order_release); }
  bool IsStale(const Inode& inode) const {
    return inode.epoch_ != epoch_.load(std::memory_order_acquire) && &inode != root_.get();
  }
  // Every inode the table knows (retired ones too), with the directory and name it was last
  // reached by; `parent` is null when that directory is no longer known. The pointers only
  // identify inodes: a concurrent forget may free them.
  struct KnownName {
    const Inode* inode = nullptr;
    const Inode* parent = nullptr;
    std::string name;
  };
  std::vector<KnownName> KnownNames() const;
  size_t max_cached_fds() const { return max_cached_fds_; }

 private:
  struct Shard {
    mutable Mutex mu;
    std::unordered_map<InodeKey, std::unique_ptr<Inode>, InodeKeyHash> map;
    std::vector<std::unique_ptr<Inode>> retired;  // out of the map, awaiting the kernel's forget
  };
  static constexpr size_t kShards = 16;
  Shard& ShardFor(const InodeKey& key) { return shards_[InodeKeyHash()(key) % kShards]; }

  friend class InodeFd;
  void AdoptFd(Inode& inode, UniqueFd fd);
  void ReleaseLease(Inode& inode, bool borrowed);
  // True if the inode found for `fd`'s number is not that file any more (see Ref).
  bool IsAnotherFile(Inode& inode, int fd);
  size_t CacheLimit() const { return std::min(max_cached_fds_, budget_.CacheRoom()); }
  void Evict(bool wait);
  void Free(std::unique_ptr<Inode> inode);
  void MaybeEvict() { Evict(false); }
  size_t EvictPass(size_t target);
  bool TryEvictLocked(Inode& inode) FAULTFS_REQUIRES(inode.mu_);

  UniqueFd root_fd_;
  std::unique_ptr<Inode> root_;
  const size_t max_cached_fds_;
  FdBudget budget_;
  std::atomic<size_t> cached_fds_{0};
  Mutex evict_mu_;
  mutable Mutex path_mu_;  // every inode's parent_ and name_
  std::array<Shard, kShards> shards_;
  std::atomic<uint32_t> epoch_{0};
};

}  // namespace faultfs::fs
