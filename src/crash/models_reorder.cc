// `reorder-k`: within the epoch that ends at the crash point, any set of at most k ops is missing
// while every other op persisted. Sets that are a suffix of the epoch are left out: they are the
// plain state of an earlier crash point, not a reordering.
#include <algorithm>

#include "models.h"

namespace faultfs::crash::models {
namespace {

using record::Op;

// The size-`size` subset of {0 .. n-1} with colex rank `rank`. Colex order ends with the suffix
// {n - size .. n - 1}, so ranks below C(n, size) - 1 are exactly the non-suffix subsets.
std::vector<uint64_t> UnrankColex(uint64_t rank, uint64_t size, uint64_t n) {
  std::vector<uint64_t> subset;
  for (uint64_t pos = size; pos >= 1; --pos) {
    uint64_t lo = pos - 1;  // C(pos - 1, pos) = 0 <= rank
    uint64_t hi = n - 1;
    while (lo < hi) {  // the largest x with C(x, pos) <= rank
      const uint64_t mid = lo + (hi - lo + 1) / 2;
      if (Binomial(mid, pos) <= rank) {
        lo = mid;
      } else {
        hi = mid - 1;
      }
    }
    subset.push_back(lo);
    rank -= Binomial(lo, pos);
    n = lo;
  }
  std::reverse(subset.begin(), subset.end());
  return subset;
}

class ReorderPlan : public ModelPlan {
 public:
  ReorderPlan(const std::vector<Op>& ops, uint32_t k) : ops_(ops), k_(k), epochs_(ops) {}

  bool KeepsPoint(uint32_t c) const override {
    return !record::IsPersistencePoint(ops_[c - 1].kind);
  }
  uint64_t Count(uint32_t c) const override {
    const uint64_t n = epochs_.DiskOpsInEpoch(c);
    uint64_t count = 1;
    for (uint64_t size = 1; size <= std::min<uint64_t>(k_, n); ++size) {
      count = SaturatingAdd(count, Binomial(n, size) - 1);
    }
    return std::min(count, kMaxStatesPerPoint);
  }
  CrashState Make(uint32_t c, uint64_t index) const override;

 private:
  std::vector<uint32_t> Missing(const std::vector<uint32_t>& epoch, uint64_t index) const;

  const std::vector<Op>& ops_;
  uint32_t k_;
  EpochIndex epochs_;
};

// Variant order: by the size of the missing set, then colex rank.
std::vector<uint32_t> ReorderPlan::Missing(const std::vector<uint32_t>& epoch,
                                           uint64_t index) const {
  uint64_t rest = index - 1;
  for (uint64_t size = 1; size <= std::min<uint64_t>(k_, epoch.size()); ++size) {
    const uint64_t here = Binomial(epoch.size(), size) - 1;
    if (rest >= here) {
      rest -= here;
      continue;
    }
    std::vector<uint32_t> missing;
    for (uint64_t at : UnrankColex(rest, size, epoch.size())) missing.push_back(epoch[at]);
    return missing;
  }
  return {};
}

CrashState ReorderPlan::Make(uint32_t c, uint64_t index) const {
  CrashState state;
  if (index == 0) {
    AppendWhole(ops_, 0, c, &state.applied);
    return state;
  }
  const std::vector<uint32_t> epoch = DiskOps(ops_, epochs_.Start(c), c);
  const std::vector<uint32_t> missing = Missing(epoch, index);
  auto is_missing = [&](uint32_t i) {
    return std::binary_search(missing.begin(), missing.end(), i);
  };
  uint32_t last_persisted = 0;
  for (uint32_t i : epoch) {
    if (!is_missing(i)) last_persisted = i;
  }
  for (uint32_t i : DiskOps(ops_, 0, c)) {
    if (!is_missing(i)) {
      state.applied.push_back(Applied{.op = i});
    } else if (i < last_persisted) {
      state.deviations.push_back(
          Deviation{.kind = Deviation::Kind::kReordered, .op = i, .later = last_persisted});
    }
  }
  return state;
}

}  // namespace

std::unique_ptr<ModelPlan> MakeReorderPlan(const std::vector<Op>& ops, uint32_t k) {
  return std::make_unique<ReorderPlan>(ops, k);
}

}  // namespace faultfs::crash::models
