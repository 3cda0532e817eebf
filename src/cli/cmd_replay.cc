// `faultfs replay LOG --to DIR [--until-op N | --until-mark TEXT] [--timing]`: re-executes a
// recorded workload against a directory (a plain one, or another faultfs mount with its own
// policy).
#include <chrono>
#include <iostream>
#include <memory>
#include <thread>

#include "commands.h"
#include "faultfs/core/tree_copy.h"
#include "faultfs/crash/materialize.h"
#include "record_log.h"

namespace faultfs::cli {

namespace {

struct ReplayArgs {
  std::string log;
  std::string to;
  uint64_t until_op = UINT64_MAX;
  std::string until_mark;
  bool timing = false;
};

// How many ops to replay; fails when the marker is not in the log.
Result<uint64_t> ReplayLength(const ReplayArgs& a, const record::ReadLog& log) {
  if (a.until_mark.empty()) return std::min<uint64_t>(a.until_op, log.ops.size());
  for (const auto& op : log.ops) {
    if (op.kind == record::OpKind::kMark && op.data == a.until_mark) return op.seq;
  }
  return Status::Invalid("--until-mark: no marker '" + a.until_mark + "' in " + a.log);
}

int Run(const ReplayArgs& a) {
  auto in = LoadRecordLog(a.log);
  if (!in.ok()) {
    std::cerr << "faultfs: " << in.status().ToString() << "\n";
    return kExitFailure;
  }
  auto until = ReplayLength(a, in->log);
  if (!until.ok()) {
    std::cerr << "faultfs: " << until.status().message() << "\n";
    return kExitUsage;
  }
  if (EmptyOrMissing(a.to)) {
    Status s = MakeEmptyDir(a.to);
    if (s.ok()) s = CopyTree(in->snapshot, a.to);
    if (!s.ok()) {
      std::cerr << "faultfs: copying the starting state " << in->snapshot << " to " << a.to << ": "
                << s.ToString() << "\n";
      return kExitFailure;
    }
  } else {
    std::cerr << "faultfs: " << a.to
              << " is not empty: replaying onto it as the recorded starting state\n";
  }
  const auto start = std::chrono::steady_clock::now();
  auto keep_time = [&](const record::Op& op) {
    if (a.timing) std::this_thread::sleep_until(start + std::chrono::nanoseconds(op.time_ns));
  };
  if (Status s = crash::Replay(in->log, a.to, *until, keep_time); !s.ok()) {
    std::cerr << "faultfs: replay stopped: " << s.ToString() << "\n";
    return kExitFailure;
  }
  const double secs =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::cout << "replayed " << *until << " of " << in->log.ops.size() << " ops onto " << a.to
            << " in " << secs << " s\n";
  return kExitOk;
}

}  // namespace

Runner AddReplay(CLI::App& app) {
  auto a = std::make_shared<ReplayArgs>();
  CLI::App* cmd = app.add_subcommand(
      "replay",
      "Re-execute a recorded workload against a directory. An empty or missing DIR first gets the "
      "recorded starting state; a non-empty DIR must already hold it.");
  cmd->add_option("LOG", a->log, "Record log (from faultfs mount --record)")->required();
  cmd->add_option("--to", a->to, "Directory to replay into (may be another faultfs mount)")
      ->required();
  auto* op = cmd->add_option("--until-op", a->until_op, "Stop after op N (sequence number)")
                 ->check(CLI::PositiveNumber);
  auto* mark =
      cmd->add_option("--until-mark", a->until_mark, "Stop at the first marker with this text");
  op->excludes(mark);
  cmd->add_flag("--timing", a->timing,
                "Keep the recorded pace: each op waits for its recorded time");
  return [a] { return Run(*a); };
}

}  // namespace faultfs::cli
