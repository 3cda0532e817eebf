// Goal: `faultfs mount` never hangs. Daemon files placed inside the mount (where the daemon would
// wait on itself) are refused up front with a clear message, and a startup step that hangs for
// another reason ends after --startup-timeout with an error naming what it waited for, leaving
// nothing mounted.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <string>

#include "faultfs/core/mountinfo.h"
#include "test_support.h"

namespace faultfs::testing {
namespace {

// From the mount table: a stat of a hung mount would hang the test too.
bool Mounted(const std::string& path) { return FindMount(path).has_value(); }

bool Contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

class MountStartup : public ::testing::Test {
 protected:
  void SetUp() override {
    for (const auto& d : {backing_, mnt_}) ASSERT_EQ(mkdir(d.c_str(), 0755), 0);
  }
  void TearDown() override {
    AbortFuseMount(mnt_);  // only after a failure: a daemon stuck on its own mount
    AbortFuseMount(backing_);
  }
  // `faultfs mount` with `args` and `env`; a hang shows as a kill after 20 s (exit_code < 0).
  CommandResult Mount(const std::vector<std::string>& args, const std::vector<std::string>& env) {
    std::vector<std::string> argv = {FaultfsBinary(), "mount"};
    argv.insert(argv.end(), args.begin(), args.end());
    return RunCommand(argv, env, 20);
  }
  TempDir dir_{"startup"};
  std::string backing_ = dir_ / "backing";
  std::string mnt_ = dir_ / "mnt";
};

// Goal: a runtime directory inside the mountpoint, or inside a directory mounted in place, is
// refused at once (it used to hang `faultfs mount` for good).
TEST_F(MountStartup, RuntimeDirectoryInsideTheMountIsRefused) {
  const struct {
    std::vector<std::string> args;
    std::string runtime;
  } cases[] = {{{backing_, mnt_}, mnt_ + "/run"}, {{backing_}, backing_ + "/run"}};
  for (const auto& c : cases) {
    const CommandResult r = Mount(c.args, {"FAULTFS_RUNTIME_DIR=" + c.runtime});
    EXPECT_EQ(r.exit_code, 1) << c.runtime << ": " << r.out << r.err;
    EXPECT_TRUE(Contains(r.err, "runtime directory")) << r.err;
    EXPECT_TRUE(Contains(r.err, "is inside the mountpoint")) << r.err;
    EXPECT_FALSE(Mounted(mnt_) || Mounted(backing_)) << "nothing is mounted";
    AbortFuseMount(mnt_);
    AbortFuseMount(backing_);
  }
}

// Goal: the log, the fault event log and the record log are refused inside the mountpoint or the
// backing directory, before anything is mounted.
TEST_F(MountStartup, DaemonFilesInsideTheMountAreRefused) {
  for (const std::string option : {"--log-file", "--events", "--record"}) {
    for (const std::string& root : {mnt_, backing_}) {
      const CommandResult r = Mount({option, root + "/f", backing_, mnt_}, {});
      EXPECT_EQ(r.exit_code, 1) << option << " in " << root << ": " << r.out << r.err;
      EXPECT_TRUE(Contains(r.err, "is inside the")) << option << ": " << r.err;
      EXPECT_FALSE(Mounted(mnt_)) << option << " in " << root << ": nothing is mounted";
      AbortFuseMount(mnt_);
    }
  }
  // Negative case: the same files outside both are accepted.
  const CommandResult ok =
      Mount({"--log-file", dir_ / "d.log", "--events", dir_ / "e.jsonl", backing_, mnt_}, {});
  ASSERT_EQ(ok.exit_code, 0) << ok.err;
  EXPECT_EQ(RunCommand({FaultfsBinary(), "umount", mnt_}).exit_code, 0);
}

// Goal: a startup step that hangs (here: its event log lies in another mount, which is frozen)
// ends after --startup-timeout with what it waited for, and leaves nothing mounted.
TEST_F(MountStartup, AStuckStepTimesOutNamingWhatItWaitedFor) {
  const std::string other_backing = dir_ / "other";
  const std::string other = dir_ / "other-mnt";
  for (const auto& d : {other_backing, other}) ASSERT_EQ(mkdir(d.c_str(), 0755), 0);
  FaultfsMount frozen;
  ASSERT_EQ(frozen.Start(other_backing, other), "");
  ASSERT_EQ(RunCommand({FaultfsBinary(), "ctl", other, "freeze"}).exit_code, 0);
  struct Thaw {  // always: the stopped daemon waits on the frozen mount until it thaws
    std::string mnt;
    ~Thaw() { RunCommand({FaultfsBinary(), "ctl", mnt, "thaw"}); }
  } thaw{other};
  const auto started = std::chrono::steady_clock::now();
  const CommandResult r =
      Mount({"--startup-timeout", "2", "--events", other + "/events.jsonl", backing_, mnt_}, {});
  const double took =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_TRUE(Contains(r.err, "was still checking where the record log and the fault event log go"))
      << r.err;
  EXPECT_TRUE(Contains(r.err, "after 2 s")) << r.err;
  EXPECT_LT(took, 15) << "ended by the startup timeout, not by the test's";
  EXPECT_FALSE(Mounted(mnt_)) << "nothing stays mounted";
}

}  // namespace
}  // namespace faultfs::testing
