#include "crashtest_report.h"

#include <algorithm>
#include <fstream>

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

std::string Plural(size_t n, const std::string& one, const std::string& many = "") {
  return std::to_string(n) + " " + (n == 1 ? one : many.empty() ? one + "s" : many);
}

std::string Ext4Words(const ReportInput& in, const Finding& f) {
  if (in.model.kind == crash::ModelKind::kExt4) return "ext4 model";
  if (in.model.kind == crash::ModelKind::kPrefix) return "any filesystem";
  switch (f.ext4) {
    case Finding::Ext4::kAlso:
      return "also under the ext4 model";
    case Finding::Ext4::kNot:
      return f.key.starts_with("atomic:")
                 ? "not under the ext4 model, which has no torn writes (they come from the disk)"
                 : "not under the ext4 model: needs a filesystem weaker than ext4";
    case Finding::Ext4::kNotChecked:
      break;
  }
  return "";
}

std::string OpsWords(const std::vector<uint32_t>& ops) {
  constexpr size_t kShown = 8;
  std::string text;
  for (size_t i = 0; i < ops.size() && i < kShown; ++i)
    text += (i == 0 ? "" : ", ") + std::to_string(uint64_t{ops[i]} + 1);
  if (ops.size() > kShown) text += " and " + std::to_string(ops.size() - kShown) + " more";
  return text;
}

void PrintFindings(const ReportInput& in, std::ostream& out) {
  if (in.findings.empty()) return;
  size_t failing = 0;
  for (const Finding& f : in.findings) failing += f.states.size();
  out << "\nFindings: " << Plural(failing, "failing state") << ", "
      << Plural(in.findings.size(), "fix", "fixes")
      << (in.ext4_states > 0 ? " (" + Plural(in.ext4_states, "ext4 state") + " checked too)" : "")
      << "\n";
  const auto& states = in.enumeration->states;
  for (size_t k = 0; k < in.findings.size(); ++k) {
    const Finding& f = in.findings[k];
    out << "  " << k + 1 << ". "
        << (f.confirmed ? ""
                        : "not confirmed (undoing what the state lost did not make the "
                          "checker pass): ")
        << f.text << "\n     " << Plural(f.states.size(), "failing state");
    if (f.duplicates > 0) out << " (and " << f.duplicates << " with the same content)";
    out << ", " << Plural(f.crash_points.size(), "crash point");
    if (const std::string ext4 = Ext4Words(in, f); !ext4.empty()) out << "; " << ext4;
    if (f.ops.size() > 1) out << "; ops " << OpsWords(f.ops);
    const crash::CrashState& example = states[f.example];
    std::string diff = ReproduceCommand(in.log_path, in.model, in.seed, in.max_states, example.id,
                                        StateDir(example.id));
    diff = "faultfs crash diff" + diff.substr(diff.find(' ', std::string("faultfs crash ").size()));
    diff = diff.substr(0, diff.find(" --out "));
    out << "\n     e.g. state " << example.id << ": " << example.summary << "\n       rebuild: "
        << ReproduceCommand(in.log_path, in.model, in.seed, in.max_states, example.id,
                            StateDir(example.id))
        << "\n       what it lost: " << diff << "\n";
  }
}

void PrintFailingStates(const ReportInput& in, std::ostream& out) {
  constexpr size_t kListed = 20;
  const auto& states = in.enumeration->states;
  size_t listed = 0, more = 0;
  for (size_t i = 0; i < states.size(); ++i) {
    const StateResult& r = (*in.results)[i];
    if (r.verdict != Verdict::kFailed && r.verdict != Verdict::kInconclusive &&
        r.verdict != Verdict::kError)
      continue;
    if (listed == kListed) {
      ++more;
      continue;
    }
    if (listed++ == 0) out << "\nStates that did not pass:\n";
    out << "  state " << states[i].id << " (" << VerdictName(r.verdict) << ", " << r.how
        << "): " << states[i].summary << "\n";
    if (!r.output_tail.empty()) out << Indent(r.output_tail, "      | ");
    out << "    rebuild: "
        << ReproduceCommand(in.log_path, in.model, in.seed, in.max_states, states[i].id,
                            StateDir(states[i].id))
        << "\n";
  }
  if (more > 0) out << "  ... and " << more << " more (--json FILE lists every state)\n";
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

void PrintReport(const ReportInput& in, std::ostream& out) {
  const Counts c = Count(*in.results);
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
  PrintFindings(in, out);
  PrintFailingStates(in, out);
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
    if (r.verdict == Verdict::kFailed) {
      j["finding"] = r.finding;
      j["finding_confirmed"] = r.finding_confirmed;
      j["fix"] = r.fix_key;
    }
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
