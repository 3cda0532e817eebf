#include "pending_groups.h"

#include <algorithm>
#include <numeric>
#include <set>

#include "faultfs/core/mutex.h"
#include "models.h"

namespace faultfs::crash::models {
namespace {

// Every drop set of a group closed under "is needed by", level by level: a set of size L + 1
// is one of size L plus an op whose needers it already drops (every closed set is reached so:
// remove an op that needs no other op of the set). Stops after `cap` sets.
std::vector<uint64_t> ClosedDropSets(const std::vector<uint64_t>& up, size_t cap) {
  std::vector<uint64_t> all{0};
  std::vector<uint64_t> level{0};
  while (!level.empty() && all.size() < cap) {
    std::set<uint64_t> next;
    for (uint64_t dropped : level) {
      for (size_t k = 0; k < up.size(); ++k) {
        const uint64_t bit = uint64_t{1} << k;
        if ((dropped & bit) == 0 && (up[k] & ~dropped) == 0) next.insert(dropped | bit);
      }
    }
    for (uint64_t set : next) {
      if (all.size() == cap) break;
      all.push_back(set);
    }
    level.assign(next.begin(), next.end());
  }
  return all;
}

std::string ShapeKey(const std::vector<uint64_t>& up) {
  std::string key;
  for (uint64_t mask : up) key.append(reinterpret_cast<const char*>(&mask), sizeof(mask));
  return key;
}

// Union-find root of `i`.
size_t Root(std::vector<size_t>& parent, size_t i) {
  while (parent[i] != i) i = parent[i] = parent[parent[i]];
  return i;
}

}  // namespace

std::shared_ptr<const std::vector<uint64_t>> DropSetCache::Get(const std::vector<uint64_t>& up) {
  const std::string key = ShapeKey(up);
  MutexLock lock(mu_);
  auto& sets = sets_[key];
  if (sets == nullptr) {
    sets = std::make_shared<const std::vector<uint64_t>>(ClosedDropSets(up, kMaxDropSetsPerGroup));
  }
  return sets;
}

PendingGroups::PendingGroups(const History& history, const std::vector<uint32_t>& pending,
                             DropSetCache& cache) {
  FAULTFS_CHECK(pending.size() <= 64) << pending.size() << " pending ops vary";
  FAULTFS_CHECK(std::is_sorted(pending.begin(), pending.end())) << "pending ops out of order";
  auto local = [&](uint32_t op) {
    const auto it = std::lower_bound(pending.begin(), pending.end(), op);
    return it != pending.end() && *it == op ? static_cast<size_t>(it - pending.begin())
                                            : pending.size();
  };
  std::vector<size_t> parent(pending.size());
  std::iota(parent.begin(), parent.end(), size_t{0});
  for (size_t j = 0; j < pending.size(); ++j) {
    for (uint32_t need : history.needs(pending[j])) {
      const size_t k = local(need);
      if (k < pending.size()) parent[Root(parent, j)] = Root(parent, k);
    }
  }
  // Groups in the order of their first op; each group's ops in log order.
  std::vector<size_t> group_of(pending.size(), SIZE_MAX);
  std::vector<size_t> root_group(pending.size(), SIZE_MAX);
  std::vector<std::vector<uint32_t>> members;
  for (size_t j = 0; j < pending.size(); ++j) {
    const size_t root = Root(parent, j);
    if (root_group[root] == SIZE_MAX) {
      root_group[root] = members.size();
      members.emplace_back();
    }
    group_of[j] = root_group[root];
    members[group_of[j]].push_back(pending[j]);
  }
  for (auto& ops : members) {
    std::vector<uint64_t> up(ops.size(), 0);
    for (size_t j = 0; j < ops.size(); ++j) {
      for (uint32_t need : history.needs(ops[j])) {
        const auto it = std::lower_bound(ops.begin(), ops.end(), need);
        if (it != ops.end() && *it == need)
          up[static_cast<size_t>(it - ops.begin())] |= uint64_t{1} << j;
      }
    }
    groups_.push_back(Group{std::move(ops), cache.Get(up)});
  }
}

uint64_t PendingGroups::Count() const {
  uint64_t count = 1;
  for (const Group& g : groups_) {
    uint64_t product = 0;
    if (__builtin_mul_overflow(count, g.drops->size(), &product) || product > kMaxStatesPerPoint)
      return kMaxStatesPerPoint;
    count = product;
  }
  return count;
}

std::vector<uint32_t> PendingGroups::Dropped(uint64_t index) const {
  std::vector<uint32_t> dropped;
  for (const Group& g : groups_) {
    const uint64_t radix = g.drops->size();
    const uint64_t mask = (*g.drops)[index % radix];
    index /= radix;
    for (size_t k = 0; k < g.ops.size(); ++k) {
      if (((mask >> k) & 1) != 0) dropped.push_back(g.ops[k]);
    }
  }
  std::sort(dropped.begin(), dropped.end());
  return dropped;
}

}  // namespace faultfs::crash::models
