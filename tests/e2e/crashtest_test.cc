// Goal: `faultfs crashtest`, `crash list/materialize` and `replay` work end to end through real
// recording mounts: the classic "write a temp file, rename it over the old one" bug is flagged
// under pp and weak with a finding that names the missing fsync, the fsynced version is clean,
// the checker gets its documented environment, bad usage and failed workloads exit 2, a damaged
// log still lists the states of its intact prefix, and replay rebuilds the workload's result.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "crashtest_output.h"
#include "faultfs/core/process.h"
#include "test_support.h"

namespace faultfs::testing {
namespace {

// Replaces f with new contents; the unsafe version has no fsync at all.
constexpr char kUnsafe[] = "printf new > f.tmp && mv f.tmp f";
// sync FILE fsyncs the file; sync . the directory (coreutils).
constexpr char kSafe[] = "printf new > f.tmp && sync f.tmp && mv f.tmp f && sync .";
// f must hold the old or the new contents, whole.
constexpr char kCheck[] =
    "c=$(cat f); [ \"$c\" = old ] || [ \"$c\" = new ] || { echo \"f holds '$c'\"; exit 1; }";

class Crashtest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(mkdir(data_.c_str(), 0755), 0);
    WriteFile(data_ + "/f", "old");
  }
  CommandResult Run(const std::string& workload, const std::string& check, const std::string& model,
                    std::vector<std::string> extra = {}) {
    std::vector<std::string> argv = {FaultfsBinary(), "crashtest", "--dir",   data_,
                                     "--workload",    workload,    "--check", check,
                                     "--model",       model,       "--seed",  "7"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    return RunCommand(argv, {"TMPDIR=" + dir_.path()}, 240);
  }

  TempDir dir_{"crashtest"};
  std::string data_ = dir_ / "data";
};

TEST_F(Crashtest, UnsafeReplaceIsFlaggedUnderPpWithTheMissingFsync) {
  const CommandResult r = Run(kUnsafe, kCheck, "pp", {"--json", dir_ / "states.jsonl"});
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_NE(r.out.find("fsync f.tmp after op 2 (write f.tmp)"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("f holds ''"), std::string::npos) << r.out;  // the checker's words
  EXPECT_NE(r.err.find("states "), std::string::npos) << r.err;     // progress
  // Every state has a JSON line; the failing one's reproducer rebuilds exactly that state.
  std::ifstream lines(dir_ / "states.jsonl");
  std::string line, reproduce;
  int states = 0, failed = 0;
  while (std::getline(lines, line)) {
    const auto j = nlohmann::json::parse(line);
    ++states;
    if (j["verdict"] == "failed") {
      ++failed;
      reproduce = j["reproduce"];
      EXPECT_EQ(j["model"], "pp");
      EXPECT_FALSE(j["deviations"].empty());
    }
  }
  EXPECT_GT(states, 2);
  ASSERT_GE(failed, 1);
  const std::string out = dir_ / "rebuilt";
  reproduce = reproduce.substr(0, reproduce.find(" --out ")) + " --out " + out;
  reproduce.replace(0, std::string("faultfs").size(), FaultfsBinary());
  const CommandResult rebuilt = RunShell(reproduce);
  ASSERT_EQ(rebuilt.exit_code, 0) << reproduce << "\n" << rebuilt.err;
  EXPECT_EQ(ReadFile(out + "/f"), "");  // the rename survived, the data did not
}

// Goal: a run that found a failure keeps its scratch and says where, how large, and how to remove
// it; a run where every state passed leaves nothing behind.
TEST_F(Crashtest, KeptScratchIsNamedWithItsSizeAndAPassingRunKeepsNone) {
  const CommandResult failed = Run(kUnsafe, kCheck, "pp", {"--work", dir_ / "kept"});
  EXPECT_EQ(failed.exit_code, 1) << failed.out << failed.err;
  EXPECT_EQ(CrashtestKeptWork(failed.out), dir_ / "kept") << failed.out;
  EXPECT_NE(failed.out.find("starting state, outputs; "), std::string::npos) << failed.out;
  EXPECT_TRUE(failed.out.find(" KiB): ") != std::string::npos ||
              failed.out.find(" MiB): ") != std::string::npos)
      << failed.out;
  EXPECT_NE(failed.out.find("remove it when done: rm -rf " + (dir_ / "kept")), std::string::npos)
      << failed.out;
  EXPECT_TRUE(std::filesystem::exists(dir_ / "kept/record.log"));
  const CommandResult passed = Run(kSafe, kCheck, "pp", {"--work", dir_ / "gone"});
  EXPECT_EQ(passed.exit_code, 0) << passed.out << passed.err;
  EXPECT_EQ(passed.out.find("scratch directory kept"), std::string::npos) << passed.out;
  EXPECT_FALSE(std::filesystem::exists(dir_ / "gone"));
}

TEST_F(Crashtest, UnsafeReplaceIsFlaggedUnderWeak) {
  const CommandResult r = Run(kUnsafe, kCheck, "weak");
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_NE(r.out.find("fsync f.tmp after op 2 (write f.tmp), before op 3 (rename f.tmp -> f)"),
            std::string::npos)
      << r.out;
}

TEST_F(Crashtest, FsyncedReplaceIsCleanUnderEveryModel) {
  for (const char* model : {"pp", "pp-strict", "ext4", "weak", "prefix", "reorder-2", "torn-512"}) {
    const CommandResult r = Run(kSafe, kCheck, model);
    EXPECT_EQ(r.exit_code, 0) << model << "\n" << r.out << r.err;
    EXPECT_NE(r.out.find(" 0 failed"), std::string::npos) << r.out;
  }
}

TEST_F(Crashtest, CheckerGetsItsEnvironmentAndTheMarkersBeforeTheCrash) {
  // Acknowledged after the file's fsync only: under pp-strict the file's name is not durable until
  // its directory is synced, so a state after the marker may lack it; under pp it may not.
  const std::string workload =
      "printf a > a && sync a && \"$FAULTFS\" ctl \"$FAULTFS_DIR\" mark wrote-a";
  const std::string check =
      "[ \"$PWD\" = \"$FAULTFS_STATE_DIR\" ] && [ \"$FAULTFS_MODEL\" = \"$M\" ] && [ "
      "\"$FAULTFS_SEED\" = 7 ] && "
      "[ -n \"$FAULTFS_STATE_ID\" ] && [ -f \"$FAULTFS_MARKS\" ] || exit 3; "
      "if grep -qx wrote-a \"$FAULTFS_MARKS\"; then [ \"$(cat a 2>/dev/null)\" = a ] || { echo "
      "lost a; exit 1; }; fi";
  CommandResult pp = Run(workload, "M=pp; " + check, "pp");
  EXPECT_EQ(pp.exit_code, 0) << pp.out << pp.err;
  CommandResult strict = Run(workload, "M=pp-strict; " + check, "pp-strict");
  EXPECT_EQ(strict.exit_code, 1) << strict.out << strict.err;
  EXPECT_NE(strict.out.find("fsync the root directory after op 1 (create a)"), std::string::npos)
      << strict.out;
  EXPECT_NE(strict.out.find("lost a"), std::string::npos) << strict.out;
}

TEST_F(Crashtest, AServerStyleCheckerGetsAPortAndWhatItLeavesRunningIsStopped) {
  // Goal: each state's checker gets a port it can bind (FAULTFS_PORT), and a daemon it leaves
  // behind in a session of its own (setsid, as pg_ctl does) is gone when crashtest returns. The
  // negative case: a checker that cannot bind its port is inconclusive (exit 3), not a pass.
  const std::string pids = dir_ / "daemons";
  const std::string check =
      "python3 -c 'import os, socket; socket.socket().bind((\"127.0.0.1\", "
      "int(os.environ[\"FAULTFS_PORT\"])))' || exit 3; "
      "setsid -f sh -c 'echo $$ >> " +
      pids +
      "; exec sleep 300'; "
      "while ! grep -q . " +
      pids + " 2>/dev/null; do sleep 0.01; done; " + kCheck;
  CommandResult r = Run(kSafe, check, "pp", {"--jobs", "2"});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  std::ifstream started(pids);
  int daemons = 0;
  for (pid_t pid = 0; started >> pid; ++daemons) {
    // SIGKILLed before its check ended; dead once the kernel has delivered that (a moment on a
    // busy machine), never 300 s later.
    for (int i = 0; i < 3000 && ProcessRunning(pid); ++i) usleep(10000);
    EXPECT_FALSE(ProcessRunning(pid)) << "daemon " << pid << " outlived its check";
  }
  EXPECT_GT(daemons, 1);
  r = Run(kSafe, "FAULTFS_PORT=not-a-port; " + check, "pp");
  EXPECT_EQ(r.exit_code, 3) << r.out << r.err;
}

TEST_F(Crashtest, AllowOtherLetsAWorkloadRunAsAnotherUserAndStatesKeepItsOwner) {
  // Goal: with --allow-other a workload that runs as another user (a database server's) writes
  // through the recording mount, and each crash state has what it made owned by that user. The
  // negative case: without it, the kernel keeps that user out and the workload fails (exit 2).
  ASSERT_EQ(chmod(data_.c_str(), 0777), 0);
  ASSERT_EQ(chmod(dir_.path().c_str(), 0755), 0);
  const std::string workload =
      "setpriv --reuid=65534 --regid=65534 --clear-groups sh -c 'printf x > mine && sync mine'";
  const std::string check =
      "[ ! -e mine ] || [ \"$(stat -c %u:%g mine)\" = 65534:65534 ] || { stat -c 'owner %u:%g' "
      "mine; exit 1; }";
  CommandResult r = Run(workload, check, "pp", {"--allow-other"});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_EQ(CrashtestFailed(r.out), 0) << r.out;
  r = Run(workload, check, "pp");
  EXPECT_EQ(r.exit_code, 2) << r.out << r.err;
}

// The builder writes a state's files through descriptors it keeps while applying ops; none may
// still be open for writing when the checker runs, or the checker could not execute a file the
// workload wrote (ETXTBSY).
TEST_F(Crashtest, CheckerCanRunAProgramTheWorkloadWrote) {
  const std::string workload = "printf '#!/bin/sh\\necho ok\\n' > run.sh && chmod +x run.sh";
  const std::string check =
      "if [ -x run.sh ] && [ -s run.sh ]; then out=$(./run.sh 2>&1); [ \"$out\" = ok ] || "
      "{ echo \"could not run run.sh: $out\"; exit 1; }; fi";
  const CommandResult r = Run(workload, check, "prefix");
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find(" 0 failed"), std::string::npos) << r.out;
}

TEST_F(Crashtest, WithoutACheckerTheBuiltInOracleJudges) {
  const CommandResult r = RunCommand({FaultfsBinary(), "crashtest", "--dir", data_, "--workload",
                                      kSafe, "--model", "pp", "--seed", "7"},
                                     {"TMPDIR=" + dir_.path()}, 240);
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.err.find("built-in oracle checks 2 durability facts"), std::string::npos) << r.err;
}

