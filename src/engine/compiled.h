// The engine's compiled policy, shared by the files that build it (compile.cc) and use it
// (engine.cc): each rule with its compiled paths and counters, and the rules of each op indexed by
// what their paths look like.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "faultfs/core/mutex.h"
#include "faultfs/engine/engine.h"
#include "faultfs/policy/actions.h"
#include "faultfs/policy/glob.h"
#include "faultfs/policy/path_regex.h"

namespace faultfs::engine {

using Clock = std::chrono::steady_clock;

// A rule's counters and stream position. Shared between successive compiled policies, so
// adding or disabling another rule does not reset this one.
struct RuleState {
  // `evaluated` is derived from the per-op decision counts: what the rule saw while enabled
  // before (evaluated_before) plus what its ops saw since it was last enabled.
  uint64_t evaluated_before = 0;
  uint64_t decisions_at_enable = 0;
  bool was_enabled = false;
  std::atomic<uint64_t> matched{0};
  std::atomic<uint64_t> fired{0};
  std::atomic<uint64_t> draws{0};
  // Bandwidth rules: a token bucket, in bytes, refilled at bytes_per_s.
  Mutex bucket_mu;
  double tokens FAULTFS_GUARDED_BY(bucket_mu) = 0;
  Clock::time_point refilled FAULTFS_GUARDED_BY(bucket_mu){};
};

struct CompiledRule {
  size_t index = 0;  // position in the policy: decides which outcome wins
  policy::Rule rule;
  std::vector<policy::Glob> globs;
  std::vector<policy::PathRegex> regexes;
  uint64_t stream_seed = 0;
  std::shared_ptr<RuleState> state;
  const CompiledRule* after = nullptr;  // after_rule, resolved
  bool changes_outcome = false;         // not a pure delay/stall/freeze action
};

inline bool ChangesOutcome(const policy::Action& a) { return !policy::InfoOf(a).timing; }

inline bool NeedsPathMatch(const policy::Match& m) {
  return !m.path_globs.empty() || !m.path_regexes.empty();
}

// The enabled rules of one op, indexed by what their paths must look like, so that a decision
// only looks at the rules its path can match (1,000 rules on other directories cost nothing).
struct OpRules {
  std::vector<const CompiledRule*> scan;  // no usable index: always considered
  std::unordered_map<std::string, std::vector<const CompiledRule*>> by_first_segment;
  std::unordered_map<std::string, std::vector<const CompiledRule*>> by_extension;
  bool empty() const { return scan.empty() && by_first_segment.empty() && by_extension.empty(); }
};

// Decisions per op, counted in per-thread shards (each on its own cache line) so that threads on
// different CPUs do not contend for one counter on every operation.
class DecisionCounts {
 public:
  void Add(policy::Op op) {
    thread_local const size_t shard = next_shard_.fetch_add(1, std::memory_order_relaxed) % kShards;
    shards_[shard].n[static_cast<size_t>(op)].fetch_add(1, std::memory_order_relaxed);
  }
  uint64_t Of(size_t op) const {
    uint64_t sum = 0;
    for (const auto& s : shards_) sum += s.n[op].load(std::memory_order_relaxed);
    return sum;
  }

 private:
  static constexpr size_t kShards = 8;
  struct alignas(64) Shard {
    std::array<std::atomic<uint64_t>, policy::kOpCount> n{};
  };
  std::array<Shard, kShards> shards_;
  static inline std::atomic<size_t> next_shard_{0};
};

struct FaultEngine::Compiled {
  uint64_t seed = 0;
  policy::Policy source;
  std::vector<std::unique_ptr<CompiledRule>> rules;
  std::array<OpRules, policy::kOpCount> by_op;  // enabled rules only
  policy::OpSet targeted;
  policy::OpSet needs_path;
  bool keeps_write_history = false;
  Clock::time_point loaded_at;
  uint64_t version = 0;
  // Decisions per op since this policy's counters began: a rule's `evaluated` is the sum over
  // its ops (every decision for one of its ops considers it, at least logically).
  std::shared_ptr<DecisionCounts> decisions;
};

}  // namespace faultfs::engine
