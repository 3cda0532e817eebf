// `reorder-k`: within the epoch that ends at the crash point, any set of at most k ops is missing
// while every other op persisted (but the ops that need a missing one); and a few larger sets,
// drawn with the seed. Sets that are a suffix of the epoch are left out: they are the plain state
// of an earlier crash point, not a reordering.
#include <algorithm>
#include <string>

#include "faultfs/core/random.h"
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

// Sets larger than k drawn per crash point (when there are more than this many of them; fewer
// are all enumerated).
constexpr uint64_t kDrawsBeyondK = 8;

// Non-suffix sets of sizes [from, to] of an epoch of n ops, counted up to `cap`.
uint64_t SetsOfSizes(uint64_t n, uint64_t from, uint64_t to, uint64_t cap = UINT64_MAX) {
  uint64_t count = 0;
  for (uint64_t size = from; size <= std::min(to, n) && count <= cap; ++size) {
    count = SaturatingAdd(count, Binomial(n, size) - 1);
  }
  return count;
}

class ReorderPlan : public ModelPlan {
 public:
  ReorderPlan(const std::vector<Op>& ops, const History& history, uint32_t k, uint64_t seed)
      : ops_(ops), history_(history), k_(k), seed_(DeriveSeed(seed, "reorder")), epochs_(ops) {}

  bool KeepsPoint(uint32_t c) const override {
    return !record::IsPersistencePoint(ops_[c - 1].kind);
  }
  uint64_t Count(uint32_t c) const override {
    const uint64_t n = epochs_.DiskOpsInEpoch(c);
    const uint64_t count = SaturatingAdd(1, SetsOfSizes(n, 1, EnumeratedSizes(n)));
    return std::min(SaturatingAdd(count, Draws(n)), kMaxStatesPerPoint);
  }
  CrashState Make(uint32_t c, uint64_t index) const override;

 private:
  // Sets of up to this size are enumerated: k, or every size when the larger sets are few.
  uint64_t EnumeratedSizes(uint64_t n) const {
    return SetsOfSizes(n, k_ + 1, n, kDrawsBeyondK) <= kDrawsBeyondK ? n : k_;
  }
  uint64_t Draws(uint64_t n) const { return EnumeratedSizes(n) < n ? kDrawsBeyondK : 0; }
  std::vector<uint32_t> Missing(const std::vector<uint32_t>& epoch, uint32_t c,
                                uint64_t index) const;
  std::vector<uint64_t> Draw(uint64_t n, uint32_t c, uint64_t draw) const;

  const std::vector<Op>& ops_;
  const History& history_;
  uint32_t k_;
  uint64_t seed_;
  EpochIndex epochs_;
};

// Variant order: by the size of the missing set, then colex rank; then the drawn sets.
std::vector<uint32_t> ReorderPlan::Missing(const std::vector<uint32_t>& epoch, uint32_t c,
                                           uint64_t index) const {
  const uint64_t n = epoch.size();
  uint64_t rest = index - 1;
  std::vector<uint64_t> picked;
  for (uint64_t size = 1; size <= EnumeratedSizes(n) && picked.empty(); ++size) {
    const uint64_t here = Binomial(n, size) - 1;
    if (rest >= here) {
      rest -= here;
    } else {
      picked = UnrankColex(rest, size, n);
    }
  }
  if (picked.empty()) picked = Draw(n, c, rest);
  std::vector<uint32_t> missing;
  missing.reserve(picked.size());
  for (uint64_t at : picked) missing.push_back(epoch[at]);
  return missing;
}

// Drawn set number `draw` of crash point c: a size above k, then that many ops of the epoch,
// uniformly; a suffix is drawn again.
std::vector<uint64_t> ReorderPlan::Draw(uint64_t n, uint32_t c, uint64_t draw) const {
  Rng rng(DeriveSeed(seed_, std::to_string(c) + "/" + std::to_string(draw)));
  for (;;) {
    const uint64_t size = k_ + 1 + rng.Below(n - k_);
    std::vector<uint64_t> all(n);
    for (uint64_t i = 0; i < n; ++i) all[i] = i;
    for (uint64_t i = 0; i < size; ++i) std::swap(all[i], all[i + rng.Below(n - i)]);
    std::vector<uint64_t> set(all.begin(), all.begin() + static_cast<long>(size));
    std::sort(set.begin(), set.end());
    if (set.front() != n - size) return set;  // a sorted set is a suffix iff it starts there
  }
}

CrashState ReorderPlan::Make(uint32_t c, uint64_t index) const {
  CrashState state;
  if (index == 0) {
    AppendWhole(ops_, 0, c, &state.applied);
    return state;
  }
  const uint32_t start = epochs_.Start(c);
  const std::vector<uint32_t> epoch = DiskOps(ops_, start, c);
  const std::vector<uint32_t> chosen = Missing(epoch, c, index);
  // The ops that need a missing op cannot have persisted either.
  const auto lost = LostWith(history_, chosen, c);
  std::vector<uint32_t> missing = chosen;
  for (const auto& [op, need] : lost) missing.push_back(op);
  std::sort(missing.begin(), missing.end());
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
    } else if (i < last_persisted && std::binary_search(chosen.begin(), chosen.end(), i)) {
      state.deviations.push_back(
          Deviation{.kind = Deviation::Kind::kReordered, .op = i, .later = last_persisted});
    }
  }
  for (const auto& [op, need] : lost) {
    state.deviations.push_back(
        Deviation{.kind = Deviation::Kind::kLostWith, .op = op, .later = need});
  }
  return state;
}

}  // namespace

std::unique_ptr<ModelPlan> MakeReorderPlan(const std::vector<Op>& ops, const History& history,
                                           uint32_t k, uint64_t seed) {
  return std::make_unique<ReorderPlan>(ops, history, k, seed);
}

}  // namespace faultfs::crash::models
