#include "faultfs/harness/checker.h"

#include <cstdio>

#include "analysis.h"

namespace faultfs::harness {

std::string_view VerdictName(Verdict verdict) {
  switch (verdict) {
    case Verdict::kCorrect:
      return "correct";
    case Verdict::kUnsafe:
      return "unsafe";
    case Verdict::kUnavailable:
      return "unavailable";
  }
  return "?";
}

int VerdictExitCode(Verdict verdict) {
  switch (verdict) {
    case Verdict::kCorrect:
      return 0;
    case Verdict::kUnsafe:
      return 1;
    case Verdict::kUnavailable:
      return 3;
  }
  return 1;
}

namespace {

// Why the run is unavailable, if it is: no progress, or replicas that did not converge.
std::vector<std::string> UnavailableReasons(const check::Analysis& a, const FinalState& final_state,
                                            const CheckResult& result) {
  std::vector<std::string> reasons;
  if (result.ops.at("append").ok == 0) reasons.push_back("no append was acknowledged");
  for (const NodeLogState& node : final_state.nodes) {
    if (!node.readable) {
      reasons.push_back("node " + std::to_string(node.node) +
                        "'s log could not be read: " + node.error);
      continue;
    }
    int64_t lacking = 0;
    for (int64_t index = 1; index <= a.horizon; ++index)
      lacking += check::Held(node, index) ? 0 : 1;
    if (lacking > 0)
      reasons.push_back("node " + std::to_string(node.node) + " lacks " + std::to_string(lacking) +
                        " of the " + std::to_string(a.horizon) + " committed indexes");
  }
  if (final_state.nodes.empty()) reasons.push_back("no node's final state was given");
  return reasons;
}

}  // namespace

CheckResult Check(const History& history, const FinalState& final_state,
                  const ClientCounters& counters) {
  CheckResult result;
  result.clients = counters;
  const check::Analysis a = check::Analyze(history, final_state, result);
  result.committed_horizon = a.horizon;
  check::CheckLostAppends(a, result);
  check::CheckConflictingValues(a, result);
  check::CheckReads(a, result);
  check::CheckDoubleApply(a, result);
  check::CheckConvergence(a, result);
  if (!result.violation_counts.empty()) {
    result.verdict = Verdict::kUnsafe;
    for (const auto& [kind, count] : result.violation_counts)
      result.reasons.push_back(std::to_string(count) + " " + kind);
    return result;
  }
  result.reasons = UnavailableReasons(a, final_state, result);
  result.verdict = result.reasons.empty() ? Verdict::kCorrect : Verdict::kUnavailable;
  return result;
}

nlohmann::json CheckResultJson(const CheckResult& r) {
  nlohmann::json ops = nlohmann::json::object();
  for (const auto& [f, c] : r.ops)
    ops[f] = {{"ok", c.ok}, {"fail", c.fail}, {"info", c.info}, {"open", c.open}};
  const ClientCounters& k = r.clients;
  nlohmann::json violations = nlohmann::json::array();
  for (const Violation& v : r.violations) {
    nlohmann::json values = nlohmann::json::array();
    for (const std::string& value : v.values) values.push_back(check::Printable(value));
    violations.push_back({{"kind", v.kind},
                          {"index", v.index},
                          {"op", v.op},
                          {"process", v.process},
                          {"values", values},
                          {"detail", check::Printable(v.detail)}});
  }
  nlohmann::json reasons = nlohmann::json::array();
  for (const std::string& reason : r.reasons) reasons.push_back(check::Printable(reason));
  return {{"verdict", VerdictName(r.verdict)},
          {"exit_code", VerdictExitCode(r.verdict)},
          {"reasons", reasons},
          {"ops", ops},
          {"clients",
           {{"retries", k.retries},
            {"busy", k.busy},
            {"not_leader", k.not_leader},
            {"not_committed", k.not_committed},
            {"errors", k.errors},
            {"timeouts", k.timeouts},
            {"broken", k.broken},
            {"damaged_values", k.damaged_values},
            {"processes", k.processes}}},
          {"committed_horizon", r.committed_horizon},
          {"unconverged_slots", r.unconverged_slots},
          {"violation_counts", r.violation_counts},
          {"violations", violations}};
}

std::string EdnString(std::string_view bytes) {
  std::string out = "\"";
  for (char c : bytes) {
    const auto b = static_cast<unsigned char>(c);
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\r':
        out += "\\r";
        break;
      default:
        if (b >= 0x20 && b < 0x7f) {
          out.push_back(c);
        } else {
          char escaped[7];
          std::snprintf(escaped, sizeof escaped, "\\u%04x", b);
          out += escaped;
        }
    }
  }
  return out + "\"";
}

namespace {

// An event's :value as EDN (see HistoryEvent).
std::string EdnValue(const HistoryEvent& e) {
  if (e.f == OpF::kRead)
    return e.type == OpType::kOk ? EdnString(e.value) : std::to_string(e.log_index);
  if (e.type == OpType::kOk)
    return "[" + std::to_string(e.log_index) + " " + EdnString(e.value) + "]";
  return EdnString(e.value);
}

}  // namespace

std::string HistoryEdn(const History& history) {
  std::string out;
  for (const HistoryEvent& e : history) {
    out += "{:index " + std::to_string(e.index) + ", :time " + std::to_string(e.time_ns) +
           ", :type :" + std::string(OpTypeName(e.type)) + ", :process " +
           std::to_string(e.process) + ", :f :" + std::string(OpFName(e.f)) + ", :value " +
           EdnValue(e);
    if (e.type == OpType::kFail || e.type == OpType::kInfo) out += ", :error " + EdnString(e.error);
    out += "}\n";
  }
  return out;
}

}  // namespace faultfs::harness
