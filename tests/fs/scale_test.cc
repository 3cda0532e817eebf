// Goal: a tree of 100,000 files can be created, walked (find, stat) and removed through faultfs
// without error, while the daemon stays far below the 20,000-descriptor cap: idle inode
// descriptors are closed and reopened from file handles instead of piling up.
#include <dirent.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <sstream>
#include <string>

#include "test_support.h"

namespace faultfs::testing {
namespace {

constexpr int kDirs = 100;
constexpr int kFilesPerDir = 1000;
constexpr int kFiles = kDirs * kFilesPerDir;
constexpr size_t kFdBudget = 5000;

size_t OpenDescriptors(pid_t pid) {
  size_t n = 0;
  for ([[maybe_unused]] const auto& e :
       std::filesystem::directory_iterator("/proc/" + std::to_string(pid) + "/fd"))
    ++n;
  return n;
}

TEST(Scale, HundredThousandFilesCreateWalkRemove) {
  TempDir dir("scale");
  const std::string backing = dir / "backing";
  const std::string mnt = dir / "mnt";
  ASSERT_EQ(mkdir(backing.c_str(), 0755), 0);
  ASSERT_EQ(mkdir(mnt.c_str(), 0755), 0);
  FaultfsMount mount;
  // Zero cache timeouts: every stat reaches the daemon, so evicted inodes must really be reopened.
  ASSERT_EQ(mount.Start(backing, mnt,
                        {"--max-cached-fds", std::to_string(kFdBudget), "--attr-timeout", "0",
                         "--entry-timeout", "0"}),
            "");
  size_t peak = 0;
  auto sample = [&] { peak = std::max(peak, OpenDescriptors(mount.daemon_pid())); };

  for (int d = 0; d < kDirs; ++d) {
    const std::string sub = mnt + "/d" + std::to_string(d);
    ASSERT_EQ(mkdir(sub.c_str(), 0755), 0) << std::strerror(errno);
    for (int f = 0; f < kFilesPerDir; ++f) {
      const std::string path = sub + "/f" + std::to_string(f);
      const int fd = open(path.c_str(), O_CREAT | O_WRONLY, 0644);
      ASSERT_GE(fd, 0) << path << ": " << std::strerror(errno);
      ASSERT_EQ(write(fd, "x", 1), 1);
      ASSERT_EQ(close(fd), 0);
    }
    sample();
  }

  const CommandResult find = RunShell("find '" + mnt + "' -type f | wc -l", 600);
  ASSERT_EQ(find.exit_code, 0) << find.err;
  EXPECT_EQ(std::stoi(find.out), kFiles) << find.err;
  sample();

  int stated = 0;
  for (int d = 0; d < kDirs; ++d) {
    for (int f = 0; f < kFilesPerDir; ++f) {
      struct stat st {};
      const std::string path = mnt + "/d" + std::to_string(d) + "/f" + std::to_string(f);
      ASSERT_EQ(stat(path.c_str(), &st), 0) << path << ": " << std::strerror(errno);
      ASSERT_EQ(st.st_size, 1);
      ++stated;
    }
  }
  EXPECT_EQ(stated, kFiles);
  sample();

  const CommandResult rm = RunShell("rm -rf '" + mnt + "'/d*", 600);
  EXPECT_EQ(rm.exit_code, 0) << rm.err;
  EXPECT_TRUE(std::filesystem::is_empty(backing)) << "everything removed from the backing dir";
  sample();
  std::cout << "peak daemon descriptors: " << peak << " (budget " << kFdBudget << ")\n";
  EXPECT_LE(peak, kFdBudget + 100) << "the inode descriptor cache must stay bounded";
  EXPECT_EQ(mount.Stop().exit_code, 0);
}

}  // namespace
}  // namespace faultfs::testing
