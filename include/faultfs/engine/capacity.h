// The capacity model's bookkeeping: a byte and inode budget, what is used of it, and which part
// of a write fits. Pure and thread-safe; the fs module measures the backing files and feeds it.
//
// Bytes are data blocks allocated to regular files (st_blocks), so a sparse file costs only what
// it stores and preallocated space (fallocate) is paid once, when allocated: writes into it never
// fail. Every object under the mount root (file, directory, symlink, node) costs one inode.
#pragma once

#include <sys/statvfs.h>

#include <atomic>
#include <cstdint>
#include <optional>
#include <span>
#include <string>

#include "faultfs/policy/policy.h"

namespace faultfs::engine {

struct CapacityUsage {
  uint64_t bytes = 0;
  uint64_t inodes = 0;
};

// A byte range [begin, end).
struct ByteRange {
  uint64_t begin = 0;
  uint64_t end = 0;
};

// How much of a write of `len` bytes at `off` fits when the file's allocated ranges are
// `allocated` (sorted, not overlapping) and `room` bytes may still be allocated: the longest
// prefix whose unallocated blocks (of `block` bytes) fit, and the bytes that prefix allocates.
struct WriteFit {
  uint64_t len = 0;
  uint64_t allocates = 0;
};
WriteFit FitWrite(std::span<const ByteRange> allocated, uint64_t block, uint64_t off, uint64_t len,
                  uint64_t room);

class CapacityModel {
 public:
  explicit CapacityModel(CapacityUsage used) : bytes_used_(used.bytes), inodes_used_(used.inodes) {}

  // A new budget (nullopt: unlimited, usage is still tracked so a later budget is exact); room
  // left (free_bytes, free_inodes) is added to what is used now. Returns a warning when the tree
  // already fills the budget (every allocation or create will fail), "" otherwise.
  std::string SetBudget(const std::optional<policy::Capacity>& budget);
  std::optional<policy::Capacity> budget() const;
  bool limited() const { return limited_.load(std::memory_order_acquire); }
  int err() const { return err_.load(std::memory_order_relaxed); }  // ENOSPC or EDQUOT

  CapacityUsage used() const;
  // The tree was measured anew (after a live crash replaced its contents).
  void SetUsed(CapacityUsage used) {
    bytes_used_.store(used.bytes, std::memory_order_relaxed);
    inodes_used_.store(used.inodes, std::memory_order_relaxed);
  }
  uint64_t RoomBytes() const;  // bytes that may still be allocated (UINT64_MAX: no byte budget)

  // Reserves `want` bytes if they fit, else nothing.
  bool ReserveBytes(uint64_t want);
  // Settles a change that reserved `reserved` and in fact allocated `actual` (negative: freed).
  // Never refused: the change has happened.
  void Settle(uint64_t reserved, int64_t actual);
  // An inode for a new object, if the budget has one left.
  bool TakeInode();
  void ReturnInode();

  // What statfs reports: the budget as the disk's size, capped by what the backing filesystem
  // really has free (it can fill up first).
  struct statvfs Report(const struct statvfs& backing) const;

 private:
  static constexpr uint64_t kUnlimited = UINT64_MAX;
  static void Add(std::atomic<uint64_t>& counter, int64_t delta);  // saturating at 0

  std::atomic<bool> limited_{false};
  std::atomic<uint64_t> bytes_limit_{kUnlimited};
  std::atomic<uint64_t> inodes_limit_{kUnlimited};
  std::atomic<int> err_{ENOSPC};
  std::atomic<uint64_t> bytes_used_;
  std::atomic<uint64_t> inodes_used_;
};

}  // namespace faultfs::engine
