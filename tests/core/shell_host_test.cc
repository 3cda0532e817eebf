// Goal: ShellHost runs a command again and again in one long-lived shell, and each run is as
// separate as `sh -c` would make it: its own exit status, variables, directory, output file and
// timeout, no descriptor of the host's, and nothing it left running survives into the next run.
#include "faultfs/core/shell_host.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <string>
#include <utility>
#include <vector>

#include "test_support.h"

namespace faultfs {
namespace {

ShellHostSpec Spec(std::string command, std::string output, std::string cwd = "",
                   std::vector<std::pair<std::string, std::string>> env = {},
                   double timeout_s = 0) {
  ShellHostSpec spec;
  spec.command = std::move(command);
  spec.output = std::move(output);
  spec.cwd = std::move(cwd);
  spec.env = std::move(env);
  spec.timeout_s = timeout_s;
  return spec;
}

std::string Slurp(const std::string& path) {
  std::ifstream in(path);
  return {std::istreambuf_iterator<char>(in), {}};
}

// A process SIGKILLed before Run returned is gone (or a zombie) as soon as the kernel has
// delivered that, which on a busy machine can take a moment, but never half a minute (it would
// be sleeping).
void ExpectGone(pid_t pid) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  std::string state = Slurp("/proc/" + std::to_string(pid) + "/stat");
  while (!state.empty() && state.find(") Z ") == std::string::npos &&
         std::chrono::steady_clock::now() < deadline) {
    usleep(10000);
    state = Slurp("/proc/" + std::to_string(pid) + "/stat");
  }
  EXPECT_TRUE(state.empty() || state.find(") Z ") != std::string::npos) << state;
}

TEST(ShellHost, EachRunHasItsExitStatusVariablesAndOutput) {
  // Goal: runs 1..3 see their own variable, write only their own output, exit with their own
  // code, and the host shell is started once for all of them.
  testing::TempDir dir("shell-host");
  ShellHost host(Spec("echo \"run $N in $PWD, fixed=$FIXED, args=$#\"; exit $N", dir / "out",
                      dir.path(), {{"FIXED", "yes"}}));
  for (int n = 1; n <= 3; ++n) {
    auto ran = host.Run({{"N", std::to_string(n)}});
    ASSERT_TRUE(ran.ok()) << ran.status().ToString();
    EXPECT_EQ(ran->exit_code, n);
    EXPECT_FALSE(ran->timed_out);
    EXPECT_EQ(Slurp(dir / "out"),
              "run " + std::to_string(n) + " in " + dir.path() + ", fixed=yes, args=0\n");
  }
  EXPECT_EQ(host.shells_started(), 1);
}

TEST(ShellHost, ARunChangesNothingForTheNext) {
  // Goal: a variable set, a directory entered or a function defined by one run is gone in the
  // next (each run is a subshell), and `exit` ends the run, not the host.
  testing::TempDir dir("shell-host");
  ShellHost host(
      Spec("[ -z \"$LEAK\" ] && [ \"$PWD\" = \"$HOME_DIR\" ] && "
           "! command -v leaked >/dev/null || exit 9; "
           "LEAK=1; cd /; leaked() { :; }; exit 0",
           dir / "out", dir.path(), {{"HOME_DIR", dir.path()}}));
  for (int n = 0; n < 3; ++n) {
    auto ran = host.Run({});
    ASSERT_TRUE(ran.ok()) << ran.status().ToString();
    EXPECT_EQ(ran->exit_code, 0) << "run " << n << " saw what an earlier run left";
  }
}

TEST(ShellHost, TheDirectoryIsEnteredAnewForEachRun) {
  // Goal: a run works in the directory now at the path, not in a removed one of the same name
  // (crashtest rebuilds the state directory between runs).
  testing::TempDir dir("shell-host");
  const std::string work = dir / "state";
  ASSERT_EQ(mkdir(work.c_str(), 0755), 0);
  ShellHost host(Spec("cat marker", dir / "out", work));
  for (const std::string content : {"first", "second"}) {
    ASSERT_EQ(system(("rm -rf " + work + " && mkdir " + work + " && echo " + content + " > " +
                      work + "/marker")
                         .c_str()),
              0);
    auto ran = host.Run({});
    ASSERT_TRUE(ran.ok());
    EXPECT_EQ(ran->exit_code, 0);
    EXPECT_EQ(Slurp(dir / "out"), content + "\n");
  }
}

TEST(ShellHost, APreparedShellRunsBeforeItsDirectoryExistsAndIsTheOneRunsUse) {
  // Goal: Prepare starts the one shell before the run's directory is made (crashtest starts it
  // while it builds the first state), the runs use that shell, and a second Prepare starts none.
  testing::TempDir dir("shell-host");
  const std::string work = dir / "state";
  ShellHost host(Spec("cat marker", dir / "out", work));
  ASSERT_TRUE(host.Prepare().ok());
  EXPECT_EQ(host.shells_started(), 1);
  ASSERT_TRUE(host.Prepare().ok());
  EXPECT_EQ(host.shells_started(), 1);
  ASSERT_EQ(mkdir(work.c_str(), 0755), 0);
  ASSERT_EQ(system(("echo made > " + work + "/marker").c_str()), 0);
  auto ran = host.Run({});
  ASSERT_TRUE(ran.ok());
  EXPECT_EQ(ran->exit_code, 0);
  EXPECT_EQ(Slurp(dir / "out"), "made\n");
  EXPECT_EQ(host.shells_started(), 1);
}

TEST(ShellHost, ATimedOutRunIsKilledAndTheNextRunsInANewShell) {
  // Goal: the timeout ends a run (and what it started), reported as timed out; the next run
  // works, in a new host shell. The negative case: a run within its time is not timed out.
  testing::TempDir dir("shell-host");
  ShellHost host(Spec("[ \"$SLOW\" = 1 ] && sleep 30; exit 0", dir / "out", "", {}, 0.5));
  const auto start = std::chrono::steady_clock::now();
  auto slow = host.Run({{"SLOW", "1"}});
  ASSERT_TRUE(slow.ok());
  EXPECT_TRUE(slow->timed_out);
  EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(), 20);
  auto quick = host.Run({{"SLOW", "0"}});
  ASSERT_TRUE(quick.ok());
  EXPECT_FALSE(quick->timed_out);
  EXPECT_EQ(quick->exit_code, 0);
  EXPECT_EQ(host.shells_started(), 2);
}

