// Goal: the files the root daemon creates for itself (log, fault event log, record log, the runtime
// directory and what it holds) are the daemon's alone whatever the umask, and a symlink or a file
// someone else planted at one of those paths is refused, never written through.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "faultfs/core/mountinfo.h"
#include "test_support.h"

namespace faultfs::testing {
namespace {

constexpr uid_t kOtherUser = 1000;

// From the mount table: a stat of a hung mount would hang the test too.
bool Mounted(const std::string& path) { return FindMount(path).has_value(); }

bool Contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

mode_t ModeOf(const std::string& path) {
  struct stat st {};
  return lstat(path.c_str(), &st) == 0 ? st.st_mode & 07777 : 07777;
}

class DaemonFiles : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(mkdir(backing_.c_str(), 0755), 0);
    ASSERT_EQ(mkdir(mnt_.c_str(), 0755), 0);
    WriteFile(precious_, "precious\n");
  }
  // `faultfs mount` with `args`, its own runtime directory, and the umask the caller set.
  CommandResult Mount(std::vector<std::string> args) {
    std::vector<std::string> argv = {FaultfsBinary(), "mount"};
    argv.insert(argv.end(), args.begin(), args.end());
    argv.insert(argv.end(), {backing_, mnt_});
    return RunCommand(argv, {"FAULTFS_RUNTIME_DIR=" + runtime_}, 30);
  }
  TempDir dir_{"daemon-files"};
  std::string backing_ = dir_ / "backing";
  std::string mnt_ = dir_ / "mnt";
  std::string runtime_ = dir_ / "run";
  std::string precious_ = dir_ / "precious";
};

// Goal: with umask 000, every file and directory the daemon creates is still owner-only.
TEST_F(DaemonFiles, CreatedOwnerOnlyWhateverTheUmask) {
  const mode_t old = umask(0);
  const CommandResult r = Mount({"--events", dir_ / "events.jsonl", "--record", dir_ / "rec.log"});
  umask(old);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::string log = r.out.substr(r.out.find(", log ") + 6);
  const std::string mount_dir = log.substr(0, log.find("/daemon.log"));
  EXPECT_EQ(ModeOf(runtime_), 0755U) << "the registry: listable, writable by the daemon only";
  EXPECT_EQ(ModeOf(mount_dir), 0700U);
  EXPECT_EQ(ModeOf(mount_dir + "/daemon.log"), 0600U);
  EXPECT_EQ(ModeOf(mount_dir + "/mount.json"), 0600U);
  EXPECT_EQ(ModeOf(dir_ / "events.jsonl"), 0600U);
  EXPECT_EQ(ModeOf(dir_ / "rec.log"), 0600U);
  EXPECT_EQ(
      RunCommand({FaultfsBinary(), "umount", mnt_}, {"FAULTFS_RUNTIME_DIR=" + runtime_}).exit_code,
      0);
}

// Goal: a mount that ends well takes its runtime directory (record, socket, default log) with
// it, so that /run/faultfs does not fill up; a log given with --log-file is the user's and stays.
TEST_F(DaemonFiles, RuntimeDirectoryGoesWithTheMount) {
  for (const bool own_log : {false, true}) {
    std::vector<std::string> args;
    if (own_log) args = {"--log-file", dir_ / "own.log"};
    const CommandResult r = Mount(args);
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const std::string record = r.out.substr(r.out.find(", log ") + 6);
    std::string mount_dir;
    for (const auto& e : std::filesystem::directory_iterator(runtime_)) mount_dir = e.path();
    ASSERT_FALSE(mount_dir.empty());
    EXPECT_TRUE(std::filesystem::exists(mount_dir + "/mount.json")) << "while mounted";
    ASSERT_EQ(RunCommand({FaultfsBinary(), "umount", mnt_}, {"FAULTFS_RUNTIME_DIR=" + runtime_})
                  .exit_code,
              0);
    // The daemon removes it as it exits, which may be a moment after umount returns.
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (std::filesystem::exists(mount_dir) && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    EXPECT_FALSE(std::filesystem::exists(mount_dir)) << (own_log ? "own log" : "default log");
    EXPECT_TRUE(std::filesystem::exists(runtime_)) << "the registry itself stays";
    if (own_log) {
      EXPECT_TRUE(Contains(ReadFile(dir_ / "own.log"), "unmounted")) << "the user's log stays";
    }
  }
}

// Goal: a symlink planted where a log goes is refused, and what it points to is not touched.
TEST_F(DaemonFiles, PlantedSymlinksAreRefused) {
  for (const std::string option : {"--log-file", "--events", "--record"}) {
    const std::string planted = dir_ / ("planted" + option);
    ASSERT_EQ(symlink(precious_.c_str(), planted.c_str()), 0);
    const CommandResult r = Mount({option, planted});
    EXPECT_EQ(r.exit_code, 1) << option << ": " << r.out;
    EXPECT_TRUE(Contains(r.err, "symbolic link") || Contains(r.err, "exists"))
        << option << ": " << r.err;
    EXPECT_FALSE(Mounted(mnt_)) << option;
    EXPECT_EQ(ReadFile(precious_), "precious\n") << option << " wrote through the symlink";
    AbortFuseMount(mnt_);
  }
}

// Goal: a log file that another user owns (and so could rewrite) is refused.
TEST_F(DaemonFiles, AnotherUsersFileIsRefused) {
  for (const std::string option : {"--log-file", "--events"}) {
    const std::string theirs = dir_ / ("theirs" + option);
    WriteFile(theirs, "");
    ASSERT_EQ(chown(theirs.c_str(), kOtherUser, kOtherUser), 0);
    const CommandResult r = Mount({option, theirs});
    EXPECT_EQ(r.exit_code, 1) << option << ": " << r.out;
    EXPECT_TRUE(Contains(r.err, "belongs to uid 1000")) << option << ": " << r.err;
    AbortFuseMount(mnt_);
  }
}

}  // namespace
}  // namespace faultfs::testing
