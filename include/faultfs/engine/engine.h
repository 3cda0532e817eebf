// The fault engine: what happens to an operation. Decide() is a pure function of the loaded policy,
// the operation and the rules' counters and random streams; it knows nothing about FUSE, is
// thread-safe, and costs a few nanoseconds when no rule targets the operation.
//
// A loaded policy is immutable; rules' counters live beside it and start at zero when a policy is
// loaded. Loading, adding, removing, enabling and disabling rules swap in a new policy atomically:
// a decision sees either the old or the new one, never a mix.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "faultfs/core/mutex.h"
#include "faultfs/core/status.h"
#include "faultfs/policy/policy.h"

namespace faultfs::engine {

// An operation as the engine sees it. Paths are relative to the mount root ("" is the root).
struct OpContext {
  policy::Op op = policy::Op::kGetattr;
  std::string_view path;   // the target (for create, mkdir...: the new entry)
  std::string_view path2;  // rename and link: the destination
  mode_t mode = 0;         // file type of the target (S_IFMT bits), 0 when unknown
  uint64_t offset = 0;     // read, write, fallocate, truncate...
  uint64_t size = 0;       // bytes transferred or asked for
  int open_flags = 0;      // the open file's flags, as the application gave them
  pid_t pid = 0;
  uid_t uid = 0;
  gid_t gid = 0;
};

// What the rules say about one operation. Several rules may fire: delays add up, and the first
// fired rule (in policy order) whose action changes the outcome decides the outcome.
struct Decision {
  std::chrono::nanoseconds delay{0};  // wait before running the op (delay, bandwidth actions)
  const policy::StallAction* stall = nullptr;  // hold until released or timed out
  bool freeze = false;                         // freeze the whole mount

  const policy::Rule* outcome = nullptr;  // the rule whose action changes the outcome, if any
  uint64_t draw = 0;                      // random bits for the outcome's action (which bits...)
  int err = 0;                            // errno chosen for errno and fsync_fail actions

  std::vector<const policy::Rule*> fired;  // every rule that fired, in policy order

  bool passes() const { return fired.empty(); }

  // Keeps the rules pointed to above alive while the decision is in use (a deferred operation
  // may outlive a policy swap).
  std::shared_ptr<const void> policy_;
};

struct RuleStats {
  std::string id;
  bool enabled = true;
  std::string action;
  uint64_t evaluated = 0;  // the rule was considered for an operation of its ops
  uint64_t matched = 0;    // ...and every targeting key matched
  uint64_t fired = 0;      // ...and the counters and probability let it fire
};

class FaultEngine {
 public:
  // `seed` is used when a policy has none.
  explicit FaultEngine(uint64_t seed);
  ~FaultEngine();
  FaultEngine(const FaultEngine&) = delete;
  FaultEngine& operator=(const FaultEngine&) = delete;

  // Replaces the whole policy (atomically); counters and time windows restart. A policy past the
  // limits of policy/limits.h (which `ctl add` could otherwise grow without end) is refused, and
  // the one in force stays.
  Status Load(policy::Policy policy);
  Status AddRule(policy::Rule rule);
  // All of them or none, compiled once (adding n rules one by one would compile n policies).
  Status AddRules(std::vector<policy::Rule> rules);
  Status RemoveRule(std::string_view id);
  Status SetEnabled(std::string_view id, bool enabled);

  Decision Decide(const OpContext& ctx);

  // Whether any enabled rule could fire for `op` (ops that no rule targets skip all work). For
  // `op` = read or write this also says whether data-path faults may apply (page cache bypass).
  bool Targets(policy::Op op) const;
  // Whether any enabled rule targeting `op` needs the operation's path.
  bool NeedsPath(policy::Op op) const;
  // Whether some enabled rule on `op` could fire for a file at `path` of type `mode`: its path and
  // type keys match (others, counters and probability are not considered). Used when a file is
  // opened, to serve it around the page cache so that every read and write reaches the rules.
  bool MayTarget(policy::Op op, std::string_view path, mode_t mode) const;

  // Whether enabled rules need what writes overwrote (stale reads; fsync failures that drop
  // unsynced data, as Linux does).
  bool KeepsWriteHistory() const;

  uint64_t seed() const;
  std::vector<RuleStats> Stats() const;
  policy::Policy policy() const;  // a copy of what is loaded

  struct Compiled;

 private:
  Status Install(policy::Policy next, bool keep_counters);
  static void CarryCounters(Compiled& compiled, const std::set<std::string>& fresh);
  static Status IndexRules(Compiled& compiled);
  // The policy in force, as the calling thread last saw it: each thread keeps its own reference
  // and takes a new one only when `version_` changes, so deciding touches no shared reference
  // count or lock (which, bounced between CPUs on every operation, cost more than the decision).
  const std::shared_ptr<const Compiled>& Current() const;
  std::atomic<std::shared_ptr<const Compiled>> current_;
  std::atomic<uint64_t> version_{0};  // of current_: unique across engines
  Mutex change_mu_;                   // serializes Load, AddRule, RemoveRule, SetEnabled
  const uint64_t default_seed_;
};

}  // namespace faultfs::engine