// Relative --dir and --work (the mount is found by its absolute path).
TEST_F(Crashtest, RelativePathsWork) {
  const CommandResult r = RunShell("cd '" + dir_.path() + "' && '" + FaultfsBinary() +
                                       "' crashtest --dir data --work scratch --workload '" +
                                       kSafe + "' --check true --model prefix --seed 7",
                                   240);
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("0 failed"), std::string::npos) << r.out;
}

TEST_F(Crashtest, InconclusiveCheckerIsNotAPass) {
  const CommandResult r = Run(kSafe, "exit 5", "prefix");
  EXPECT_EQ(r.exit_code, 3) << r.out;  // not a failure, not a pass
  EXPECT_NE(r.out.find(" 0 failed, "), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find(" 0 inconclusive"), std::string::npos) << r.out;
}

TEST_F(Crashtest, BadUsageAndFailedWorkloadsExitTwo) {
  CommandResult r = Run("exit 3", kCheck, "pp");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("the workload failed (exit 3)"), std::string::npos) << r.err;
  r = Run(kSafe, kCheck, "sometimes");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("pp-strict"), std::string::npos) << r.err;  // the valid names are listed
  r = RunCommand({FaultfsBinary(), "crashtest", "--dir", dir_ / "missing", "--workload", "true",
                  "--check", "true"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("missing' is not a directory"), std::string::npos) << r.err;
}

