#include "crashtest_explain.h"

#include <sys/stat.h>

#include <algorithm>
#include <atomic>
#include <iostream>
#include <thread>

#include "faultfs/crash/causes.h"

namespace faultfs::cli {

namespace {

constexpr size_t kMaxSingleTrials = 12;  // causes undone one at a time, per failing state
constexpr size_t kMaxSetTrials = 16;     // trials spent finding a set of causes that together do
constexpr size_t kFixesNamed = 3;

// Trials of one failing state: is it accepted with these causes undone?
class Trials {
 public:
  Trials(const CheckRun& run, const record::ReadLog& log, const crash::History& history,
         const crash::CrashState& state, const std::vector<crash::Cause>& causes,
         const std::string& slot)
      : run_(run), log_(log), history_(history), state_(state), causes_(causes), slot_(slot) {}

  bool PassesWithout(const std::vector<size_t>& undone) {
    crash::CrashState trial = state_;
    for (size_t i : undone) trial = crash::Undo(history_, trial, causes_[i], i);
    return JudgeState(run_, log_, trial, slot_).verdict == Verdict::kPassed;
  }

 private:
  const CheckRun& run_;
  const record::ReadLog& log_;
  const crash::History& history_;
  const crash::CrashState& state_;
  const std::vector<crash::Cause>& causes_;
  const std::string& slot_;
};

// A small set of causes whose undoing together makes the checker pass: causes are added in
// order until it passes, then each is dropped again if the rest still pass. Empty when no set
// was found within the trials.
std::vector<size_t> CausesTogether(Trials& trials, size_t causes) {
  std::vector<size_t> set;
  size_t spent = 0;
  bool passes = false;
  for (size_t i = 0; i < causes && spent < kMaxSetTrials && !passes; ++i, ++spent) {
    set.push_back(i);
    passes = set.size() > 1 && trials.PassesWithout(set);
  }
  if (!passes) return {};
  for (size_t k = set.size(); k-- > 0 && spent < kMaxSetTrials && set.size() > 1; ++spent) {
    std::vector<size_t> without = set;
    without.erase(without.begin() + static_cast<long>(k));
    if (trials.PassesWithout(without)) set = std::move(without);
  }
  return set;
}

void SetFinding(StateResult& r, const std::vector<crash::Fix>& fixes, bool confirmed) {
  std::vector<std::string> keys;
  r.fix_ops.clear();
  for (const crash::Fix& fix : fixes) {
    keys.push_back(fix.key);
    r.fix_ops.insert(r.fix_ops.end(), fix.ops.begin(), fix.ops.end());
  }
  std::sort(keys.begin(), keys.end());
  keys.erase(std::unique(keys.begin(), keys.end()), keys.end());
  std::sort(r.fix_ops.begin(), r.fix_ops.end());
  r.fix_ops.erase(std::unique(r.fix_ops.begin(), r.fix_ops.end()), r.fix_ops.end());
  r.finding_confirmed = confirmed;
  if (fixes.size() == 1) {
    r.fix_key = keys.front();
    r.finding = fixes.front().text;
    return;
  }
  r.fix_key = confirmed ? "all:" : "some:";
  for (const std::string& k : keys) r.fix_key += k + ";";
  r.finding = confirmed ? "all of: " : "one or more of: ";
  for (size_t i = 0; i < fixes.size() && i < kFixesNamed; ++i)
    r.finding += (i == 0 ? "" : "; and ") + fixes[i].text;
  if (fixes.size() > kFixesNamed)
    r.finding += "; and " + std::to_string(fixes.size() - kFixesNamed) + " more";
}

void Explain(const CheckRun& run, const record::ReadLog& log, const crash::History& history,
             const crash::CrashState& state, const std::string& slot, StateResult& r) {
  const auto causes = crash::CausesOf(log.ops, history, state);
  if (causes.empty()) {
    r.finding = "the checker fails although every op before the crash point persisted";
    r.finding_confirmed = true;  // nothing else can explain it
    r.fix_key = "none";
    return;
  }
  Trials trials(run, log, history, state, causes, slot);
  for (size_t i = 0; i < causes.size() && i < kMaxSingleTrials; ++i) {
    if (trials.PassesWithout({i}))
      return SetFinding(r, {crash::FixOf(log.ops, history, causes[i])}, true);
  }
  std::vector<crash::Fix> fixes;
  const std::vector<size_t> together = CausesTogether(trials, causes.size());
  for (size_t i : together) fixes.push_back(crash::FixOf(log.ops, history, causes[i]));
  if (!fixes.empty()) return SetFinding(r, fixes, true);
  for (const crash::Cause& c : causes) fixes.push_back(crash::FixOf(log.ops, history, c));
  SetFinding(r, fixes, false);
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
