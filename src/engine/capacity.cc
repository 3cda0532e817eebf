#include "faultfs/engine/capacity.h"

#include <algorithm>

#include "faultfs/core/check.h"
#include "faultfs/core/errno_names.h"

namespace faultfs::engine {

WriteFit FitWrite(std::span<const ByteRange> allocated, uint64_t block, uint64_t off, uint64_t len,
                  uint64_t room) {
  FAULTFS_CHECK(block > 0) << "block size 0";
  if (len == 0) return {};
  const uint64_t first = off / block;
  const uint64_t last = (off + len + block - 1) / block;  // exclusive
  const uint64_t may_allocate = room / block;             // whole blocks the budget still has
  uint64_t allocates = 0;                                 // blocks, so far
  // Walks the holes (runs of blocks no allocated range touches) in [first, last), in order.
  auto hole = [&](uint64_t h0, uint64_t h1) -> std::optional<WriteFit> {
    h0 = std::max(h0, first);
    h1 = std::min(h1, last);
    if (h0 >= h1) return std::nullopt;
    if (allocates + (h1 - h0) <= may_allocate) {
      allocates += h1 - h0;
      return std::nullopt;
    }
    // The write stops where the first block that does not fit begins.
    const uint64_t stop = std::max(off, (h0 + (may_allocate - allocates)) * block);
    return WriteFit{stop - off, may_allocate * block};
  };
  uint64_t next = first;  // first block not yet known to be allocated
  for (const ByteRange& r : allocated) {
    if (r.end <= r.begin) continue;
    const uint64_t a0 = r.begin / block;
    const uint64_t a1 = (r.end + block - 1) / block;
    if (a1 <= next) continue;
    if (a0 >= last) break;
    if (auto fit = hole(next, a0)) return *fit;
    next = std::max(next, a1);
  }
  if (auto fit = hole(next, last)) return *fit;
  return {len, allocates * block};
}

std::string CapacityModel::SetBudget(const std::optional<policy::Capacity>& budget) {
  const CapacityUsage now = used();
  const auto limit = [](std::optional<uint64_t> size, std::optional<uint64_t> room,
                        uint64_t in_use) {
    if (size) return *size;
    if (room) return *room > kUnlimited - in_use ? kUnlimited - 1 : in_use + *room;
    return kUnlimited;
  };
  const uint64_t bytes = budget ? limit(budget->bytes, budget->free_bytes, now.bytes) : kUnlimited;
  const uint64_t inodes =
      budget ? limit(budget->inodes, budget->free_inodes, now.inodes) : kUnlimited;
  bytes_limit_.store(bytes, std::memory_order_relaxed);
  inodes_limit_.store(inodes, std::memory_order_relaxed);
  err_.store(budget ? budget->err : ENOSPC, std::memory_order_relaxed);
  limited_.store(budget.has_value(), std::memory_order_release);
  std::string full;
  if (bytes != kUnlimited && now.bytes >= bytes) {
    full = "the tree already holds " + std::to_string(now.bytes) + " bytes of file data, and the " +
           "budget is " + std::to_string(bytes) + ": every write that needs a new block fails";
  }
  if (inodes != kUnlimited && now.inodes >= inodes) {
    full += std::string(full.empty() ? "" : "; ") + "the tree already has " +
            std::to_string(now.inodes) + " inodes, and the budget is " + std::to_string(inodes) +
            ": every create and mkdir fails";
  }
  if (full.empty()) return full;
  return "capacity: " + full + " with " + ErrnoName(err()) +
         " from the start (free_bytes and free_inodes give room left instead)";
}

std::optional<policy::Capacity> CapacityModel::budget() const {
  if (!limited()) return std::nullopt;
  policy::Capacity c;
  if (const uint64_t b = bytes_limit_.load(std::memory_order_relaxed); b != kUnlimited) c.bytes = b;
  if (const uint64_t i = inodes_limit_.load(std::memory_order_relaxed); i != kUnlimited)
    c.inodes = i;
  c.err = err();
  return c;
}

CapacityUsage CapacityModel::used() const {
  return {bytes_used_.load(std::memory_order_relaxed),
          inodes_used_.load(std::memory_order_relaxed)};
}

uint64_t CapacityModel::RoomBytes() const {
  const uint64_t limit = bytes_limit_.load(std::memory_order_relaxed);
  if (limit == kUnlimited) return kUnlimited;
  const uint64_t used = bytes_used_.load(std::memory_order_relaxed);
  return limit > used ? limit - used : 0;
}

bool CapacityModel::ReserveBytes(uint64_t want) {
  const uint64_t limit = bytes_limit_.load(std::memory_order_relaxed);
  uint64_t used = bytes_used_.load(std::memory_order_relaxed);
  do {
    if (limit != kUnlimited && (used > limit || want > limit - used)) return false;
  } while (!bytes_used_.compare_exchange_weak(used, used + want, std::memory_order_relaxed));
  return true;
}

void CapacityModel::Add(std::atomic<uint64_t>& counter, int64_t delta) {
  uint64_t cur = counter.load(std::memory_order_relaxed);
  uint64_t next = 0;
  do {
    // Saturates at 0: usage changed behind the mount's back must not wrap around.
    const uint64_t magnitude =
        delta < 0 ? 0 - static_cast<uint64_t>(delta) : static_cast<uint64_t>(delta);
    next = delta >= 0 ? cur + magnitude : (cur > magnitude ? cur - magnitude : 0);
  } while (!counter.compare_exchange_weak(cur, next, std::memory_order_relaxed));
}

void CapacityModel::Settle(uint64_t reserved, int64_t actual) {
  Add(bytes_used_, actual - static_cast<int64_t>(reserved));
}

bool CapacityModel::TakeInode() {
  const uint64_t limit = inodes_limit_.load(std::memory_order_relaxed);
  uint64_t used = inodes_used_.load(std::memory_order_relaxed);
  do {
    if (limit != kUnlimited && used >= limit) return false;
  } while (!inodes_used_.compare_exchange_weak(used, used + 1, std::memory_order_relaxed));
  return true;
}

void CapacityModel::ReturnInode() { Add(inodes_used_, -1); }

struct statvfs CapacityModel::Report(const struct statvfs& backing) const {
  struct statvfs st = backing;
  const uint64_t frsize = backing.f_frsize != 0 ? backing.f_frsize : backing.f_bsize;
  if (frsize == 0) return st;
  if (const uint64_t limit = bytes_limit_.load(std::memory_order_relaxed); limit != kUnlimited) {
    const uint64_t room = RoomBytes();
    st.f_blocks = (limit + frsize - 1) / frsize;
    st.f_bfree = std::min<uint64_t>(room / frsize, backing.f_bfree);
    st.f_bavail = std::min<uint64_t>(room / frsize, backing.f_bavail);
  }
  if (const uint64_t limit = inodes_limit_.load(std::memory_order_relaxed); limit != kUnlimited) {
    const uint64_t used = inodes_used_.load(std::memory_order_relaxed);
    const uint64_t left = limit > used ? limit - used : 0;
    st.f_files = limit;
    st.f_ffree = std::min<uint64_t>(left, backing.f_ffree);
    st.f_favail = std::min<uint64_t>(left, backing.f_favail);
  }
  return st;
}

}  // namespace faultfs::engine
