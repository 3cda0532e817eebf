// Goal: every fault kind, loaded from a policy, is observed by an application through a real
// mount, on the files and ops it targets, and never on the ones it does not; the event log says
// what the application was told.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "policy_mount.h"

namespace faultfs::testing {
namespace {

using Clock = std::chrono::steady_clock;

double Seconds(Clock::time_point since) {
  return std::chrono::duration<double>(Clock::now() - since).count();
}

long Fsync(const std::string& path) {
  const int fd = open(path.c_str(), O_WRONLY);
  if (fd < 0) return -errno;
  const long res = fsync(fd) == 0 ? 0 : -errno;
  close(fd);
  return res;
}

class Faults : public PolicyMountTest {};

TEST_F(Faults, ErrnoHitsTargetedPathsAndOpsOnly) {
  Mount(R"([[rule]]
id = "wal"
ops = ["write"]
path = "**/*.wal"
action = "errno"
errno = "EIO"
)");
  EXPECT_EQ(Write(M("db.wal"), "x"), -EIO);
  EXPECT_EQ(Write(M("db.dat"), "x"), 1) << "other paths are not targeted";
  EXPECT_EQ(Fsync(M("db.wal")), 0) << "other ops are not targeted";
  const auto events = Events();
  ASSERT_EQ(events.size(), 1U);
  EXPECT_EQ(events[0]["rule"], "wal");
  EXPECT_EQ(events[0]["op"], "write");
  EXPECT_EQ(events[0]["path"], "db.wal");
  EXPECT_EQ(events[0]["result"], "EIO");
}

TEST_F(Faults, ErrnoOnMetadataOps) {
  ASSERT_EQ(mkdir(B("d").c_str(), 0755), 0);
  WriteFile(B("d/f"), "x");
  Mount(R"([[rule]]
ops = ["unlink", "mkdir", "rename", "setxattr"]
path = "d/**"
action = "errno"
errno = { EBUSY = 1 }
)");
  EXPECT_EQ(unlink(M("d/f").c_str()), -1);
  EXPECT_EQ(errno, EBUSY);
  EXPECT_TRUE(std::filesystem::exists(B("d/f"))) << "an injected error means the op did not run";
  EXPECT_EQ(mkdir(M("d/sub").c_str(), 0755), -1);
  EXPECT_EQ(rename(M("d/f").c_str(), M("moved").c_str()), -1);
  EXPECT_EQ(mkdir(M("elsewhere").c_str(), 0755), 0) << "outside d/";
}

TEST_F(Faults, DelayedFileDoesNotSlowOthers) {
  WriteFile(B("slow"), std::string(4096, 's'));
  WriteFile(B("fast"), std::string(4096, 'f'));
  Mount(R"([[rule]]
ops = ["read"]
path = "slow"
action = "delay"
delay = { fixed_ms = 3000 }
)");
  const auto start = Clock::now();
  std::thread slow([&] { EXPECT_EQ(ReadFile(M("slow")).size(), 4096U); });
  std::this_thread::sleep_for(std::chrono::milliseconds(100));  // the delay is in progress now
  double worst = 0;
  for (int i = 0; i < 50; ++i) {
    const auto t = Clock::now();
    EXPECT_EQ(ReadFile(M("fast")).size(), 4096U);
    struct stat st {};
    EXPECT_EQ(stat(M("fast").c_str(), &st), 0);
    EXPECT_EQ(Write(M("other"), "y"), 1);
    worst = std::max(worst, Seconds(t));
  }
  // Bounds far below the delay, so that a loaded machine (tests run 4 at a time) still passes;
  // an op held behind the delayed read would take the whole 3 s.
  EXPECT_LT(Seconds(start), 2.5) << "the other file's 150 ops finished while the delay ran";
  EXPECT_LT(worst, 1.0) << "no op waited for the delayed read";
  slow.join();
  EXPECT_GE(Seconds(start), 3.0) << "the delayed read did wait";
}

TEST_F(Faults, StallTimesOut) {
  Mount(
      "[[rule]]\nops = [\"getattr\"]\npath = \"f\"\naction = \"stall\"\nstall = { timeout_s = 0.5 "
      "}\n",
      {"--attr-timeout", "0"});
  WriteFile(M("f"), "x");
  const auto t = Clock::now();
  struct stat st {};
  EXPECT_EQ(stat(M("f").c_str(), &st), 0);
  EXPECT_GE(Seconds(t), 0.45) << "held until the stall timed out";
}

TEST_F(Faults, BandwidthLimit) {
  Mount(
      "[[rule]]\nops = [\"write\"]\naction = \"bandwidth\"\nbandwidth = { bytes_per_s = \"2 MiB\", "
      "burst = \"64 KiB\" }\n");
  const int fd = open(M("big").c_str(), O_CREAT | O_WRONLY, 0644);
  const std::string chunk(256 * 1024, 'b');
  const auto t = Clock::now();
  for (int i = 0; i < 8; ++i)
    ASSERT_EQ(write(fd, chunk.data(), chunk.size()), static_cast<ssize_t>(chunk.size()));
  close(fd);
  const double took = Seconds(t);
  EXPECT_GT(took, 0.85) << "2 MiB at 2 MiB/s (64 KiB free burst)";
  EXPECT_LT(took, 3.0);
}

TEST_F(Faults, ShortReadAndShortWrite) {
  WriteFile(B("r"), std::string(8192, 'r'));
  WriteFile(B("other"), std::string(8192, 'o'));
  Mount(R"([[rule]]
ops = ["read"]
path = "r"
action = "short"
short = { bytes = 100 }
[[rule]]
ops = ["write"]
path = "w"
action = "short"
short = { fraction = 0.5 }
)");
  char buf[8192];
  int fd = open(M("r").c_str(), O_RDONLY);
  EXPECT_EQ(read(fd, buf, sizeof(buf)), 100) << "the application sees the short read";
  close(fd);
  fd = open(M("other").c_str(), O_RDONLY);
  EXPECT_EQ(read(fd, buf, sizeof(buf)), 8192) << "other files read in full";
  close(fd);
  EXPECT_EQ(Write(M("w"), std::string(1000, 'w')), 500);
  EXPECT_EQ(ReadFile(B("w")).size(), 500U);
}

TEST_F(Faults, TornWriteKeepsSomeUnits) {
  WriteFile(B("t"), std::string(16384, 'A'));
  Mount(
      "[[rule]]\nops = [\"write\"]\npath = \"t\"\naction = \"torn\"\ntorn = { unit = 4096, keep = "
      "\"first\" }\n");
  EXPECT_EQ(Write(M("t"), std::string(16384, 'B')), 16384) << "success is reported";
  const std::string disk = ReadFile(B("t"));
  ASSERT_EQ(disk.size(), 16384U);
  size_t kept = 0;
  while (kept < 4 && disk.substr(kept * 4096, 4096) == std::string(4096, 'B')) ++kept;
  EXPECT_GE(kept, 1U);
  EXPECT_LT(kept, 4U) << "never all units";
  EXPECT_EQ(disk.substr(kept * 4096), std::string((4 - kept) * 4096, 'A'))
      << "the rest never reached the disk";
  EXPECT_NE(Events().at(0)["result"].get<std::string>().find("units"), std::string::npos);
}

TEST_F(Faults, CorruptOnReadLeavesTheDiskAlone) {
  const std::string data(4096, 'c');
  WriteFile(B("x"), data);
  WriteFile(B("y"), data);
  Mount(
      "[[rule]]\nops = [\"read\"]\npath = \"x\"\naction = \"corrupt\"\ncorrupt = { mode = "
      "\"flip\", bits = 3 }\n");
  const std::string seen = ReadFile(M("x"));
  ASSERT_EQ(seen.size(), data.size());
  EXPECT_NE(seen, data) << "the reader sees flipped bits";
  size_t differing = 0;
  for (size_t i = 0; i < data.size(); ++i) differing += seen[i] != data[i];
  EXPECT_LE(differing, 3U);
  EXPECT_EQ(ReadFile(B("x")), data) << "the disk is unchanged";
  EXPECT_EQ(ReadFile(M("y")), data) << "other files are intact";
}

TEST_F(Faults, CorruptOnWriteIsStored) {
  Mount(
      "[[rule]]\nops = [\"write\"]\npath = \"z\"\naction = \"corrupt\"\ncorrupt = { mode = "
      "\"zero\", range = [0, 512], on = \"write\" }\n");
  EXPECT_EQ(Write(M("z"), std::string(4096, 'z')), 4096);
  const std::string disk = ReadFile(B("z"));
  EXPECT_EQ(disk.substr(0, 512), std::string(512, '\0'));
  EXPECT_EQ(disk.substr(512), std::string(4096 - 512, 'z'));
}

TEST_F(Faults, MisdirectedWrite) {
  WriteFile(B("m"), std::string(12288, '.'));
  Mount(
      "[[rule]]\nops = [\"write\"]\npath = \"m\"\naction = \"misdirect\"\nmisdirect = { shift = "
      "4096 }\n");
  EXPECT_EQ(Write(M("m"), std::string(4096, 'M'), 0), 4096);
  const std::string disk = ReadFile(B("m"));
  EXPECT_EQ(disk.substr(0, 4096), std::string(4096, '.')) << "nothing where it was aimed";
  EXPECT_EQ(disk.substr(4096, 4096), std::string(4096, 'M')) << "it landed 4 KiB later";
}

TEST_F(Faults, LostWrite) {
  WriteFile(B("l"), "old");
  Mount("[[rule]]\nops = [\"write\"]\npath = \"l\"\naction = \"lose\"\n");
  EXPECT_EQ(Write(M("l"), "new"), 3) << "success reported";
  EXPECT_EQ(ReadFile(B("l")), "old") << "nothing stored";
  EXPECT_EQ(Write(M("kept"), "new"), 3);
  EXPECT_EQ(ReadFile(B("kept")), "new");
}

TEST_F(Faults, StaleReadReturnsWhatTheRangeHeldBefore) {
  Mount("[[rule]]\nops = [\"read\"]\npath = \"s\"\naction = \"stale\"\n");
  EXPECT_EQ(Write(M("s"), "version-1"), 9);
  EXPECT_EQ(Write(M("s"), "version-2"), 9);
  EXPECT_EQ(ReadFile(M("s")), "version-1");
  EXPECT_EQ(ReadFile(B("s")), "version-2") << "the disk has the new data";
}

TEST_F(Faults, LyingFsync) {
  Mount("[[rule]]\nops = [\"fsync\"]\npath = \"lie\"\naction = \"lie\"\n");
  WriteFile(M("lie"), "x");
  WriteFile(M("honest"), "x");
  EXPECT_EQ(Fsync(M("lie")), 0);
  EXPECT_EQ(Fsync(M("honest")), 0);
  const auto events = Events();
  ASSERT_EQ(events.size(), 1U) << "only the targeted fsync lied";
  EXPECT_EQ(events[0]["result"], "success, nothing synced");
}

TEST_F(Faults, FsyncFailureDropsUnsyncedDataLikeLinux) {
  Mount(
      "[[rule]]\nops = [\"fsync\"]\npath = \"f\"\nnth = 2\naction = \"fsync_fail\"\nfsync_fail = { "
      "errno = \"EIO\", semantics = \"linux\" }\n");
  const int fd = open(M("f").c_str(), O_CREAT | O_RDWR, 0644);
  ASSERT_EQ(pwrite(fd, "synced", 6, 0), 6);
  ASSERT_EQ(fsync(fd), 0);
  ASSERT_EQ(pwrite(fd, "DIRTY!", 6, 0), 6);
  ASSERT_EQ(pwrite(fd, "++", 2, 6), 2);
  EXPECT_EQ(fsync(fd), -1);
  EXPECT_EQ(errno, EIO);
  EXPECT_EQ(fsync(fd), 0) << "later fsyncs succeed";
  close(fd);
  EXPECT_EQ(ReadFile(B("f")), "synced") << "the unsynced data was dropped";
}

TEST_F(Faults, FsyncFailureKeepsDataLikeBtrfs) {
  Mount(
      "[[rule]]\nops = [\"fsync\"]\npath = \"f\"\nnth = 2\naction = \"fsync_fail\"\nfsync_fail = { "
      "semantics = \"keep\" }\n");
  const int fd = open(M("f").c_str(), O_CREAT | O_RDWR, 0644);
  ASSERT_EQ(pwrite(fd, "synced", 6, 0), 6);
  ASSERT_EQ(fsync(fd), 0);
  ASSERT_EQ(pwrite(fd, "DIRTY!", 6, 0), 6);
  EXPECT_EQ(fsync(fd), -1);
  EXPECT_EQ(errno, EIO) << "the default errno";
  close(fd);
  EXPECT_EQ(ReadFile(B("f")), "DIRTY!") << "the data stays";
}

// Runs fn in a child; returns how it ended (signal number, or 1000 + exit status).
template <typename Fn>
int ChildEnd(Fn&& fn) {
  const pid_t pid = fork();
  if (pid == 0) _exit(fn());
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFSIGNALED(status) ? WTERMSIG(status) : 1000 + WEXITSTATUS(status);
}

TEST_F(Faults, KillBeforeAndAfter) {
  WriteFile(B("before"), "x");
  WriteFile(B("after"), "x");
  Mount(R"([[rule]]
ops = ["unlink"]
path = "before"
action = "kill"
kill = { signal = "SIGKILL", when = "before" }
[[rule]]
ops = ["unlink"]
path = "after"
action = "kill"
kill = { signal = "SIGTERM", when = "after" }
)");
  EXPECT_EQ(ChildEnd([&] { return unlink(M("before").c_str()); }), SIGKILL);
  EXPECT_TRUE(std::filesystem::exists(B("before"))) << "killed before: the op did not run";
  EXPECT_EQ(ChildEnd([&] { return unlink(M("after").c_str()); }), SIGTERM);
  EXPECT_FALSE(std::filesystem::exists(B("after"))) << "killed after: the op ran";
  EXPECT_EQ(ChildEnd([&] { return unlink(M("kept-alive").c_str()) == -1 ? 0 : 1; }), 1000)
      << "a process doing other ops lives";
}

TEST_F(Faults, OffsetSizeFlagsAndCallerPredicates) {
  std::string comm;
  std::getline(std::ifstream("/proc/self/comm"), comm);
  Mount(R"([[rule]]
ops = ["write"]
path = "p"
offset = [4096, 8192]
action = "errno"
errno = "EIO"
[[rule]]
ops = ["write"]
path = "q"
size = [0, 100]
action = "errno"
errno = "ENOSPC"
[[rule]]
ops = ["write"]
path = "d"
flags = ["O_DIRECT"]
action = "errno"
errno = "EROFS"
[[rule]]
ops = ["create"]
process = ")" +
        comm + R"("
path = "mine"
action = "errno"
errno = "EDQUOT"
[[rule]]
ops = ["create"]
process = "postgres"
path = "theirs"
action = "errno"
errno = "EDQUOT"
)");
  EXPECT_EQ(Write(M("p"), "x", 0), 1);
  EXPECT_EQ(Write(M("p"), "x", 5000), -EIO);
  EXPECT_EQ(Write(M("q"), std::string(200, 'q')), 200);
  EXPECT_EQ(Write(M("q"), "short"), -ENOSPC);
  void* mem = nullptr;
  ASSERT_EQ(posix_memalign(&mem, 4096, 4096), 0);
  int fd = open(M("d").c_str(), O_CREAT | O_WRONLY | O_DIRECT, 0644);
  EXPECT_EQ(pwrite(fd, mem, 4096, 0), -1);
  EXPECT_EQ(errno, EROFS);
  close(fd);
  free(mem);
  EXPECT_EQ(Write(M("d"), "x"), 1) << "without O_DIRECT";
  EXPECT_EQ(Write(M("mine"), "x"), -EDQUOT);
  EXPECT_EQ(Write(M("theirs"), "x"), 1) << "another process name";
}

TEST_F(Faults, UidPredicate) {
  chmod(mnt_.c_str(), 0777);
  chmod(dir_.path().c_str(), 0755);
  Mount("[[rule]]\nops = [\"create\"]\nuid = 1000\naction = \"errno\"\nerrno = \"EACCES\"\n",
        {"--allow-other"});
  ASSERT_EQ(chmod(mnt_.c_str(), 0777), 0);
  EXPECT_EQ(ChildEnd([&] {
              if (setgid(1000) != 0 || setuid(1000) != 0) return 2;
              return open(M("by-user").c_str(), O_CREAT | O_WRONLY, 0644) == -1 && errno == EACCES
                         ? 0
                         : 1;
            }),
            1000);
  EXPECT_EQ(Write(M("by-root"), "x"), 1) << "uid 0 is not targeted";
}

TEST_F(Faults, CountingProbabilityAndChains) {
  Mount(R"([[rule]]
id = "third"
ops = ["write"]
path = "n"
nth = 3
action = "errno"
errno = "EIO"
[[rule]]
ops = ["write"]
path = "never"
probability = 0
action = "errno"
errno = "EIO"
[[rule]]
ops = ["write"]
path = "always"
probability = 1
max_times = 2
action = "errno"
errno = "EIO"
[[rule]]
ops = ["fsync"]
path = "n"
after_rule = "third"
action = "errno"
errno = "ENOSPC"
)");
  std::string pattern;
  for (int i = 0; i < 5; ++i) pattern += Write(M("n"), "x") == -EIO ? 'X' : '.';
  EXPECT_EQ(pattern, "..X..");
  for (int i = 0; i < 20; ++i) EXPECT_EQ(Write(M("never"), "x"), 1);
  EXPECT_EQ(Write(M("always"), "x"), -EIO);
  EXPECT_EQ(Write(M("always"), "x"), -EIO);
  EXPECT_EQ(Write(M("always"), "x"), 1) << "max_times = 2";
  EXPECT_EQ(Fsync(M("n")), -ENOSPC) << "armed once 'third' fired";
}

TEST_F(Faults, TimeWindowAndFlakeyCycle) {
  // The phases are seconds long so that a loaded machine, which can take a good part of a
  // second between the mount and the first write, still lands each write in the phase meant.
  Mount(R"([[rule]]
ops = ["write"]
path = "later"
window = [2.5, 1000]
action = "errno"
errno = "EIO"
[[rule]]
ops = ["write"]
path = "flakey"
flakey = { up_s = 2.5, down_s = 1000 }
action = "errno"
errno = "EIO"
)");
  EXPECT_EQ(Write(M("later"), "x"), 1) << "window not open yet";
  EXPECT_EQ(Write(M("flakey"), "x"), 1) << "healthy phase";
  std::this_thread::sleep_for(std::chrono::milliseconds(3000));
  EXPECT_EQ(Write(M("later"), "x"), -EIO);
  EXPECT_EQ(Write(M("flakey"), "x"), -EIO) << "faulty phase";
}

TEST_F(Faults, FileTypePredicate) {
  Mount(
      "[[rule]]\nops = [\"getattr\", \"lookup\"]\nfile_type = \"directory\"\npath = \"**\"\naction "
      "= \"delay\"\ndelay = { fixed_ms = 1 }\n",
      {"--attr-timeout", "0", "--entry-timeout", "0"});
  ASSERT_EQ(mkdir(M("dir").c_str(), 0755), 0);
  WriteFile(M("file"), "x");
  struct stat st {};
  ASSERT_EQ(stat(M("file").c_str(), &st), 0);
  for (const auto& e : Events())
    EXPECT_NE(e["path"], "file") << "a regular file is not a directory";
  ASSERT_EQ(stat(M("dir").c_str(), &st), 0);
  bool dir_seen = false;
  for (const auto& e : Events()) dir_seen = dir_seen || e["path"] == "dir";
  EXPECT_TRUE(dir_seen);
}

TEST_F(Faults, BadPolicyIsRefusedBeforeMounting) {
  WriteFile(dir_ / "bad.toml",
            "[[rule]]\nops = [\"wirte\"]\naction = \"errno\"\nerrno = \"EIO\"\n");
  const CommandResult r =
      RunCommand({FaultfsBinary(), "mount", "--policy", dir_ / "bad.toml", backing_, mnt_});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("bad.toml:2:8: unknown op 'wirte'"), std::string::npos) << r.err;
  EXPECT_FALSE(IsFuseMount(mnt_));
}

}  // namespace
}  // namespace faultfs::testing

