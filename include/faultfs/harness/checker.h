// The harness's checker (docs/harness.md, "The checker"): the clients' history plus every node's
// log as read after the run, judged against the properties a replicated log promises.
//
// Words used below. An observation is a client seeing a value at an index: an :ok append
// ([index value]) or an :ok read. A value is committed at an index when an observation saw it
// there (with a checksum that verifies). C, the committed horizon, is the highest index
// observed. A node holds a value at an index when its log has a verified entry there with that
// value.
//
// Violations (each makes the run unsafe):
//   lost_append        an acknowledged append is held at its index by no node;
//   conflicting_values two different values were committed at one index;
//   stale_read         a read returned a value other than the one acknowledged at that index
//                      before the read was invoked (an older value after a newer one);
//   uncommitted_read   a read returned a value no client ever appended, one whose append
//                      failed, or one no node holds at that index at the end (a dirty read);
//   damaged_read       a read returned a value whose checksum fails;
//   double_apply       one request (client, req) at two indexes: in one node's log, or
//                      committed at two indexes;
//   divergence         at an index <= C, two nodes hold different verified entries.
// Not violations, but a sign the cluster did not converge: an index <= C that a node does not
// hold (missing, or its entry fails its checksum), or a node whose log could not be read.
//
// Classification:
//   unsafe       at least one violation;
//   unavailable  no violation, but no append was acknowledged at all (no progress), or the
//                replicas did not converge (some node lacks an index <= C, or a log was unread);
//   correct      neither.
#pragma once

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "faultfs/harness/history.h"

namespace faultfs::harness {

// One slot of a node's log as read from its storage after the run.
struct LogEntryState {
  bool present = false;   // the slot exists and holds something
  bool verified = false;  // its checksum verifies (the fields below are trustworthy)
  uint64_t term = 0;
  int64_t client = 0;  // < 0: not a client's request (a new leader's no-op)
  int64_t req = 0;
  std::string value;
};

struct NodeLogState {
  int node = 0;
  bool readable = true;  // false: the log could not be read (reason in `error`)
  std::string error;
  std::vector<LogEntryState> entries;  // entries[i] is index i + 1
};

struct FinalState {
  std::vector<NodeLogState> nodes;
};

enum class Verdict { kCorrect, kUnsafe, kUnavailable };
std::string_view VerdictName(Verdict verdict);  // "correct", "unsafe", "unavailable"
// The run's exit status for a verdict (docs/harness.md): 0, 1, 3.
int VerdictExitCode(Verdict verdict);

struct Violation {
  std::string kind;   // lost_append, conflicting_values, ... (see above)
  int64_t index = 0;  // the log index concerned
  int64_t op = -1;    // the history event concerned (its completion), -1: none
  int64_t process = -1;
  std::vector<std::string> values;  // the values in conflict, or the one concerned
  std::string detail;               // in words
};

struct OpCounts {
  uint64_t ok = 0, fail = 0, info = 0, open = 0;  // open: invoked, never completed
};

struct CheckResult {
  Verdict verdict = Verdict::kCorrect;
  std::vector<std::string> reasons;     // why unavailable (or unsafe), in words
  std::map<std::string, OpCounts> ops;  // by f: "append", "read"
  ClientCounters clients;
  int64_t committed_horizon = 0;   // C
  uint64_t unconverged_slots = 0;  // (node, index <= C) pairs a node does not hold
  std::map<std::string, uint64_t> violation_counts;  // by kind, all of them
  std::vector<Violation> violations;                 // examples: at most kMaxExamples per kind
  static constexpr size_t kMaxExamples = 10;
};

CheckResult Check(const History& history, const FinalState& final_state,
                  const ClientCounters& counters = {});

// The checker's result as JSON (for the run's --json report).
nlohmann::json CheckResultJson(const CheckResult& result);

// The history in Jepsen's EDN, one map per line:
//   {:index 0, :time 1234, :type :invoke, :process 0, :f :append, :value "0/1/abc|..."}
// Values as in HistoryEvent; fail/info events carry :error "reason". Strings are EDN strings:
// '"' and '\' escaped, control and non-ASCII bytes as \uXXXX (the byte's value), so a damaged
// value stays one readable string.
std::string HistoryEdn(const History& history);
// The EDN string literal of `bytes` (with its quotes).
std::string EdnString(std::string_view bytes);

}  // namespace faultfs::harness
