#include "crashtest_report.h"

#include <algorithm>
#include <fstream>
#include <map>
#include <set>

#include "crash_json.h"

namespace faultfs::cli {

namespace {

const char* VerdictName(Verdict v) {
  switch (v) {
    case Verdict::kPassed:
      return "passed";
    case Verdict::kFailed:
      return "failed";
    case Verdict::kInconclusive:
      return "inconclusive";
    case Verdict::kDuplicate:
      return "duplicate";
    case Verdict::kError:
      return "error";
  }
  return "unknown";
}

// The verdict that counts for state i: a duplicate shares its original's.
Verdict Effective(const ReportInput& in, size_t i, const std::map<std::string, size_t>& index) {
  const StateResult& r = (*in.results)[i];
  if (r.verdict != Verdict::kDuplicate) return r.verdict;
  auto it = index.find(r.duplicate_of);
  return it == index.end() ? Verdict::kError : (*in.results)[it->second].verdict;
}

std::map<std::string, size_t> IndexById(const ReportInput& in) {
  std::map<std::string, size_t> index;
  for (size_t i = 0; i < in.enumeration->states.size(); ++i)
    index[in.enumeration->states[i].id] = i;
  return index;
}

std::string StateDir(const std::string& id) { return "/tmp/faultfs-state-" + id; }

std::string Indent(const std::string& text, const std::string& prefix) {
  std::string out;
  size_t start = 0;
  while (start < text.size()) {
    size_t nl = text.find('\n', start);
    if (nl == std::string::npos) nl = text.size();
    out += prefix + text.substr(start, nl - start) + "\n";
    start = nl + 1;
  }
  return out;
}

}  // namespace

Counts Count(const std::vector<StateResult>& results) {
  Counts c;
  c.enumerated = results.size();
  for (const auto& r : results) {
    c.distinct += r.verdict != Verdict::kDuplicate;
    c.checked += r.verdict == Verdict::kPassed || r.verdict == Verdict::kFailed ||
                 r.verdict == Verdict::kInconclusive;
    c.passed += r.verdict == Verdict::kPassed;
    c.failed += r.verdict == Verdict::kFailed;
    c.inconclusive += r.verdict == Verdict::kInconclusive;
    c.errors += r.verdict == Verdict::kError;
  }
  return c;
}

std::vector<Finding> GroupFindings(const ReportInput& in) {
  const auto& states = in.enumeration->states;
  const auto index = IndexById(in);
  std::vector<Finding> findings;
  std::map<std::string, size_t> by_text;
  for (size_t i = 0; i < states.size(); ++i) {
    if (Effective(in, i, index) != Verdict::kFailed) continue;
    const StateResult& r = (*in.results)[i];
    // A duplicate fails for its original's reason.
    const StateResult& judged =
        r.verdict == Verdict::kDuplicate ? (*in.results)[index.at(r.duplicate_of)] : r;
    auto [it, fresh] = by_text.try_emplace(judged.finding, findings.size());
    if (fresh) findings.push_back({judged.finding, judged.finding_confirmed, {}});
    findings[it->second].states.push_back(states[i].id);
  }
  std::stable_sort(findings.begin(), findings.end(),
                   [](const Finding& a, const Finding& b) { return a.confirmed > b.confirmed; });
  return findings;
}

void PrintReport(const ReportInput& in, std::ostream& out) {
  const Counts c = Count(*in.results);
  const auto& states = in.enumeration->states;
  out << "faultfs crashtest: model " << in.model.Name() << ", seed " << in.seed << ": "
      << in.log->ops.size() << " ops recorded; " << in.enumeration->total
      << " crash states defined, " << c.enumerated
      << (in.enumeration->sampled ? " sampled" : " enumerated") << ", " << c.distinct
      << " distinct, " << c.checked << " checked: " << c.passed << " passed, " << c.failed
      << " failed, " << c.inconclusive << " inconclusive";
  if (c.errors > 0) out << ", " << c.errors << " could not be built";
  char secs[32];
  std::snprintf(secs, sizeof(secs), "%.2f", in.seconds);
  out << " (" << secs << " s";
  if (in.check_seconds > 0) {
    std::snprintf(secs, sizeof(secs), "%.0f", static_cast<double>(c.enumerated) / in.check_seconds);
    out << "; " << secs << " states/s";
  }
  out << ")\n";
  const auto findings = GroupFindings(in);
  if (!findings.empty()) out << "\nFindings:\n";
  for (size_t f = 0; f < findings.size(); ++f) {
    out << "  " << f + 1 << ". " << findings[f].text << "\n     ("
        << (findings[f].confirmed ? "" : "not confirmed: no single change made the checker pass; ")
        << findings[f].states.size() << " failing state"
        << (findings[f].states.size() == 1 ? "" : "s") << ", e.g. " << findings[f].states[0]
        << ")\n";
  }
  bool header = false;
  for (size_t i = 0; i < states.size(); ++i) {
    const StateResult& r = (*in.results)[i];
    if (r.verdict != Verdict::kFailed && r.verdict != Verdict::kInconclusive &&
        r.verdict != Verdict::kError)
      continue;
    if (!header) out << "\nStates that did not pass:\n";
    header = true;
    out << "  state " << states[i].id << " (" << VerdictName(r.verdict) << ", " << r.how
        << "): " << states[i].summary << "\n";
    if (!r.output_tail.empty()) out << Indent(r.output_tail, "      | ");
    out << "    rebuild: "
        << ReproduceCommand(in.log_path, in.model, in.seed, in.max_states, states[i].id,
                            StateDir(states[i].id))
        << "\n";
  }
}

Status WriteJsonLines(const ReportInput& in, const std::string& path) {
  std::ofstream out(path, std::ios::trunc);
  if (!out) return Status::FromErrno(errno, "creating '" + path + "'");
  const auto& states = in.enumeration->states;
  for (size_t i = 0; i < states.size(); ++i) {
    const StateResult& r = (*in.results)[i];
    nlohmann::json j = StateJson(in.log->ops, in.model, in.seed, states[i]);
    j["verdict"] = VerdictName(r.verdict);
    j["hash"] = r.hash;
    if (!r.duplicate_of.empty()) j["duplicate_of"] = r.duplicate_of;
    j["checker"] = r.how;
    j["checker_output_tail"] = r.output_tail;
    j["reproduce"] = ReproduceCommand(in.log_path, in.model, in.seed, in.max_states, states[i].id,
                                      StateDir(states[i].id));
    out << JsonLine(j) << "\n";
  }
  out.flush();
  if (!out) return Status::FromErrno(EIO, "writing '" + path + "'");
  return Status::Ok();
}

}  // namespace faultfs::cli
