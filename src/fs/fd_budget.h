// The daemon's descriptor budget. A process may hold at most `limit` descriptors (RLIMIT_NOFILE;
// hard-capped at 20,000 on the machines faultfs runs on, even for root). The daemon spends them on:
//
//   fixed      what it holds whatever the load: stdio, /dev/fuse, one io_uring per ring entry, the
//              control socket, the log files, the backing root (measured once serving starts);
//   transient  what requests in flight and control clients may open at once;
//   open       one per file or directory an application holds open through the mount (its
//              handle's own descriptor: ops on an open file never need another, see InodeTable);
//   cache      idle O_PATH descriptors of inodes (InodeTable), which yield to open files.
//
// Open files may take everything but a reserve of max(1,000 (a quarter of a limit under 4,000),
// fixed + transient + a floor for the cache): 19,000 under a 20,000 limit. One more open is
// refused (ENFILE) instead of leaving the daemon without the descriptors that files already open,
// and its own requests, depend on. Near the limit, and at each refusal, the daemon logs (at most
// every 10 s).
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <mutex>

#include "faultfs/core/mutex.h"

namespace faultfs::fs {

class FdBudget {
 public:
  // The most the reserve ever is, and the fraction of a small limit it is instead.
  static constexpr size_t kMaxReserve = 1000;
  static constexpr size_t kReserveDivisor = 4;
  // Descriptors a request may hold at once beyond the cache (a lease reopened, an entry's new
  // O_PATH descriptor, a handle being opened, a temporary reopen for a data fault).
  static constexpr size_t kPerRequest = 4;
  // The cache keeps at least this many descriptors at full load, so ops on files that are not
  // open do not reopen theirs every time.
  static constexpr size_t kCacheFloor = 64;

  explicit FdBudget(size_t limit);

  // What serving needs besides open files and the cache: `fixed` descriptors held now, and
  // `requests` requests (threads serving, deferred reruns, control clients) at once.
  void SetNeeds(size_t fixed, size_t requests);

  size_t limit() const { return limit_; }
  size_t reserve() const { return reserve_.load(std::memory_order_relaxed); }
  size_t max_open() const { return limit_ - reserve(); }
  size_t open() const { return open_.load(std::memory_order_relaxed); }
  // How many inode descriptors the cache may hold now.
  size_t CacheRoom() const;

  // A slot for one more open file or directory; false (logged) when max_open() are open.
  bool TakeOpen();
  void ReturnOpen() { open_.fetch_sub(1, std::memory_order_relaxed); }

  // The descriptors this process holds now (counted in /proc/self/fd).
  static size_t CountOpenDescriptors();
  // Raises the soft descriptor limit to the hard one and returns it.
  static size_t RaiseLimit();

 private:
  void Warn(bool refused);

  const size_t limit_;
  std::atomic<size_t> needs_;    // fixed + transient
  std::atomic<size_t> reserve_;  // see the header comment
  std::atomic<size_t> open_{0};
  Mutex warn_mu_;
  std::chrono::steady_clock::time_point last_warning_ FAULTFS_GUARDED_BY(warn_mu_){};
  size_t refused_since_warning_ FAULTFS_GUARDED_BY(warn_mu_) = 0;
};

}  // namespace faultfs::fs