TEST_F(Crashtest, DamagedLogStillListsItsIntactPrefix) {
  const CommandResult r = Run(kUnsafe, kCheck, "prefix");
  const std::string work =
      CrashtestKeptWork(r.out);  // kept because a state failed... or not: keep it explicitly
  const CommandResult kept = work.empty() ? Run(kUnsafe, "true", "prefix", {"--keep"}) : r;
  const std::string log = CrashtestKeptWork(kept.out) + "/record.log";
  const CommandResult whole =
      RunCommand({FaultfsBinary(), "crash", "list", log, "--model", "prefix"});
  ASSERT_EQ(whole.exit_code, 0) << whole.err;
  EXPECT_NE(whole.out.find(" 3 ops"), std::string::npos) << whole.out;
  // Cut the last record in half: the first two remain usable.
  std::string bytes = ReadFile(log);
  WriteFile(log, bytes.substr(0, bytes.size() - 10));
  CommandResult cut = RunCommand({FaultfsBinary(), "crash", "list", log, "--model", "prefix"});
  EXPECT_EQ(cut.exit_code, 0) << cut.err;
  EXPECT_NE(cut.err.find("damaged at record 3"), std::string::npos) << cut.err;
  EXPECT_NE(cut.err.find("truncated record"), std::string::npos) << cut.err;
  EXPECT_NE(cut.out.find(" 2 ops"), std::string::npos) << cut.out;
  // Flip a bit in the second record: only the first remains.
  bytes[bytes.size() / 2 + 40] ^= 0x04;
  WriteFile(log, bytes);
  CommandResult flipped = RunCommand({FaultfsBinary(), "crash", "list", log, "--model", "prefix"});
  EXPECT_EQ(flipped.exit_code, 0) << flipped.err;
  EXPECT_NE(flipped.err.find("checksum mismatch"), std::string::npos) << flipped.err;
  // Not a log at all: an error, exit 1.
  WriteFile(log, "garbage");
  CommandResult garbage = RunCommand({FaultfsBinary(), "crash", "list", log});
  EXPECT_EQ(garbage.exit_code, 1);
  EXPECT_NE(garbage.err.find("not a usable faultfs record log"), std::string::npos) << garbage.err;
}

