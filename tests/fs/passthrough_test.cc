// Goal: with kernel passthrough, a file that no rule reads or writes has its reads and writes
// served by the kernel (no WRITE or READ reaches the daemon) with the same results; a file a data
// rule targets is still served by the daemon and the rule fires; faults on ops that still reach
// the daemon (fsync, open, metadata, freeze, kill) fire on passthrough files; a rule added live
// for a file open in passthrough is reported at once and fires from the file's first open after
// it was closed; and --passthrough off sends every write to the daemon, said in status and log.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <fstream>
#include <future>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>

#include "policy_mount.h"

namespace faultfs::testing {
namespace {

using namespace std::chrono_literals;

constexpr char kNoRules[] = "";
constexpr char kWalWrites[] = R"([[rule]]
id = "wal-eio"
ops = ["write"]
path = "*.wal"
action = "errno"
errno = "EIO"
)";

class PassthroughTest : public PolicyMountTest {
 protected:
  // Appends `n` records of 128 bytes through one descriptor; how many WRITEs reached the daemon.
  uint64_t Append(const std::string& rel, int n) {
    const uint64_t before = RequestCount(mnt_, "write");
    const int fd = open(M(rel).c_str(), O_CREAT | O_WRONLY | O_APPEND, 0644);
    EXPECT_GE(fd, 0) << std::strerror(errno);
    const std::string record(128, 'r');
    for (int i = 0; i < n; ++i) EXPECT_EQ(write(fd, record.data(), record.size()), 128);
    close(fd);
    return RequestCount(mnt_, "write") - before;
  }
  nlohmann::json Ctl(const nlohmann::json& request) {
    const nlohmann::json reply = SendToMount(mnt_, request);
    EXPECT_TRUE(reply.value("ok", false)) << reply.dump();
    return reply;
  }
  nlohmann::json HeldFiles() { return Ctl({{"cmd", "status"}})["passthrough"]["files"]; }
};

TEST_F(PassthroughTest, WritesAndReadsOfAnUnruledFileBypassTheDaemon) {
  Mount(kNoRules);
  ASSERT_TRUE(PassthroughOn(mnt_)) << "this kernel (6.9+) offers passthrough to a root daemon";
  EXPECT_EQ(Append("log", 200), 0U) << "the kernel wrote to the backing file itself";
  EXPECT_EQ(ReadFile(B("log")), std::string(200 * 128, 'r'));
  struct stat st {};
  ASSERT_EQ(stat(M("log").c_str(), &st), 0);
  EXPECT_EQ(st.st_size, 200 * 128) << "the size the daemon reports follows";
  const uint64_t reads = RequestCount(mnt_, "read");
  EXPECT_EQ(ReadFile(M("log")), std::string(200 * 128, 'r'));
  EXPECT_EQ(RequestCount(mnt_, "read"), reads);
  // A shared mapping writes to the backing file too.
  const int fd = open(M("log").c_str(), O_RDWR);
  ASSERT_GE(fd, 0);
  void* map = mmap(nullptr, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  ASSERT_NE(map, MAP_FAILED) << std::strerror(errno);
  std::memcpy(map, "mapped", 6);
  ASSERT_EQ(msync(map, 4096, MS_SYNC), 0);
  munmap(map, 4096);
  close(fd);
  EXPECT_EQ(ReadFile(B("log")).substr(0, 7), "mappedr");
}

TEST_F(PassthroughTest, StatusListsTheFilesOpenInPassthrough) {
  Mount(kNoRules);
  ASSERT_TRUE(PassthroughOn(mnt_));
  const int a = open(M("held").c_str(), O_CREAT | O_RDWR, 0644);
  const int b = open(M("held").c_str(), O_RDONLY);
  ASSERT_GE(a, 0);
  ASSERT_GE(b, 0);
  const nlohmann::json files = HeldFiles();
  ASSERT_EQ(files.size(), 1U) << files.dump();
  EXPECT_EQ(files[0]["path"], "held");
  EXPECT_EQ(files[0]["opens"], 2);
  EXPECT_EQ(files[0]["ruled"], false);
  close(a);
  close(b);
  // The release reaches the daemon after close() returns: wait for it, boundedly.
  for (int i = 0; i < 500 && !HeldFiles().empty(); ++i) std::this_thread::sleep_for(10ms);
  EXPECT_TRUE(HeldFiles().empty()) << "closed files are not listed";
}

TEST_F(PassthroughTest, AFileADataRuleTargetsIsServedByTheDaemon) {
  Mount(kWalWrites);
  ASSERT_TRUE(PassthroughOn(mnt_));
  EXPECT_EQ(Write(M("db.wal"), "x"), -EIO) << "the rule fires: the write reached the daemon";
  EXPECT_EQ(Append("db.dat", 50), 0U) << "a file no rule targets is still in passthrough";
  EXPECT_EQ(ReadFile(B("db.dat")).size(), 50U * 128);
}

// Faults on the ops that still reach the daemon fire on a passthrough file, whose writes do not.
TEST_F(PassthroughTest, FsyncErrnoFiresOnAPassthroughFile) {
  Mount(R"([[rule]]
ops = ["fsync"]
path = "data"
action = "errno"
errno = "EIO"
)");
  const int fd = open(M("data").c_str(), O_CREAT | O_WRONLY, 0644);
  ASSERT_GE(fd, 0);
  const uint64_t writes = RequestCount(mnt_, "write");
  ASSERT_EQ(write(fd, "abc", 3), 3);
  EXPECT_EQ(RequestCount(mnt_, "write"), writes) << "in passthrough";
  EXPECT_EQ(fsync(fd), -1);
  EXPECT_EQ(errno, EIO);
  close(fd);
}

TEST_F(PassthroughTest, OpenDelayAndMetadataErrnoFireOnAPassthroughFile) {
  WriteFile(B("data"), "abc");
  Mount(R"([[rule]]
ops = ["open"]
path = "data"
action = "delay"
delay = { fixed_ms = 400 }
[[rule]]
ops = ["truncate", "unlink"]
path = "data"
action = "errno"
errno = "EPERM"
)");
  const auto start = std::chrono::steady_clock::now();
  const int fd = open(M("data").c_str(), O_RDWR);
  ASSERT_GE(fd, 0);
  EXPECT_GE(std::chrono::steady_clock::now() - start, 390ms) << "the open was delayed";
  ASSERT_EQ(HeldFiles().size(), 1U) << "and is in passthrough";
  EXPECT_EQ(ftruncate(fd, 1), -1);
  EXPECT_EQ(errno, EPERM);
  EXPECT_EQ(unlink(M("data").c_str()), -1);
  EXPECT_EQ(errno, EPERM);
  close(fd);
  EXPECT_EQ(ReadFile(B("data")), "abc");
}

TEST_F(PassthroughTest, FreezeHoldsFsyncOfAPassthroughFile) {
  Mount(kNoRules);
  const int fd = open(M("data").c_str(), O_CREAT | O_WRONLY, 0644);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(write(fd, "abc", 3), 3);
  Ctl({{"cmd", "freeze"}});
  auto synced = std::async(std::launch::async, [fd] { return fsync(fd); });
  // Held until the thaw: still waiting once the freeze holds it.
  for (int i = 0; i < 500 && Ctl({{"cmd", "status"}})["held_by_freeze"] == 0; ++i)
    std::this_thread::sleep_for(10ms);
  EXPECT_EQ(Ctl({{"cmd", "status"}})["held_by_freeze"], 1);
  EXPECT_EQ(synced.wait_for(0s), std::future_status::timeout);
  Ctl({{"cmd", "thaw"}});
  EXPECT_EQ(synced.get(), 0);
  close(fd);
}

TEST_F(PassthroughTest, KillOnFsyncFiresOnAPassthroughFile) {
  Mount(R"([[rule]]
ops = ["fsync"]
path = "data"
action = "kill"
kill = { signal = "SIGKILL", when = "before" }
)");
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    const int fd = open(M("data").c_str(), O_CREAT | O_WRONLY, 0644);
    if (fd < 0 || write(fd, "abc", 3) != 3) _exit(2);
    fsync(fd);
    _exit(0);
  }
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) << status;
  EXPECT_EQ(ReadFile(B("data")), "abc") << "the write before it went through passthrough";
}