TEST(ShellHost, WhatARunLeavesRunningIsKilledBeforeTheNext) {
  // Goal: a background process a run started and left is gone when Run returns; a run that
  // leaves nothing keeps the same shell.
  testing::TempDir dir("shell-host");
  const std::string pid_file = dir / "left.pid";
  ShellHost host(Spec("[ \"$LEAVE\" = 1 ] && { sleep 60 & echo $! > " + pid_file + "; }; exit 0",
                      dir / "out"));
  auto plain = host.Run({{"LEAVE", "0"}});
  ASSERT_TRUE(plain.ok());
  EXPECT_EQ(host.shells_started(), 1);
  auto leaving = host.Run({{"LEAVE", "1"}});
  ASSERT_TRUE(leaving.ok());
  EXPECT_EQ(leaving->exit_code, 0);
  ExpectGone(std::stoi(Slurp(pid_file)));
  auto next = host.Run({{"LEAVE", "0"}});
  ASSERT_TRUE(next.ok());
  EXPECT_EQ(host.shells_started(), 2);
}

TEST(ShellHost, ADaemonThatLeftTheProcessGroupIsKilledToo) {
  // Goal: a server a run started in a session of its own (setsid, as daemons and pg_ctl do) is
  // killed when the run ends and when the run times out: the process group alone misses it.
  // The negative case: the run's own exit status still comes through.
  testing::TempDir dir("shell-host");
  const std::string pid_file = dir / "daemon.pid";
  ShellHost host(Spec("rm -f " + pid_file + "; setsid -f sh -c 'echo $$ > " + pid_file +
                          "; exec sleep 60'; while [ ! -s " + pid_file +
                          " ]; do sleep 0.01; done; [ \"$HANG\" = 1 ] && sleep 60; exit 3",
                      dir / "out", "", {}, 20));
  auto ended = host.Run({{"HANG", "0"}});
  ASSERT_TRUE(ended.ok());
  EXPECT_EQ(ended->exit_code, 3);
  ExpectGone(std::stoi(Slurp(pid_file)));

  ShellHost slow(Spec("setsid -f sh -c 'echo $$ > " + pid_file + "; exec sleep 60'; while [ ! -s " +
                          pid_file + " ]; do sleep 0.01; done; sleep 60",
                      dir / "out", "", {}, 5));
  std::remove(pid_file.c_str());
  auto timed_out = slow.Run({});
  ASSERT_TRUE(timed_out.ok());
  EXPECT_TRUE(timed_out->timed_out);
  const std::string written = Slurp(pid_file);
  ASSERT_FALSE(written.empty()) << "the daemon did not start within the run's 5 s";
  ExpectGone(std::stoi(written));
}

