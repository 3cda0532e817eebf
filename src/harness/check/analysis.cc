#include "analysis.h"

#include <algorithm>
#include <cstdio>

namespace faultfs::harness::check {

namespace {

// Pairs each process's invoke with its next completion.
std::vector<Op> PairOps(const History& history) {
  std::vector<Op> ops;
  std::map<int64_t, size_t> open;  // process -> its open op in `ops`
  for (const HistoryEvent& e : history) {
    if (e.type == OpType::kInvoke) {
      open[e.process] = ops.size();
      ops.push_back({&e, nullptr});
      continue;
    }
    auto it = open.find(e.process);
    if (it == open.end()) continue;  // a completion without an invoke: nothing to pair it with
    ops[it->second].end = &e;
    open.erase(it);
  }
  return ops;
}

void CountOps(const std::vector<Op>& ops, CheckResult& result) {
  for (const Op& op : ops) {
    OpCounts& counts = result.ops[std::string(OpFName(op.invoke->f))];
    if (!op.end) {
      ++counts.open;
      continue;
    }
    switch (op.end->type) {
      case OpType::kOk:
        ++counts.ok;
        break;
      case OpType::kFail:
        ++counts.fail;
        break;
      default:
        ++counts.info;
        break;
    }
  }
}

}  // namespace

Analysis Analyze(const History& history, const FinalState& final_state, CheckResult& result) {
  Analysis a;
  a.ops = PairOps(history);
  CountOps(a.ops, result);
  result.ops.try_emplace("append");
  result.ops.try_emplace("read");
  for (const Op& op : a.ops) {
    if (op.invoke->f == OpF::kAppend) a.append_of.emplace(op.invoke->value, &op);
    if (!op.end || op.end->type != OpType::kOk) continue;
    const bool is_read = op.invoke->f == OpF::kRead;
    a.observations.push_back(
        {&op, is_read, op.end->log_index, op.end->value, !VerifyValue(op.end->value)});
    a.horizon = std::max(a.horizon, op.end->log_index);
  }
  std::sort(a.observations.begin(), a.observations.end(),
            [](const Observation& x, const Observation& y) {
              return x.op->end->index < y.op->end->index;
            });
  for (const NodeLogState& node : final_state.nodes)
    if (node.readable) a.readable.push_back(&node);
  return a;
}

const LogEntryState* Held(const NodeLogState& node, int64_t index) {
  if (index < 1 || static_cast<size_t>(index) > node.entries.size()) return nullptr;
  const LogEntryState& e = node.entries[static_cast<size_t>(index - 1)];
  return e.present && e.verified ? &e : nullptr;
}

size_t Holders(const Analysis& a, int64_t index, const std::string& value) {
  return static_cast<size_t>(
      std::count_if(a.readable.begin(), a.readable.end(), [&](const NodeLogState* n) {
        const LogEntryState* e = Held(*n, index);
        return e && e->value == value;
      }));
}

void AddViolation(CheckResult& result, Violation violation) {
  const uint64_t seen = result.violation_counts[violation.kind]++;
  if (seen < CheckResult::kMaxExamples) result.violations.push_back(std::move(violation));
}

std::string Printable(std::string_view bytes) {
  std::string out;
  for (char c : bytes) {
    const auto b = static_cast<unsigned char>(c);
    if (b >= 0x20 && b < 0x7f && b != '\\') {
      out.push_back(c);
    } else {
      char escaped[5];
      std::snprintf(escaped, sizeof escaped, "\\x%02x", b);
      out += escaped;
    }
  }
  return out;
}

}  // namespace faultfs::harness::check
