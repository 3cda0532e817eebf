#include "crash_json.h"

namespace faultfs::cli {

namespace {

const char* DeviationKind(crash::Deviation::Kind k) {
  switch (k) {
    case crash::Deviation::Kind::kOmitted:
      return "omitted";
    case crash::Deviation::Kind::kTorn:
      return "torn";
    case crash::Deviation::Kind::kEntryNotDurable:
      return "entry_not_durable";
    case crash::Deviation::Kind::kDataNotDurable:
      return "data_not_durable";
    case crash::Deviation::Kind::kReordered:
      return "reordered";
    case crash::Deviation::Kind::kLostWith:
      return "lost_with";
  }
  return "unknown";
}

}  // namespace

std::string JsonLine(const nlohmann::json& j) {
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::vector<std::string> MarksBefore(const std::vector<record::Op>& ops,
                                     const crash::CrashState& state) {
  std::vector<std::string> marks;
  for (uint32_t i = 0; i < state.crash_point && i < ops.size(); ++i) {
    if (ops[i].kind == record::OpKind::kMark) marks.push_back(ops[i].data);
  }
  return marks;
}

nlohmann::json StateJson(const std::vector<record::Op>& ops, const crash::Model& model,
                         uint64_t seed, const crash::CrashState& state) {
  nlohmann::json deviations = nlohmann::json::array();
  for (const auto& d : state.deviations) {
    deviations.push_back({{"kind", DeviationKind(d.kind)},
                          {"op", d.op + 1},
                          {"later", d.later + 1},
                          {"dir", d.dir},
                          {"finding", crash::FindingText(ops, d)}});
  }
  return {{"id", state.id},
          {"model", model.Name()},
          {"seed", seed},
          {"crash_after_op", state.crash_point},
          {"applied_ops", state.applied.size()},
          {"summary", state.summary},
          {"deviations", deviations},
          {"marks", MarksBefore(ops, state)}};
}

std::string ShellQuote(const std::string& s) {
  if (!s.empty() &&
      s.find_first_not_of(
          "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-./=:,+@%") ==
          std::string::npos) {
    return s;
  }
  std::string q = "'";
  for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

std::string ReproduceCommand(const std::string& log, const crash::Model& model, uint64_t seed,
                             uint64_t max_states, const std::string& id, const std::string& out) {
  return "faultfs crash materialize " + ShellQuote(log) + " --model " + model.Name() + " --seed " +
         std::to_string(seed) + " --max-states " + std::to_string(max_states) + " --state " +
         ShellQuote(id) + " --out " + ShellQuote(out);
}

}  // namespace faultfs::cli