TEST(ShellHost, ARunGetsNoneOfTheHostsDescriptors) {
  // Goal: the two descriptors the host talks over are closed in a run (it cannot read the next
  // run's variables or write a status); stdio is there.
  testing::TempDir dir("shell-host");
  ShellHost host(
      Spec("for fd in 3 4 5 6; do [ -e /proc/self/fd/$fd ] && exit 7; done; "
           "[ -e /proc/self/fd/1 ] || exit 8; exit 0",
           dir / "out"));
  auto ran = host.Run({});
  ASSERT_TRUE(ran.ok());
  EXPECT_EQ(ran->exit_code, 0) << Slurp(dir / "out");
}

TEST(ShellHost, ARunThatKillsItsShellIsReportedAndTheNextRunWorks) {
  // Goal: a run that kills the host shell ends as that signal; the next run gets a new shell.
  testing::TempDir dir("shell-host");
  ShellHost host(Spec("[ \"$KILL\" = 1 ] && kill -9 $$; exit 0", dir / "out"));
  auto killed = host.Run({{"KILL", "1"}});
  ASSERT_TRUE(killed.ok());
  EXPECT_EQ(killed->signal, SIGKILL) << killed->Describe();
  auto next = host.Run({{"KILL", "0"}});
  ASSERT_TRUE(next.ok());
  EXPECT_EQ(next->exit_code, 0);
}

TEST(ShellHost, RefusesAVariableItCannotPass) {
  // Goal: a bad name or a value with a newline is an error, not a corrupted run.
  ShellHost host(Spec("exit 0", ""));
  EXPECT_FALSE(host.Run({{"1BAD", "x"}}).ok());
  EXPECT_FALSE(host.Run({{"GOOD", "two\nlines"}}).ok());
  auto fine = host.Run({{"GOOD", "one line"}});
  ASSERT_TRUE(fine.ok());
  EXPECT_EQ(fine->exit_code, 0);
}

TEST(ShellHost, ASignalDeathIsDescribedAsTheShellReportsIt) {
  // Goal: a command killed by a signal inside the run is "exit 128+N", explained as signal N.
  testing::TempDir dir("shell-host");
  ShellHost host(Spec("sh -c 'kill -9 $$'; exit $?", dir / "out"));
  auto ran = host.Run({});
  ASSERT_TRUE(ran.ok());
  EXPECT_EQ(ran->exit_code, 137);
  EXPECT_NE(ran->Describe().find("signal 9"), std::string::npos) << ran->Describe();
}

}  // namespace
}  // namespace faultfs