TEST_F(Crashtest, ReplayRebuildsTheWorkloadsResult) {
  const std::string workload =
      "mkdir -p d/e && printf 1 > d/e/x && \"$FAULTFS\" ctl \"$FAULTFS_DIR\" mark one && printf 22 "
      ">> d/e/x && "
      "mv d/e d/g && ln d/g/x y && rm f && sync d/g/x";
  const CommandResult r = Run(workload, "true", "prefix", {"--keep"});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  const std::string work = CrashtestKeptWork(r.out);
  const std::string to = dir_ / "replayed";
  CommandResult replay = RunCommand({FaultfsBinary(), "replay", work + "/record.log", "--to", to});
  ASSERT_EQ(replay.exit_code, 0) << replay.err;
  EXPECT_EQ(RunShell("diff -r " + work + "/data " + to).exit_code, 0);
  EXPECT_EQ(ReadFile(to + "/y"), "122");
  const std::string until = dir_ / "until";
  replay = RunCommand(
      {FaultfsBinary(), "replay", work + "/record.log", "--to", until, "--until-mark", "one"});
  ASSERT_EQ(replay.exit_code, 0) << replay.err;
  EXPECT_EQ(ReadFile(until + "/d/e/x"), "1");
  EXPECT_EQ(ReadFile(until + "/f"), "old");
  replay = RunCommand({FaultfsBinary(), "replay", work + "/record.log", "--to", dir_ / "u2",
                       "--until-mark", "nope"});
  EXPECT_EQ(replay.exit_code, 2);
  EXPECT_NE(replay.err.find("no marker 'nope'"), std::string::npos) << replay.err;
}

// The durable-update idiom twice, with the second generation acknowledged. pp must flag only the
// second rename (the first one is durable once the second file's fsync keeps its name, which the
// first rename freed), never lose the fsynced second file, and so must ext4's model: its journal
// commits the second rename only at the next commit. With a directory fsync after each rename,
// every model is clean.
std::string Twice(const std::string& after_rename) {
  return "echo 1 > f.tmp && sync f.tmp && mv f.tmp f" + after_rename +
         " && echo 2 > f.tmp && sync f.tmp && mv f.tmp f" + after_rename +
         " && \"$FAULTFS\" ctl \"$FAULTFS_DIR\" mark two";
}
constexpr char kTwiceCheck[] =
    "if grep -q two \"$FAULTFS_MARKS\"; then [ \"$(cat f)\" = 2 ] || { echo \"f=$(cat f)\"; exit "
    "1; }; fi; [ -e f ] || [ -e f.tmp ] || { echo lost both; exit 1; }";

