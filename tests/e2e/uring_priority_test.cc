// Goal: with the default --uring-priority auto, the io_uring threads go to normal priority while
// other processes keep every CPU busy, and back to idle priority once the CPUs are calm; the mount
// keeps serving through both switches and unmounts cleanly afterwards.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "test_support.h"

namespace faultfs::testing {
namespace {

// Busy loops, one process each, killed when the object goes.
class CpuHogs {
 public:
  explicit CpuHogs(unsigned count) {
    for (unsigned i = 0; i < count; ++i) {
      const pid_t pid = fork();
      if (pid == 0) {
        std::atomic<unsigned long> spins{0};  // an atomic: a loop with a side effect
        for (;;) spins.fetch_add(1, std::memory_order_relaxed);
      }
      if (pid > 0) pids_.push_back(pid);
    }
  }
  ~CpuHogs() { Stop(); }
  CpuHogs(const CpuHogs&) = delete;
  CpuHogs& operator=(const CpuHogs&) = delete;
  void Stop() {
    for (const pid_t pid : pids_) kill(pid, SIGKILL);
    for (const pid_t pid : pids_) waitpid(pid, nullptr, 0);
    pids_.clear();
  }

 private:
  std::vector<pid_t> pids_;
};

// Waits up to `limit` for `text` to appear in the file at `path`.
bool AppearsIn(const std::string& path, const std::string& text, std::chrono::seconds limit) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < deadline) {
    if (ReadFile(path).find(text) != std::string::npos) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return false;
}

TEST(UringPriority, FollowsTheLoadAndUnmountsCleanlyAfter) {
  if (!std::filesystem::exists("/sys/module/fuse/parameters/enable_uring") ||
      !std::filesystem::exists("/proc/pressure/cpu")) {
    GTEST_SKIP() << "this kernel has no FUSE over io_uring or no CPU pressure information";
  }
  TempDir dir("uring-priority");
  const std::string backing = dir.path() + "/backing", mnt = dir.path() + "/mnt";
  const std::string log = dir.path() + "/daemon.log";
  std::filesystem::create_directories(backing);
  std::filesystem::create_directories(mnt);
  FaultfsMount m;
  ASSERT_EQ(m.Start(backing, mnt, {"--log-file", log}), "");
  ASSERT_TRUE(AppearsIn(log, "FUSE over io_uring", std::chrono::seconds(10))) << ReadFile(log);
  {
    // Twice as many hogs as CPUs: some task is always waiting for one.
    CpuHogs hogs(2 * std::thread::hardware_concurrency());
    ASSERT_TRUE(
        AppearsIn(log, "CPUs busy; its threads now at normal priority", std::chrono::seconds(30)))
        << ReadFile(log);
    for (int i = 0; i < 20; ++i) std::ofstream(mnt + "/busy" + std::to_string(i)) << i;
    EXPECT_EQ(ReadFile(mnt + "/busy19"), "19") << "served while the CPUs are busy";
  }
  ASSERT_TRUE(
      AppearsIn(log, "CPUs calm; its threads now at idle priority", std::chrono::seconds(60)))
      << ReadFile(log);
  for (int i = 0; i < 20; ++i) std::ofstream(mnt + "/calm" + std::to_string(i)) << i;
  EXPECT_EQ(ReadFile(mnt + "/calm19"), "19");
  EXPECT_EQ(m.Stop().exit_code, 0);
  EXPECT_TRUE(AppearsIn(log, "via io_uring", std::chrono::seconds(10)))
      << "the daemon ended without its summary: " << ReadFile(log);
}

}  // namespace
}  // namespace faultfs::testing