namespace faultfs::testing {
namespace {

// The deterministic fields of an event log (everything but time, pid and process).
std::vector<std::string> Replayable(const std::string& path) {
  std::vector<std::string> out;
  std::ifstream in(path);
  for (std::string line; std::getline(in, line);) {
    auto j = nlohmann::json::parse(line);
    j.erase("t_ns");
    j.erase("pid");
    j.erase("process");
    out.push_back(j.dump());
  }
  return out;
}

// The same workload, single-threaded, against a fresh mount; returns its event log.
std::vector<std::string> RunOnce(const std::string& policy_text, const std::string& seed) {
  TempDir dir("determinism");
  const std::string backing = dir / "b", mnt = dir / "m";
  mkdir(backing.c_str(), 0755);
  mkdir(mnt.c_str(), 0755);
  WriteFile(dir / "p.toml", policy_text);
  FaultfsMount m;
  EXPECT_EQ(m.Start(backing, mnt,
                    {"--single-thread", "--policy", dir / "p.toml", "--seed", seed, "--events",
                     dir / "events.jsonl"}),
            "");
  for (int i = 0; i < 200; ++i) {
    const std::string name = mnt + "/f" + std::to_string(i % 7);
    (void)Write(name, std::string(static_cast<size_t>(1 + i * 37 % 5000), 'x'), i * 512);
    (void)Fsync(name);
    (void)ReadFile(name);
  }
  (void)m.Stop();
  return Replayable(dir / "events.jsonl");
}

TEST(Determinism, SameSeedSameOpsSameFaults) {
  const char* policy = R"([[rule]]
id = "flaky-write"
ops = ["write"]
probability = 0.2
action = "errno"
errno = { EIO = 1, ENOSPC = 1 }
[[rule]]
id = "torn"
ops = ["write"]
probability = 0.3
action = "torn"
torn = { unit = 512 }
[[rule]]
id = "sync"
ops = ["fsync"]
every = 3
action = "lie"
)";
  const auto a = RunOnce(policy, "1234");
  const auto b = RunOnce(policy, "1234");
  EXPECT_GT(a.size(), 50U) << "the workload draws faults";
  EXPECT_EQ(a, b) << "same seed, same op sequence, single thread: the same fault event log";
  const auto c = RunOnce(policy, "99");
  EXPECT_NE(a, c) << "another seed draws other faults";
}

}  // namespace
}  // namespace faultfs::testing
