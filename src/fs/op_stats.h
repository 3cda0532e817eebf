// How many requests of each kind the daemon answered. Relaxed atomic increments: a few
// nanoseconds per request, readable at any time (logged at unmount, served by the control socket).
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <string>

namespace faultfs::fs {

enum class FuseOp : uint8_t {
  kLookup,
  kForget,
  kGetattr,
  kSetattr,
  kReadlink,
  kMknod,
  kMkdir,
  kUnlink,
  kRmdir,
  kSymlink,
  kRename,
  kLink,
  kOpen,
  kCreate,
  kRead,
  kWrite,
  kFlush,
  kRelease,
  kFsync,
  kOpendir,
  kReaddir,
  kReaddirplus,
  kReleasedir,
  kFsyncdir,
  kStatfs,
  kSetxattr,
  kGetxattr,
  kListxattr,
  kRemovexattr,
  kAccess,
  kFallocate,
  kCopyFileRange,
  kLseek,
  kCount
};

const char* FuseOpName(FuseOp op);

class OpStats {
 public:
  void Count(FuseOp op) {
    counts_[static_cast<size_t>(op)].fetch_add(1, std::memory_order_relaxed);
  }
  uint64_t Get(FuseOp op) const {
    return counts_[static_cast<size_t>(op)].load(std::memory_order_relaxed);
  }
  // "lookup=12 create=3 ..." for the non-zero counts.
  std::string Summary() const;

 private:
  std::array<std::atomic<uint64_t>, static_cast<size_t>(FuseOp::kCount)> counts_{};
};

}  // namespace faultfs::fs
