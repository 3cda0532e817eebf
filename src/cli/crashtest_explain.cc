#include "crashtest_explain.h"

#include <sys/stat.h>

#include <algorithm>
#include <atomic>
#include <iostream>
#include <thread>

#include "faultfs/crash/causes.h"

namespace faultfs::cli {

namespace {

constexpr size_t kMaxTrialsPerState = 12;  // bounds the extra checker runs a failing state costs
constexpr size_t kCausesNamed = 3;

std::string Together(const std::vector<crash::Cause>& causes) {
  std::string text = causes.empty() ? "" : causes[0].text;
  for (size_t i = 1; i < causes.size() && i < kCausesNamed; ++i) text += "; and " + causes[i].text;
  if (causes.size() > kCausesNamed)
    text += "; and " + std::to_string(causes.size() - kCausesNamed) + " more";
  return text;
}

void Explain(const CheckRun& run, const record::ReadLog& log, const crash::History& history,
             const crash::CrashState& state, const std::string& slot, StateResult& r) {
  const auto causes = crash::CausesOf(log.ops, state);
  if (causes.empty()) {
    r.finding = "the checker fails although every op before the crash point persisted";
    return;
  }
  for (size_t i = 0; i < causes.size() && i < kMaxTrialsPerState; ++i) {
    const StateResult undone = JudgeState(run, log, crash::Undo(history, state, causes[i], i), slot);
    if (undone.verdict == Verdict::kPassed) {
      r.finding = causes[i].text;
      r.finding_confirmed = true;
      return;
    }
  }
  r.finding = causes.size() == 1 ? causes[0].text : Together(causes);
}

}  // namespace

void ExplainFailures(const CheckRun& run, const record::ReadLog& log,
                     const std::vector<crash::CrashState>& states,
                     std::vector<StateResult>& results) {
  std::vector<size_t> failed;
  for (size_t i = 0; i < results.size(); ++i) {
    if (results[i].verdict == Verdict::kFailed) failed.push_back(i);
  }
  if (failed.empty()) return;
  if (run.progress)
    std::cerr << "faultfs crashtest: explaining " << failed.size() << " failing states\n";
  const std::string root = run.work + "/explain";
  (void)mkdir(root.c_str(), 0755);
  const crash::History history = crash::History::Of(log.ops, log.header.inodes);
  std::atomic<size_t> next{0};
  std::vector<std::thread> workers;
  for (unsigned j = 0; j < std::max(1u, run.jobs); ++j) {
    workers.emplace_back([&, j] {
      const std::string slot = root + "/" + std::to_string(j);
      (void)mkdir(slot.c_str(), 0755);
      for (size_t k = next++; k < failed.size(); k = next++)
        Explain(run, log, history, states[failed[k]], slot, results[failed[k]]);
    });
  }
  for (auto& w : workers) w.join();
}

}  // namespace faultfs::cli
