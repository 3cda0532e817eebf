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
// Lock order: evict_mu_ -> Shard::mu -> Inode::mu_ -> path_mu_. Inode::mu_ is never held across a
// FUSE reply.
#pragma once

#include <fcntl.h>
#include <sys/stat.h>

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "faultfs/core/status.h"
#include "faultfs/core/unique_fd.h"

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

  std::mutex mu_;
  int fd_ = -1;             // O_PATH (or directory) descriptor, -1 when evicted; guarded by mu_
  int users_ = 0;           // live InodeFd leases; the descriptor is not closed while > 0
  bool orphaned_ = false;   // forgotten while leased: the last lease frees it
  bool retired_ = false;    // replaced in the table by a newer file with the same number
  bool referenced_ = true;  // second-chance bit for eviction
  bool pinned_ = false;     // never evict (no usable handle)
  std::vector<unsigned char> handle_;  // saved struct file_handle, empty until first eviction

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
      : table_(o.table_), inode_(std::exchange(o.inode_, nullptr)), fd_(o.fd_) {}
  InodeFd& operator=(InodeFd&&) = delete;
  InodeFd(const InodeFd&) = delete;
  ~InodeFd();
  int get() const { return fd_; }

 private:
  friend class InodeTable;
  InodeFd(InodeTable* table, Inode* inode, int fd) : table_(table), inode_(inode), fd_(fd) {}
  InodeTable* table_ = nullptr;
  Inode* inode_ = nullptr;
  int fd_ = -1;
};

class InodeTable {
 public:
  // `root` is the backing directory (opened O_RDONLY|O_DIRECTORY so it can also serve as the mount
  // descriptor for open_by_handle_at).
  InodeTable(UniqueFd root, size_t max_cached_fds);
  ~InodeTable();
  InodeTable(const InodeTable&) = delete;
  InodeTable& operator=(const InodeTable&) = delete;

  Inode& root() { return *root_; }

  // Finds or adds the inode `st` describes and adds `n` to its lookup count. `fd` is an O_PATH
  // descriptor of that inode; the table keeps it if the inode has none open, else closes it.
  Inode& Ref(const struct stat& st, UniqueFd fd, uint64_t n = 1);
  // Drops `n` lookups (FUSE forget); the inode is freed when its count reaches zero.
  void Unref(Inode& inode, uint64_t n);

  // A descriptor for `inode`, reopened from its file handle if it was evicted.
  Result<InodeFd> Fd(Inode& inode);

  size_t size() const;

  // Records that `inode` is reached as `name` in `parent`.
  void SetName(Inode& inode, const Inode& parent, std::string_view name);
  // After a rename: the inode now at (parent_fd, name), if the table knows it, is named so.
  void Renamed(int parent_fd, const Inode& parent, const char* name);
  // The inode's path relative to the root ("" for the root), from the names it was reached by.
  std::string PathOf(const Inode& inode) const;
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
    mutable std::mutex mu;
    std::unordered_map<InodeKey, std::unique_ptr<Inode>, InodeKeyHash> map;
    std::vector<std::unique_ptr<Inode>> retired;  // out of the map, awaiting the kernel's forget
  };
  static constexpr size_t kShards = 16;
  Shard& ShardFor(const InodeKey& key) { return shards_[InodeKeyHash()(key) % kShards]; }

  friend class InodeFd;
  void AdoptFd(Inode& inode, UniqueFd fd);
  // True if `inode` (evicted) is not the file `fd` refers to: its number was reused.
  bool IsReusedNumber(Inode& inode, int fd);
  void ReleaseLease(Inode& inode);
  void Free(std::unique_ptr<Inode> inode);
  void MaybeEvict();
  size_t EvictPass(size_t target);
  bool TryEvictLocked(Inode& inode);

  UniqueFd root_fd_;
  std::unique_ptr<Inode> root_;
  const size_t max_cached_fds_;
  std::atomic<size_t> cached_fds_{0};
  std::mutex evict_mu_;
  mutable std::mutex path_mu_;  // every inode's parent_ and name_
  std::array<Shard, kShards> shards_;
  std::atomic<uint32_t> epoch_{0};
};

}  // namespace faultfs::fs
