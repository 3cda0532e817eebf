#include "crashtest_check.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <thread>

#include "crash_json.h"
#include "faultfs/core/loopback_port.h"
#include "faultfs/core/mutex.h"
#include "faultfs/core/shell_host.h"
#include "faultfs/core/subprocess.h"
#include "faultfs/core/tree_copy.h"
#include "faultfs/core/tree_hash.h"
#include "faultfs/crash/materialize.h"
#include "faultfs/crash/state_builder.h"

namespace faultfs::cli {

namespace {

constexpr size_t kOutputTailBytes = 2000;

// "states 120/400 (3 failed)" on stderr: rewritten in place on a terminal, else every 10%.
class Progress {
 public:
  Progress(bool on, size_t total) : on_(on), total_(total), tty_(isatty(STDERR_FILENO) != 0) {}
  void Done(bool failed) {
    const size_t done = ++done_;
    failed_ += failed ? 1 : 0;
    if (!on_) return;
    MutexLock lock(mu_);
    const auto now = std::chrono::steady_clock::now();
    const bool last = done == total_;
    if (tty_ ? (last || now - shown_ > std::chrono::milliseconds(100))
             : (last || done * 10 / total_ != step_)) {
      std::fprintf(stderr, "%sstates %zu/%zu checked (%zu failed)%s", tty_ ? "\r" : "", done,
                   total_, failed_.load(), tty_ && !last ? "" : "\n");
      std::fflush(stderr);
      shown_ = now;
      step_ = done * 10 / total_;
    }
  }

 private:
  const bool on_;
  const size_t total_;
  const bool tty_;
  std::atomic<size_t> done_{0};
  std::atomic<size_t> failed_{0};
  Mutex mu_;
  std::chrono::steady_clock::time_point shown_;
  size_t step_ = 0;
};

// Ports for checkers that start a server: each state being checked gets one of its own, free
// when handed out, outside the ephemeral range (loopback_port.h), and no other state's until
// its check has ended (however many slots and models check at once).
class CheckerPorts {
 public:
  static CheckerPorts& Shared() {
    static CheckerPorts ports;
    return ports;
  }
  Result<uint16_t> Take() {
    MutexLock lock(mu_);
    return PortForLater(taken_);
  }
  void Give(uint16_t port) {
    MutexLock lock(mu_);
    taken_.erase(port);
  }

 private:
  Mutex mu_;
  std::set<uint16_t> taken_ FAULTFS_GUARDED_BY(mu_);
};

// The checker of a slot: one shell that runs it for every state the slot builds in `dir`.
std::unique_ptr<ShellHost> CheckerFor(const CheckRun& run, const std::string& base,
                                      const std::string& dir) {
  if (run.oracle != nullptr) return nullptr;
  ShellHostSpec spec;
  spec.command = run.check;
  spec.cwd = dir;
  spec.env = {{"FAULTFS_STATE_DIR", dir},
              {"FAULTFS_MARKS", base + "/marks"},
              {"FAULTFS_MODEL", run.model.Name()},
              {"FAULTFS_SEED", std::to_string(run.seed)}};
  spec.output = base + "/check.out";
  spec.timeout_s = run.timeout_s;
  return std::make_unique<ShellHost>(std::move(spec));
}

// The oracle's or the checker's verdict on the state built in `dir` (the checker's directory).
void Judge(const CheckRun& run, const record::ReadLog& log, const crash::CrashState& state,
           const std::string& base, const std::string& dir, ShellHost* checker, StateResult& r) {
  if (run.oracle != nullptr) {
    const auto missing = run.oracle->Check(state.crash_point, dir);
    r.verdict = missing.empty() ? Verdict::kPassed : Verdict::kFailed;
    r.how = "built-in oracle";
    for (const auto& m : missing) r.output_tail += m + "\n";
    return;
  }
  {
    std::ofstream out(base + "/marks", std::ios::trunc);
    for (const auto& m : MarksBefore(log.ops, state)) out << m << "\n";
  }
  auto port = CheckerPorts::Shared().Take();
  if (!port.ok()) {
    r.how = "no port for the checker: " + port.status().ToString();
    return;
  }
  auto ran =
      checker->Run({{"FAULTFS_STATE_ID", state.id}, {"FAULTFS_PORT", std::to_string(*port)}});
  CheckerPorts::Shared().Give(*port);
  if (!ran.ok()) {
    r.how = ran.status().ToString();
    return;
  }
  r.how = ran->timed_out
              ? "timed out after " + std::to_string(static_cast<int>(run.timeout_s)) + " s"
              : ran->Describe();
  r.output_tail = FileTail(base + "/check.out", kOutputTailBytes);
  const bool exited = !ran->timed_out && ran->signal == 0;
  r.verdict = exited && ran->exit_code == 0   ? Verdict::kPassed
              : exited && ran->exit_code == 1 ? Verdict::kFailed
                                              : Verdict::kInconclusive;
}

class Checker {
 public:
  Checker(const CheckRun& run, const record::ReadLog& log,
          const std::vector<crash::CrashState>& states, SeenStates& seen, std::string label_prefix)
      : run_(run),
        log_(log),
        states_(states),
        seen_(seen),
        label_prefix_(std::move(label_prefix)),
        two_lanes_(states.size() >= kStatesForTwoLanes * std::max(1u, run.jobs)),
        shared_(SharedInLanes(states, two_lanes_)),
        results_(states.size()),
        progress_(run.progress, states.size()) {}

