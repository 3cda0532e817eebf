// `faultfs crashtest --dir DIR --workload CMD --check CMD`: the one-command crash-consistency test.
// Records the workload on a faultfs mount over a copy of DIR, then judges every crash state the
// persistence model allows with the user's checker, groups the failing states by what would fix
// them, and tells which fixes the ext4 model needs too. Exit: 0 every state passed, 1 a state
// failed, 2 bad usage or a workload that failed or tested nothing, 3 no state failed but some
// could not be judged (inconclusive, or not built).
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <iterator>
#include <memory>
#include <optional>
#include <thread>

#include "commands.h"
#include "crashtest_check.h"
#include "crashtest_explain.h"
#include "crashtest_findings.h"
#include "crashtest_guard.h"
#include "crashtest_record.h"
#include "crashtest_report.h"
#include "faultfs/core/scratch_dir.h"
#include "faultfs/core/tree_copy.h"
#include "options.h"
#include "record_log.h"

namespace faultfs::cli {

namespace {

struct CrashtestArgs {
  std::string dir;
  std::string workload;
  std::string check;
  std::string model = "pp";
  uint64_t max_states = 1000;
  uint64_t seed = 0;
  unsigned jobs = std::max(1u, std::thread::hardware_concurrency());
  double timeout_s = 60;
  double workload_timeout_s = 0;
  std::string json;
  std::string work;
  bool keep = false;
  bool allow_other = false;
};

// Bytes the files under `dir` occupy on disk (symlinks not followed).
uint64_t DiskUsage(const std::string& dir) {
  uint64_t bytes = 0;
  std::error_code ec;
  for (auto it = std::filesystem::recursive_directory_iterator(dir, ec);
       !ec && it != std::filesystem::recursive_directory_iterator(); it.increment(ec)) {
    struct stat st {};
    if (lstat(it->path().c_str(), &st) == 0) bytes += static_cast<uint64_t>(st.st_blocks) * 512;
  }
  return bytes;
}

// "812 KiB", "10.4 MiB", "2.1 GiB".
std::string FormatSize(uint64_t bytes) {
  const char* units[] = {"bytes", "KiB", "MiB", "GiB", "TiB"};
  double value = static_cast<double>(bytes);
  size_t unit = 0;
  while (value >= 1024 && unit + 1 < std::size(units)) {
    value /= 1024;
    ++unit;
  }
  char text[32];
  std::snprintf(text, sizeof(text), unit == 0 || value >= 100 ? "%.0f %s" : "%.1f %s", value,
                units[unit]);
  return text;
}

// The scratch directory, as an absolute path: the mount, the workload and the checkers all run
// in directories under it, and the mount is found in /proc/mounts by that path.
Result<std::string> MakeWorkDir(const CrashtestArgs& a) {
  std::string dir = a.work;
  if (!dir.empty()) {
    FAULTFS_RETURN_IF_ERROR(MakeEmptyDir(dir));
  } else {
    auto made = MakeScratchDir("faultfs-crashtest");
    if (!made.ok()) return made.status();
    dir = std::move(*made);
  }
  char real[PATH_MAX];
  if (realpath(dir.c_str(), real) == nullptr)
    return Status::FromErrno(errno, "resolving '" + dir + "'");
  return std::string(real);
}

int Fail(const std::string& what, int code) {
  std::cerr << "faultfs crashtest: " << what << "\n";
  return code;
}

// Records the workload; kExitOk, or the exit code to stop with. A workload that changed --dir
// itself, or changed nothing through the mount, tested nothing.
int Record(const CrashtestArgs& a, const std::string& work, Recorded& rec) {
  std::cerr << "faultfs crashtest: recording the workload in " << work << "/mnt\n";
  auto before = StampDir(a.dir);
  if (!before.ok()) return Fail(before.status().ToString(), kExitUsage);
  auto recorded = RecordWorkload({a.dir, work, a.workload, a.workload_timeout_s, a.allow_other});
  if (!recorded.ok()) return Fail("recording failed: " + recorded.status().ToString(), kExitUsage);
  rec = std::move(*recorded);
  if (rec.workload.exit_code != 0 || rec.workload.signal != 0 || rec.workload.timed_out) {
    std::cerr << "faultfs crashtest: the workload failed (" << rec.workload.Describe()
              << "); its output ends:\n"
              << FileTail(rec.workload_output, 2000) << "\n";
    return kExitUsage;
  }
  auto after = StampDir(a.dir);
  if (!after.ok()) return Fail(after.status().ToString(), kExitUsage);
  const auto changed = ChangedPaths(*before, *after, 3);
  if (!changed.empty()) {
    if (!a.keep) (void)RemoveTree(work);  // nothing in it is worth keeping
    std::string names;
    for (const auto& p : changed) names += (names.empty() ? "'" : ", '") + p + "'";
    return Fail("the workload changed --dir '" + a.dir + "' itself (" + names +
                    "), not the copy it is tested on. crashtest runs it in a mount of a copy "
                    "of --dir: its working directory, also $FAULTFS_DIR. Use paths relative to "
                    "it (--dir was not put back)",
                kExitUsage);
  }
  return kExitOk;
}

// Whether the findings get checked against the ext4 model too (it is not the model itself, and
// prefix findings hold on any filesystem).
bool ChecksExt4(const crash::Model& model) {
  return model.kind != crash::ModelKind::kExt4 && model.kind != crash::ModelKind::kPrefix;
}

// Checks the ext4 model's states (those with new content) and marks each finding by whether a
// failing ext4 state has the same fix. Returns how many ext4 states there were.
size_t MarkExt4(const CheckRun& run, const LoadedLog& in, const CrashtestArgs& a,
                const crash::Enumeration& main, const std::vector<StateResult>& results,
                SeenStates& seen, std::vector<Finding>& findings) {
  CheckRun ext4 = run;
  ext4.model = crash::Model{.kind = crash::ModelKind::kExt4};
  std::optional<crash::DurabilityOracle> oracle;
  if (run.oracle != nullptr) {
    auto built =
        crash::DurabilityOracle::Build(in.snapshot, in.log, ext4.model, run.work + "/oracle-ext4");
    if (!built.ok()) return 0;
    oracle = std::move(*built);
    ext4.oracle = &*oracle;
  }
  const auto states = crash::Enumerate(in.log, ext4.model, a.seed, a.max_states).states;
  std::cerr << "faultfs crashtest: checking the ext4 model's " << states.size()
            << " states to tell which findings ext4 shares\n";
  auto ext4_results = CheckStates(ext4, in.log, states, seen, "ext4 ");
  ExplainFailures(ext4, in.log, states, ext4_results);
  const auto keys = FailingFixes(ext4_results, main.states, results);
  for (Finding& f : findings)
    f.ext4 = keys.count(f.key) != 0 ? Finding::Ext4::kAlso : Finding::Ext4::kNot;
  return states.size();
}

// 0 every state passed, 1 a state failed, 3 none failed but some could not be judged.
int ExitCode(const Counts& c) {
  if (c.failed > 0) return kExitFailure;
  return c.inconclusive > 0 || c.errors > 0 ? kExitInconclusive : kExitOk;
}

int Run(CrashtestArgs a) {
  auto model = crash::ParseModel(a.model);
  if (!model.ok()) return Fail("--model: " + model.status().message(), kExitUsage);
  if (!a.work.empty()) {
    if (Status s = CheckCrashtestDirs(a.dir, a.work); !s.ok()) return Fail(s.message(), kExitUsage);
  }
  auto work = MakeWorkDir(a);
  if (!work.ok()) return Fail(work.status().ToString(), kExitUsage);
  if (Status s = CheckCrashtestDirs(a.dir, *work); !s.ok()) {
    if (a.work.empty()) (void)RemoveTree(*work);
    return Fail(s.message(), kExitUsage);
  }
  const auto start = std::chrono::steady_clock::now();
  Recorded rec;
  if (int code = Record(a, *work, rec); code != kExitOk) {
    if (access(work->c_str(), F_OK) == 0)
      std::cerr << "faultfs crashtest: scratch directory kept: " << *work << "\n";
    return code;
  }
  auto in = LoadRecordLog(rec.log);
  if (!in.ok()) return Fail(in.status().ToString(), kExitUsage);
  if (const std::string why = NothingTested(in->log); !why.empty()) {
    if (!a.keep) (void)RemoveTree(*work);
    return Fail(why, kExitUsage);
  }
  const auto enumeration = crash::Enumerate(in->log, *model, a.seed, a.max_states);
  std::cerr << "faultfs crashtest: " << in->log.ops.size() << " ops recorded; model "
            << model->Name() << " gives " << enumeration.states.size()
            << " crash states to check with " << a.jobs << " jobs\n";
  std::optional<crash::DurabilityOracle> oracle;
  if (a.check.empty()) {
    auto built = crash::DurabilityOracle::Build(in->snapshot, in->log, *model, *work + "/oracle");
    if (!built.ok())
      return Fail("building the durability oracle: " + built.status().ToString(), kExitFailure);
    oracle = std::move(*built);
    std::cerr << "faultfs crashtest: no --check: the built-in oracle checks " << oracle->facts()
              << " durability facts (fsynced files and directories)\n";
  }
  CheckRun run{in->snapshot, *work,       a.check, oracle ? &*oracle : nullptr, *model, a.seed,
               a.jobs,       a.timeout_s, true};
  const auto check_start = std::chrono::steady_clock::now();
  // (Waiting for the digests is part of checking: whatever the workload left of reading them.)
  Result<crash::SnapshotDigests> digests =
      rec.digests.valid() ? rec.digests.get() : Status::Invalid("not read");
  if (digests.ok()) run.digests = &*digests;
  run.recorded = rec.dir;
  run.copy_secs = rec.copy_secs;
  SeenStates seen;
  auto results = CheckStates(run, in->log, enumeration.states, seen);
  const double check_secs =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - check_start).count();
  run.recorded.clear();  // taken by the first builder: nothing to take for later runs
  ExplainFailures(run, in->log, enumeration.states, results);
  std::vector<Finding> findings = GroupFindings(enumeration.states, results);
  size_t ext4_states = 0;
  if (!findings.empty() && ChecksExt4(*model))
    ext4_states = MarkExt4(run, *in, a, enumeration, results, seen, findings);
  const double secs =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const ReportInput report{rec.log,      &in->log, *model, a.seed,     a.max_states,
                           &enumeration, &results, secs,   check_secs, std::move(findings),
                           ext4_states};
  PrintReport(report, std::cout);
  if (!a.json.empty()) {
    if (Status s = WriteJsonLines(report, a.json); !s.ok()) return Fail(s.ToString(), kExitFailure);
  }
  const Counts counts = Count(results);
  const int code = ExitCode(counts);
  if (code == kExitOk && !a.keep) {
    (void)RemoveTree(*work);
  } else {
    std::cout << "scratch directory kept (record log, starting state, outputs; "
              << FormatSize(DiskUsage(*work)) << "): " << *work
              << "\n  the reproducers above need it; remove it when done: rm -rf " << *work << "\n";
  }
  return code;
}

}  // namespace

