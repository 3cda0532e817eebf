// Kernel passthrough (FUSE_PASSTHROUGH, Linux 6.9+): an open answered with a backing file has its
// reads, writes and mmap served by the kernel straight from that file; opens, fsyncs, attributes
// and every name op still reach the daemon. faultfs uses it for files no rule of the data path
// can reach (Passthrough::WantsKernelPassthrough says which).
//
// The kernel keeps one backing file per inode and allows no mixing of modes: while an inode is
// open in passthrough every new open of it must be too (else the application's open() fails with
// EIO), and it enters passthrough only while no open holds it in another mode (else the same). So
// a file's mode is chosen when it has no open and holds until its last open is closed, even if a
// rule that reaches its data arrives meanwhile (the control commands say so to the user).
// BackingFiles keeps, per inode, its backing file's id and how many opens hold it in each mode.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <unordered_map>
#include <utility>

#include "faultfs/core/mutex.h"

namespace faultfs::fs {

class Inode;

class BackingFiles {
 public:
  BackingFiles() = default;
  BackingFiles(const BackingFiles&) = delete;
  BackingFiles& operator=(const BackingFiles&) = delete;
  ~BackingFiles() = default;  // the connection's end frees the kernel's backing files

  // After INIT: the kernel granted passthrough on the /dev/fuse descriptor `dev_fd`.
  void Start(int dev_fd) { dev_fd_.store(dev_fd, std::memory_order_release); }
  // Before the descriptor closes (its number may then name another file).
  void Stop() { dev_fd_.store(-1, std::memory_order_release); }
  bool on() const { return dev_fd_.load(std::memory_order_acquire) >= 0; }

  // One open's hold on its inode's mode, given back when the open ends (its FileHandle keeps it).
  class Hold {
   public:
    Hold() = default;
    Hold(Hold&& other) noexcept
        : files_(std::exchange(other.files_, nullptr)),
          inode_(other.inode_),
          backing_id_(other.backing_id_) {}
    Hold& operator=(Hold&&) = delete;
    Hold(const Hold&) = delete;
    ~Hold();
    // > 0: the open goes to the kernel in passthrough, with this backing file.
    int32_t backing_id() const { return backing_id_; }

   private:
    friend class BackingFiles;
    Hold(BackingFiles* files, const Inode* inode, int32_t backing_id)
        : files_(files), inode_(inode), backing_id_(backing_id) {}
    BackingFiles* files_ = nullptr;
    const Inode* inode_ = nullptr;
    int32_t backing_id_ = 0;
  };

  // The mode of a new open of `inode`, whose own descriptor is `fd`: passthrough when `wanted`
  // and no open holds the inode in the other mode, and always while opens hold it in
  // passthrough (the kernel demands it).
  Hold Open(const Inode& inode, int fd, bool wanted);

  // Calls `visit` with each inode held in passthrough now and how many opens hold it, under the
  // lock that keeps those opens (and so the inodes) alive.
  void ForEachHeld(const std::function<void(const Inode&, size_t)>& visit) const;

 private:
  struct Modes {
    int32_t backing_id = 0;  // > 0 while passthrough opens hold the inode
    size_t passthrough = 0;
    size_t other = 0;
  };
  void Release(const Inode* inode, bool passthrough);
  // Registers `fd` with the kernel as the backing file of `modes`; false (logged once) if refused.
  bool Register(int fd, Modes& modes) FAULTFS_REQUIRES(mu_);
  void Unregister(int32_t backing_id) const;  // a no-op for 0

  std::atomic<int> dev_fd_{-1};
  mutable Mutex mu_;
  std::unordered_map<const Inode*, Modes> modes_ FAULTFS_GUARDED_BY(mu_);
  std::atomic<bool> failure_logged_{false};
};

}  // namespace faultfs::fs