// The kernel cannot take passthrough back from an open file: a rule added for it is reported
// at once, and fires from the first open after every open of the file was closed.
TEST_F(PassthroughTest, ARuleAddedLiveForAnOpenFileFiresOnceTheFileIsClosed) {
  Mount(kNoRules);
  ASSERT_TRUE(PassthroughOn(mnt_));
  const int held = open(M("db.wal").c_str(), O_CREAT | O_WRONLY, 0644);
  ASSERT_GE(held, 0);
  const nlohmann::json reply = Ctl({{"cmd", "add"}, {"policy", kWalWrites}});
  ASSERT_TRUE(reply.contains("passthrough_held")) << reply.dump();
  EXPECT_EQ(reply["passthrough_held"]["files"], nlohmann::json::array({"db.wal"}));
  EXPECT_NE(reply["passthrough_held"]["note"].get<std::string>().find("closed"), std::string::npos);
  const nlohmann::json files = HeldFiles();
  ASSERT_EQ(files.size(), 1U);
  EXPECT_EQ(files[0]["ruled"], true) << "status says the rule waits for this file";
  EXPECT_EQ(write(held, "a", 1), 1) << "documented: the kernel serves it until it is closed";
  // An open while it is held must share its mode (the kernel refuses a mix with EIO).
  EXPECT_EQ(Write(M("db.wal"), "b", 1), 1);
  close(held);
  for (int i = 0; i < 500 && !HeldFiles().empty(); ++i) std::this_thread::sleep_for(10ms);
  ASSERT_TRUE(HeldFiles().empty());
  EXPECT_EQ(Write(M("db.wal"), "c", 2), -EIO) << "reopened: the rule fires";
  EXPECT_EQ(ReadFile(B("db.wal")), "ab");
  const nlohmann::json again = Ctl({{"cmd", "add"}, {"policy", R"([[rule]]
id = "other"
ops = ["read"]
path = "nothing-open"
action = "errno"
errno = "EIO"
)"}});
  EXPECT_FALSE(again.contains("passthrough_held")) << "nothing to report: " << again.dump();
}

// A capacity budget must count every byte written: set live, it waits for the files held in
// passthrough like a rule, and counts the writes of the first open after they closed.
TEST_F(PassthroughTest, ACapacitySetLiveCountsWritesOnceHeldFilesClose) {
  Mount(kNoRules);
  const int held = open(M("big").c_str(), O_CREAT | O_WRONLY, 0644);
  ASSERT_GE(held, 0);
  const nlohmann::json reply =
      Ctl({{"cmd", "add"}, {"policy", "[capacity]\nbytes = \"64 KiB\"\n"}});
  ASSERT_TRUE(reply.contains("passthrough_held")) << reply.dump();
  EXPECT_EQ(reply["passthrough_held"]["files"], nlohmann::json::array({"big"}));
  close(held);
  for (int i = 0; i < 500 && !HeldFiles().empty(); ++i) std::this_thread::sleep_for(10ms);
  ASSERT_TRUE(HeldFiles().empty());
  EXPECT_EQ(Write(M("big"), std::string(128 * 1024, 'b')), 64 * 1024)
      << "the write through the daemon is cut at the budget";
  EXPECT_EQ(Write(M("other"), "x"), -ENOSPC) << "and the next file is refused";
  EXPECT_TRUE(HeldFiles().empty()) << "no file opened under a budget goes to passthrough";
}

// A file held open by the daemon's path (a rule read it) stays there while open, even when the
// rule goes: the kernel would refuse a passthrough open beside it with EIO.
TEST_F(PassthroughTest, ModesDoNotMixWhileAFileIsOpen) {
  Mount(kWalWrites);
  const int held = open(M("x.wal").c_str(), O_CREAT | O_RDWR, 0644);
  ASSERT_GE(held, 0);
  Ctl({{"cmd", "remove"}, {"id", "wal-eio"}});
  const uint64_t writes = RequestCount(mnt_, "write");
  EXPECT_EQ(Write(M("x.wal"), "abc"), 3) << "a second open beside the first works";
  EXPECT_EQ(RequestCount(mnt_, "write"), writes + 1) << "through the daemon, like the first";
  EXPECT_TRUE(HeldFiles().empty());
  close(held);
}

TEST_F(PassthroughTest, OffSendsEveryWriteToTheDaemonAndSaysSo) {
  const std::string log = dir_ / "off.log";
  Mount(kNoRules, {"--passthrough", "off", "--log-file", log});
  EXPECT_FALSE(PassthroughOn(mnt_));
  EXPECT_EQ(Append("log", 50), 50U);
  const nlohmann::json status = Ctl({{"cmd", "status"}})["passthrough"];
  EXPECT_EQ(status["reason"], "--passthrough off");
  const CommandResult listed = RunCommand({FaultfsBinary(), "status"});
  EXPECT_NE(listed.out.find("passthrough off (--passthrough off)"), std::string::npos)
      << listed.out;
  std::ifstream lines(log);
  int said = 0;
  for (std::string line; std::getline(lines, line);)
    said += line.find("passthrough: off") != std::string::npos;
  EXPECT_EQ(said, 1) << "the choice is in the log once";
}

TEST_F(PassthroughTest, RecordingMountsServeEveryWrite) {
  Mount(kNoRules, {"--record", dir_ / "rec.log"});
  EXPECT_FALSE(PassthroughOn(mnt_));
  EXPECT_EQ(Append("log", 10), 10U) << "every write reaches the record";
}

}  // namespace
}  // namespace faultfs::testing