  std::vector<StateResult> Run() {
    std::vector<std::thread> workers;
    for (unsigned slot = 0; slot < std::max(1u, run_.jobs); ++slot)
      workers.emplace_back([this, slot] { Work(slot); });
    for (auto& w : workers) w.join();
    return std::move(results_);
  }

 private:
  // A slot builds and checks its states in two lanes, each with its own builder, directory and
  // checker shell: the states where every op up to the crash point persisted (one crash point
  // after another: each extends the one before, at the cost of the ops it adds), and the others
  // (each built from the last checkpoint). One lane would break the chain at every state that
  // loses an op, and rebuild the next full state from the checkpoint.
  struct Lane {
    std::string base;
    bool started = false;  // builder and checker made (on the lane's first state)
    Result<std::unique_ptr<crash::StateBuilder>> builder = Status::Invalid("no builder");
    std::unique_ptr<ShellHost> checker;
  };

  // A second lane costs each slot a second copy of the starting state (its first state): worth
  // it for runs of many states only.
  static constexpr size_t kStatesForTwoLanes = 32;
  static constexpr size_t kCheckpointEvery = 32;  // StateBuilder's default

  static bool InFullLane(const crash::CrashState& state, bool two_lanes) {
    return two_lanes && state.deviations.empty();
  }

  // SharedPrefixes within each lane: what every later state of the same lane shares.
  static std::vector<size_t> SharedInLanes(const std::vector<crash::CrashState>& states,
                                           bool two_lanes) {
    std::vector<size_t> shared(states.size());
    for (const bool full : {false, true}) {
      std::vector<size_t> index;
      std::vector<crash::CrashState> lane;
      for (size_t i = 0; i < states.size(); ++i) {
        if (InFullLane(states[i], two_lanes) != full) continue;
        index.push_back(i);
        lane.push_back(states[i]);
      }
      const std::vector<size_t> lane_shared = crash::SharedPrefixes(lane);
      for (size_t k = 0; k < index.size(); ++k) shared[index[k]] = lane_shared[k];
    }
    return shared;
  }

  Lane& LaneFor(size_t i, std::array<Lane, 2>& lanes) {
    Lane& lane = lanes[InFullLane(states_[i], two_lanes_) ? 1 : 0];
    if (lane.started) return lane;
    lane.started = true;
    // Lends the snapshot's untouched files to each state instead of copying them all; without
    // it (it could not make its copy of the snapshot), every state is a whole copy.
    (void)mkdir(lane.base.c_str(), 0755);
    lane.checker = CheckerFor(run_, lane.base, lane.base + "/state");
    // The shell starts while the first state is built (a failure shows at its first run).
    if (lane.checker != nullptr) (void)lane.checker->Prepare();
    crash::HeadStart head{run_.digests, ""};
    if (!run_.recorded.empty() && !recorded_taken_.exchange(true)) head.recorded = run_.recorded;
    lane.builder = crash::StateBuilder::Create(run_.snapshot, log_, run_.seed, lane.base,
                                               kCheckpointEvery, head);
    if (!lane.builder.ok()) {
      std::cerr << "faultfs crashtest: copying every state whole: "
                << lane.builder.status().ToString() << "\n";
    }
    return lane;
  }

  void Work(unsigned slot) {
    // Runs of consecutive states: a state that continues the one before it in the same lane
    // (the next crash point) is built by extending it. A short run is shared out evenly among
    // the slots that start (WorthAnotherSlot): each paid for its first state.
    const size_t slots = std::max(1u, run_.jobs);
    const size_t run_length = std::clamp<size_t>((states_.size() + slots - 1) / slots, 1, 8);
    if (slot > 0 && !WorthAnotherSlot()) return;
    size_t first = next_.fetch_add(run_length);
    if (first >= states_.size()) return;  // no work for this slot: no copy of the snapshot either
    const std::string base = run_.work + "/states/" + std::to_string(slot);
    std::array<Lane, 2> lanes;
    lanes[0].base = base;
    lanes[1].base = base + "/full";
    for (; first < states_.size(); first = next_.fetch_add(run_length)) {
      for (size_t i = first; i < std::min(first + run_length, states_.size()); ++i) {
        Lane& lane = LaneFor(i, lanes);
        results_[i] = CheckOne(i, lane.base, lane.builder.ok() ? lane.builder->get() : nullptr,
                               lane.checker.get());
        progress_.Done(results_[i].verdict == Verdict::kFailed);
      }
    }
  }