Runner AddCrashtest(CLI::App& app) {
  auto a = std::make_shared<CrashtestArgs>();
  CLI::App* cmd = app.add_subcommand(
      "crashtest",
      "Crash-consistency test: record WORKLOAD on a faultfs mount over a copy of DIR, then run\n"
      "CHECK on every crash state the persistence model allows. The workload runs in the mount\n"
      "(FAULTFS_DIR; the faultfs binary is $FAULTFS, e.g. \"$FAULTFS\" ctl \"$FAULTFS_DIR\" mark\n"
      "committed-1). The checker runs in the state's directory with FAULTFS_STATE_DIR,\n"
      "FAULTFS_MARKS (a file of the markers before the crash), FAULTFS_STATE_ID, FAULTFS_MODEL,\n"
      "FAULTFS_SEED and FAULTFS_PORT (a free 127.0.0.1 port of the state's own, for a server it\n"
      "starts); whatever it leaves running, daemons included, is killed when it ends. It exits\n"
      "0 (consistent), 1 (violation) or anything else (inconclusive).\n"
      "Findings are grouped by the fix they need; under pp and the other weaker models each\n"
      "says whether the ext4 model's states need it too.\n"
      "Exit: 0 all passed, 1 a state failed, 2 bad usage, or a workload that failed, changed\n"
      "--dir itself or changed nothing; 3 none failed but some were inconclusive.");
  cmd->add_option("--dir", a->dir, "The starting directory (copied; never changed)")->required();
  cmd->add_option("--workload", a->workload, "Command that changes the data (sh -c)")->required();
  cmd->add_option(
      "--check", a->check,
      "Command that judges a crash state (as sh -c runs it; each state gets a fresh subshell\n"
      "of one shell per job, which costs a fork where a new sh costs a fork and an exec).\n"
      "Without it, a built-in oracle checks that\n"
      "every file and directory made durable before the crash is there, as it was then");
  cmd->add_option("--model", a->model, "Persistence model:\n" + crash::ModelHelp())
      ->capture_default_str();
  cmd->add_option("--max-states", a->max_states,
                  "Check at most this many states (sampled with the seed)")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  AddSeedOption(*cmd, a->seed, "Seed for sampling (default: a fresh one, printed)");
  cmd->add_option("--jobs,-j", a->jobs, "Checkers run in parallel")
      ->capture_default_str()
      ->check(CLI::Range(1u, 1024u));
  cmd->add_option("--timeout", a->timeout_s,
                  "Seconds a checker may run before it counts as inconclusive")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  cmd->add_option("--workload-timeout", a->workload_timeout_s,
                  "Seconds the workload may run (0: no limit)")
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--json", a->json, "Write one JSON line per state to this file");
  cmd->add_option("--work", a->work,
                  "Scratch directory (created or empty; default: a new one in $TMPDIR)");
  cmd->add_flag("--keep", a->keep, "Keep the scratch directory even when every state passed");
  cmd->add_flag("--allow-other", a->allow_other,
                "Share the recording mount with other users, for a workload that runs a server as\n"
                "its own user (the scratch directory becomes traversable by all; --dir's owners\n"
                "are kept in the copy, and crash states keep the owner of what the workload made)");
  return [a] { return Run(*a); };
}

}  // namespace faultfs::cli
