#include "crashtest_findings.h"

#include <algorithm>
#include <map>

namespace faultfs::cli {
namespace {

std::map<std::string, size_t> IndexById(const std::vector<crash::CrashState>& states) {
  std::map<std::string, size_t> index;
  for (size_t i = 0; i < states.size(); ++i) index[states[i].id] = i;
  return index;
}

// The checked state whose verdict state i shares (itself, or the state it duplicates).
std::optional<size_t> Judged(const std::vector<StateResult>& results,
                             const std::map<std::string, size_t>& index, size_t i) {
  if (results[i].verdict != Verdict::kDuplicate) return i;
  const auto it = index.find(results[i].duplicate_of);
  if (it == index.end()) return std::nullopt;  // a duplicate of another model's state
  return it->second;
}

}  // namespace

std::vector<Finding> GroupFindings(const std::vector<crash::CrashState>& states,
                                   const std::vector<StateResult>& results) {
  const auto index = IndexById(states);
  std::vector<Finding> findings;
  std::map<std::string, size_t> by_key;
  for (size_t i = 0; i < states.size(); ++i) {
    const auto judged = Judged(results, index, i);
    if (!judged || results[*judged].verdict != Verdict::kFailed) continue;
    const StateResult& r = results[*judged];
    auto [it, fresh] = by_key.try_emplace(r.fix_key, findings.size());
    if (fresh) {
      findings.push_back(
          Finding{.key = r.fix_key, .text = r.finding, .confirmed = r.finding_confirmed});
      findings.back().example = i;
    }
    Finding& f = findings[it->second];
    if (*judged == i) {
      f.states.push_back(i);
    } else {
      ++f.duplicates;
    }
    f.crash_points.insert(states[i].crash_point);
    f.ops.insert(f.ops.end(), r.fix_ops.begin(), r.fix_ops.end());
  }
  for (Finding& f : findings) {
    std::sort(f.ops.begin(), f.ops.end());
    f.ops.erase(std::unique(f.ops.begin(), f.ops.end()), f.ops.end());
  }
  std::stable_sort(findings.begin(), findings.end(),
                   [](const Finding& a, const Finding& b) { return a.confirmed > b.confirmed; });
  return findings;
}

std::set<std::string> FailingFixes(const std::vector<StateResult>& results,
                                   const std::vector<crash::CrashState>& main_states,
                                   const std::vector<StateResult>& main_results) {
  const auto main_index = IndexById(main_states);
  std::set<std::string> keys;
  for (const StateResult& r : results) {
    if (r.verdict == Verdict::kFailed) keys.insert(r.fix_key);
    if (r.verdict != Verdict::kDuplicate) continue;
    const auto it = main_index.find(r.duplicate_of);
    if (it != main_index.end() && main_results[it->second].verdict == Verdict::kFailed)
      keys.insert(main_results[it->second].fix_key);
  }
  return keys;
}

}  // namespace faultfs::cli