  // Whether a further slot should start at all. Its first state costs a copy of the starting
  // state, which pays only if the states left would keep the slots already at work busy longer
  // than that. How long they take is not known in advance (the checker may take microseconds or
  // minutes), so the slot waits as long as the copy would take (the recording's copy tells) and
  // starts if states are still left then: at worst the run takes a copy's time longer than it
  // could have, and a short run spares the copy.
  bool WorthAnotherSlot() {
    const auto wait = std::chrono::duration<double>(run_.copy_secs);
    const auto until = std::chrono::steady_clock::now() +
                       std::chrono::duration_cast<std::chrono::steady_clock::duration>(wait);
    const auto poll =
        std::max<std::chrono::duration<double>>(wait / 100, std::chrono::microseconds(500));
    while (std::chrono::steady_clock::now() < until) {
      if (next_.load() >= states_.size()) return false;
      std::this_thread::sleep_for(poll);
    }
    return next_.load() < states_.size();
  }

  // Builds the state in `dir` and hashes it; the builder takes it back when it builds the next.
  // `i`: the state's index (the ops it shares with every later state may stay applied).
  Result<std::string> Build(size_t i, const std::string& dir, crash::StateBuilder* builder) {
    const crash::CrashState& state = states_[i];
    if (builder != nullptr) return builder->Build(state, dir, shared_[i]);
    FAULTFS_RETURN_IF_ERROR(BuildState(run_, log_, state, dir));
    return HashTree(dir);
  }

  StateResult CheckOne(size_t i, const std::string& base, crash::StateBuilder* builder,
                       ShellHost* checker) {
    const crash::CrashState& state = states_[i];
    StateResult r;
    const std::string dir = base + "/state";
    auto hash = Build(i, dir, builder);
    if (!hash.ok()) {
      r.how = "could not rebuild the state: " + hash.status().ToString();
      return r;
    }
    r.hash = *hash;
    {
      // Same content with other markers before the crash is another question for the checker.
      std::string key = r.hash;
      for (const auto& m : MarksBefore(log_.ops, state)) key += "\n" + m;
      MutexLock lock(seen_.mu);
      auto [it, fresh] = seen_.first.try_emplace(std::move(key), label_prefix_ + state.id);
      if (!fresh) {
        r.verdict = Verdict::kDuplicate;
        r.duplicate_of = it->second;
        return r;
      }
    }
    Judge(run_, log_, state, base, dir, checker, r);
    return r;
  }

  const CheckRun& run_;
  const record::ReadLog& log_;
  const std::vector<crash::CrashState>& states_;
  SeenStates& seen_;
  const std::string label_prefix_;
  const bool two_lanes_;
  const std::vector<size_t> shared_;  // SharedInLanes(states_)
  std::vector<StateResult> results_;
  Progress progress_;
  std::atomic<size_t> next_{0};
  std::atomic<bool> recorded_taken_{false};  // run_.recorded given to a builder
};

}  // namespace

Status BuildState(const CheckRun& run, const record::ReadLog& log, const crash::CrashState& state,
                  const std::string& dir) {
  FAULTFS_RETURN_IF_ERROR(RemoveTree(dir));
  if (mkdir(dir.c_str(), 0755) != 0) return Status::FromErrno(errno, "creating " + dir);
  return crash::Materialize(run.snapshot, log, state, run.seed, dir);
}

StateResult JudgeState(const CheckRun& run, const record::ReadLog& log,
                       const crash::CrashState& state, const std::string& slot) {
  StateResult r;
  const std::string dir = slot + "/state";
  if (Status s = BuildState(run, log, state, dir); !s.ok()) {
    r.how = "could not rebuild the state: " + s.ToString();
    return r;
  }
  Judge(run, log, state, slot, dir, CheckerFor(run, slot, dir).get(), r);
  return r;
}

std::vector<StateResult> CheckStates(const CheckRun& run, const record::ReadLog& log,
                                     const std::vector<crash::CrashState>& states, SeenStates& seen,
                                     const std::string& label_prefix) {
  const std::string root = run.work + "/states";
  (void)mkdir(root.c_str(), 0755);
  for (unsigned slot = 0; slot < std::max(1u, run.jobs); ++slot) {
    (void)mkdir((root + "/" + std::to_string(slot)).c_str(), 0755);
  }
  return Checker(run, log, states, seen, label_prefix).Run();
}

}  // namespace faultfs::cli