TEST_F(Crashtest, TmpFsyncRenameTwiceIsFlaggedOnlyForTheSecondRename) {
  const std::string unsafe = Twice("");
  for (const char* model : {"pp", "ext4"}) {
    const CommandResult r = Run(unsafe, kTwiceCheck, model);
    EXPECT_EQ(r.exit_code, 1) << model << "\n" << r.out << r.err;
    EXPECT_NE(r.out.find("1. fsync the root directory after op 8 (rename f.tmp -> f)"),
              std::string::npos)
        << model << "\n"
        << r.out;
    EXPECT_EQ(r.out.find("after op 4 (rename"), std::string::npos) << model << "\n" << r.out;
    EXPECT_EQ(r.out.find("lost both"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("Findings: 1 failing state, 1 fix"), std::string::npos) << r.out;
    if (std::string(model) == "pp") {
      EXPECT_NE(r.out.find("also under the ext4 model"), std::string::npos) << r.out;
    }
  }
  const std::string safe = Twice(" && sync .");
  for (const char* model : {"pp", "pp-strict", "ext4", "weak", "reorder-2", "prefix"}) {
    const CommandResult r = Run(safe, kTwiceCheck, model);
    EXPECT_EQ(r.exit_code, 0) << model << "\n" << r.out << r.err;
  }
}

TEST_F(Crashtest, ConfigWriterFindingsAreGroupedByFixAndCountsAddUp) {
  const std::string examples = SourceDir() + "/examples/config";
  WriteFile(data_ + "/config.json", "{\"generation\": 0, \"name\": \"service-0\"}\n");
  for (const char* model : {"pp", "pp-strict", "ext4"}) {
    const CommandResult r =
        Run("sh " + examples + "/workload.sh 3", "sh " + examples + "/check.sh", model);
    EXPECT_EQ(r.exit_code, 1) << model << "\n" << r.out << r.err;
    EXPECT_GT(CrashtestFailed(r.out), 0) << r.out;
    EXPECT_EQ(CrashtestFindingStates(r.out), CrashtestFailed(r.out)) << model << "\n" << r.out;
    for (const char* op : {"4", "9", "14"}) {
      EXPECT_NE(r.out.find(std::string("fsync the root directory after op ") + op + " (rename"),
                std::string::npos)
          << model << "\n"
          << r.out;
    }
    EXPECT_EQ(r.out.find("not a whole configuration"), std::string::npos) << r.out;
  }
  const CommandResult synced =
      Run("sh " + examples + "/workload.sh 3 dirsync", "sh " + examples + "/check.sh", "pp-strict");
  EXPECT_EQ(synced.exit_code, 0) << synced.out << synced.err;
}

TEST_F(Crashtest, AWorkloadThatTestsNothingExitsTwo) {
  // It writes to --dir itself: crashtest says so and tests nothing.
  CommandResult r = Run("printf x > '" + data_ + "/g'", "true", "pp");
  EXPECT_EQ(r.exit_code, 2) << r.out << r.err;
  EXPECT_NE(r.err.find("the workload changed --dir"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("'g'"), std::string::npos) << r.err;
  ASSERT_EQ(unlink((data_ + "/g").c_str()), 0);
  // It only reads.
  r = Run("cat f", "true", "pp");
  EXPECT_EQ(r.exit_code, 2) << r.out << r.err;
  EXPECT_NE(r.err.find("changed nothing through the mount"), std::string::npos) << r.err;
  // The negative case: a workload that writes in its working directory is tested.
  r = Run(kSafe, kCheck, "prefix");
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
}

TEST_F(Crashtest, DirAndWorkAreCheckedUpFront) {
  CommandResult r = RunCommand(
      {FaultfsBinary(), "crashtest", "--dir", "/", "--workload", "true", "--check", "true"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("--dir is '/'"), std::string::npos) << r.err;
  r = Run(kSafe, kCheck, "pp", {"--work", data_ + "/scratch"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("is inside --dir"), std::string::npos) << r.err;
  EXPECT_NE(access((data_ + "/scratch").c_str(), F_OK), 0);  // refused before anything was made
  r = Run(kSafe, kCheck, "pp", {"--work", dir_.path()});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("is inside the scratch directory"), std::string::npos) << r.err;
}

// --dir on another filesystem than the scratch directory (tmpfs here, ext4 or the test root's
// there) is copied, not linked or reflinked across filesystems.
TEST_F(Crashtest, DirOnAnotherFilesystemWorks) {
  TempDir shm("crashtest-shm", "/dev/shm");
  WriteFile(shm / "f", "old");
  const CommandResult r =
      RunCommand({FaultfsBinary(), "crashtest", "--dir", shm.path(), "--workload", kSafe, "--check",
                  kCheck, "--model", "pp", "--seed", "7"},
                 {"TMPDIR=" + dir_.path()}, 240);
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
}

}  // namespace
}  // namespace faultfs::testing
