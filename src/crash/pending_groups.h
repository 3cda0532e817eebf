// The ways the pending entry ops of a crash point (pp, pp-strict) may be missing from the disk. A
// pending op is missing only together with every pending op that needs it, so the states are the
// drop sets closed under "is needed by". Pending ops linked by "needs" form a group; groups vary
// independently, and each group lists its drop sets smallest first (docs/persistence-models.md,
// "Numbering").
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "faultfs/core/mutex.h"
#include "faultfs/crash/history.h"

namespace faultfs::crash::models {

// A group offers at most this many drop sets (its smallest ones).
inline constexpr size_t kMaxDropSetsPerGroup = 4096;

// Drop sets by the shape of a group (they repeat from crash point to crash point). Thread-safe.
class DropSetCache {
 public:
  // The drop sets of a group of `up.size()` ops where up[k] has bit j set when op j needs op k:
  // masks (bit k: op k dropped), by size, then by value; the first is 0.
  std::shared_ptr<const std::vector<uint64_t>> Get(const std::vector<uint64_t>& up);

 private:
  Mutex mu_;
  std::unordered_map<std::string, std::shared_ptr<const std::vector<uint64_t>>> sets_
      FAULTFS_GUARDED_BY(mu_);
};

class PendingGroups {
 public:
  // `pending`: the entry ops that vary, sorted (at most 64).
  PendingGroups(const History& history, const std::vector<uint32_t>& pending, DropSetCache& cache);
  // How many states they give: the product of the groups' drop sets (saturated).
  uint64_t Count() const;
  // The ops state `index` drops (sorted): digit g of `index` (mixed radix, the first group least
  // significant) picks group g's drop set.
  std::vector<uint32_t> Dropped(uint64_t index) const;

 private:
  struct Group {
    std::vector<uint32_t> ops;  // log order
    std::shared_ptr<const std::vector<uint64_t>> drops;
  };
  std::vector<Group> groups_;
};

}  // namespace faultfs::crash::models
