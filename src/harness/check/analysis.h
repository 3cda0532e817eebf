// The history and final state arranged for the checker's properties: operations paired with their
// completions, what clients observed, and who holds what at the end.
#pragma once

#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "faultfs/harness/checker.h"

namespace faultfs::harness::check {

// A completed operation: its invoke and its completion.
struct Op {
  const HistoryEvent* invoke = nullptr;
  const HistoryEvent* end = nullptr;  // null: never completed
  OpType outcome() const { return end ? end->type : OpType::kInfo; }
};

// A client seeing `value` at `index`: an :ok append or an :ok read.
struct Observation {
  const Op* op = nullptr;
  bool is_read = false;
  int64_t index = 0;
  std::string value;
  bool damaged = false;  // its checksum fails
};

struct Analysis {
  std::vector<Op> ops;                         // in invoke order
  std::vector<Observation> observations;       // in completion order
  std::map<std::string, const Op*> append_of;  // value -> the append that invoked it
  int64_t horizon = 0;                         // C: the highest index observed
  std::vector<const NodeLogState*> readable;   // nodes whose logs were read
};

Analysis Analyze(const History& history, const FinalState& final_state, CheckResult& result);

// The node's verified entry at `index`, if it has one.
const LogEntryState* Held(const NodeLogState& node, int64_t index);
// Readable nodes holding `value` at `index`.
size_t Holders(const Analysis& a, int64_t index, const std::string& value);

// Records a violation: counted always, kept as an example while its kind has few.
void AddViolation(CheckResult& result, Violation violation);
// A byte string as printable ASCII (other bytes as \xNN), for JSON and details.
std::string Printable(std::string_view bytes);

// The properties (docs/harness.md, "The checker"), each adding its violations.
void CheckLostAppends(const Analysis& a, CheckResult& result);
void CheckConflictingValues(const Analysis& a, CheckResult& result);
void CheckReads(const Analysis& a, CheckResult& result);  // stale, uncommitted, damaged
void CheckDoubleApply(const Analysis& a, CheckResult& result);
void CheckConvergence(const Analysis& a, CheckResult& result);  // divergence, unconverged slots

}  // namespace faultfs::harness::check
