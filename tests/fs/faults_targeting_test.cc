// Goal: through a real mount, each targeting key and fault parameter of the policy language hits
// exactly what it names (errno weights, distributions, units, ranges, callers, counters, time,
// chains, kill targets, freeze) and never the file, caller or call it does not name.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "policy_mount.h"

namespace faultfs::testing {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

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

// One read of `size` bytes at offset 0: bytes read or -errno.
long ReadOnce(const std::string& path, size_t size = 4096) {
  const int fd = open(path.c_str(), O_RDONLY);
  if (fd < 0) return -errno;
  std::string buf(size, '\0');
  const long n = pread(fd, buf.data(), size, 0);
  const long res = n < 0 ? -errno : n;
  close(fd);
  return res;
}

// How a reaped child ended: its signal number, or 1000 + its exit status.
int EndOf(int status) {
  return WIFSIGNALED(status) ? WTERMSIG(status) : 1000 + WEXITSTATUS(status);
}

// Waits up to `timeout_s` for child `pid` to end; on timeout kills it (and only it) and reaps it.
// Returns how it ended, or -1 when it had to be killed.
int ReapWithin(pid_t pid, double timeout_s) {
  const auto start = Clock::now();
  int status = 0;
  while (Seconds(start) < timeout_s) {
    const pid_t r = waitpid(pid, &status, WNOHANG);
    if (r == pid) return EndOf(status);
    if (r < 0) return -2;
    std::this_thread::sleep_for(milliseconds(5));
  }
  kill(pid, SIGKILL);
  waitpid(pid, &status, 0);
  return -1;
}

// A forked child that waits for Go() before running fn (so a policy can name its pid first).
// Always reaped: destroying it closes the go pipe, which makes a waiting child exit at once.
class GatedChild {
 public:
  template <typename Fn>
  explicit GatedChild(Fn&& fn) {
    int p[2];
    if (pipe2(p, O_CLOEXEC) != 0) return;
    pid_ = fork();
    if (pid_ == 0) {
      close(p[1]);
      char c = 0;
      if (read(p[0], &c, 1) != 1) _exit(3);
      _exit(fn());
    }
    close(p[0]);
    go_ = p[1];
  }
  ~GatedChild() {
    if (go_ >= 0) close(go_);
    if (pid_ > 0 && !reaped_) ReapWithin(pid_, 5);
  }
  GatedChild(const GatedChild&) = delete;
  GatedChild& operator=(const GatedChild&) = delete;
  pid_t pid() const { return pid_; }
  // Lets the child run fn and returns how it ended (see EndOf).
  int Go(double timeout_s = 10) {
    if (write(go_, "g", 1) != 1) return -3;
    reaped_ = true;
    return ReapWithin(pid_, timeout_s);
  }
  bool Running() {
    int status = 0;
    return !reaped_ && waitpid(pid_, &status, WNOHANG) == 0;
  }
  int Reap(double timeout_s = 5) {
    reaped_ = true;
    return ReapWithin(pid_, timeout_s);
  }

 private:
  pid_t pid_ = -1;
  int go_ = -1;
  bool reaped_ = false;
};

// The "delayed X ms" of each delay event on `path`.
std::vector<double> DelaysOf(const std::vector<nlohmann::json>& events, const std::string& path) {
  std::vector<double> out;
  for (const auto& e : events) {
    if (e["path"] != path) continue;
    double ms = -1;
    if (std::sscanf(e["result"].get<std::string>().c_str(), "delayed %lf ms", &ms) == 1)
      out.push_back(ms);
  }
  return out;
}

// Run of 'X' (fault) and '.' (success) with consecutive repeats collapsed: "..XX." -> ".X.".
std::string Collapse(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (out.empty() || out.back() != c) out += c;
  }
  return out;
}

class FaultsTargeting : public PolicyMountTest {
 protected:
  CommandResult Ctl(std::vector<std::string> args) {
    args.insert(args.begin(), {FaultfsBinary(), "ctl", mnt_});
    return RunCommand(args);
  }
  std::string PolicyFile(const std::string& name, const std::string& text) {
    WriteFile(dir_ / name, text);
    return dir_ / name;
  }
};

// --- errno choices ---------------------------------------------------------------------------

TEST_F(FaultsTargeting, WeightedErrnoDrawsEachChoice) {
  Mount(
      "[[rule]]\nops = [\"write\"]\npath = \"w\"\naction = \"errno\"\nerrno = { EIO = 1, ENOSPC = "
      "1 }\n");
  std::set<long> seen;
  for (int i = 0; i < 50; ++i) seen.insert(Write(M("w"), "x"));
  EXPECT_EQ(seen, (std::set<long>{-EIO, -ENOSPC})) << "every write failed, with both errnos";
  for (int i = 0; i < 20; ++i) EXPECT_EQ(Write(M("other"), "x"), 1);
}

TEST_F(FaultsTargeting, RealisticErrnoOnFsyncComesFromWhatFsyncReturns) {
  Mount("[[rule]]\nops = [\"fsync\"]\npath = \"f\"\naction = \"errno\"\nerrno = \"realistic\"\n");
  ASSERT_EQ(Write(M("f"), "x"), 1);
  ASSERT_EQ(Write(M("g"), "x"), 1);
  const std::set<long> realistic = {-EIO, -ENOSPC, -EDQUOT};  // src/engine/realistic_errnos.cc
  std::set<long> seen;
  for (int i = 0; i < 50; ++i) seen.insert(Fsync(M("f")));
  for (long e : seen) EXPECT_TRUE(realistic.count(e)) << "fsync never returns " << e;
  EXPECT_GE(seen.size(), 2U) << "drawn, not fixed";
  EXPECT_EQ(Fsync(M("g")), 0) << "an untargeted file";
}

// --- delay distribution ----------------------------------------------------------------------

TEST_F(FaultsTargeting, UniformDelayOnOneFileOnly) {
  WriteFile(B("slow"), std::string(4096, 's'));
  WriteFile(B("fast"), std::string(4096, 'f'));
  Mount(
      "[[rule]]\nops = [\"read\"]\npath = \"slow\"\naction = \"delay\"\n"
      "delay = { distribution = \"uniform\", min_ms = 20, max_ms = 60 }\n");
  for (int i = 0; i < 10; ++i) {
    const auto t = Clock::now();
    EXPECT_EQ(ReadOnce(M("slow")), 4096);
    EXPECT_GE(Seconds(t), 0.0199) << "at least the lower bound";
  }
  const auto delays = DelaysOf(Events(), "slow");
  ASSERT_EQ(delays.size(), 10U) << "one delay per read";
  for (double ms : delays) {
    EXPECT_GE(ms, 20);
    EXPECT_LE(ms, 60);
  }
  EXPECT_GT(*std::max_element(delays.begin(), delays.end()) -
                *std::min_element(delays.begin(), delays.end()),
            1)
      << "a distribution, not one fixed value";
  int slow_fast_reads = 0;
  for (int i = 0; i < 10; ++i) {
    const auto t = Clock::now();
    EXPECT_EQ(ReadOnce(M("fast")), 4096);
    slow_fast_reads += Seconds(t) >= 0.02 ? 1 : 0;
  }
  EXPECT_LT(slow_fast_reads, 5) << "the other file is not delayed (generous: a noisy VM)";
  EXPECT_TRUE(DelaysOf(Events(), "fast").empty());
}

// --- data faults -----------------------------------------------------------------------------

TEST_F(FaultsTargeting, ShortWriteLeavesOtherFilesWhole) {
  Mount("[[rule]]\nops = [\"write\"]\npath = \"w\"\naction = \"short\"\nshort = { bytes = 10 }\n");
  EXPECT_EQ(Write(M("w"), std::string(1000, 'w')), 10);
  EXPECT_EQ(Write(M("whole"), std::string(1000, 'w')), 1000);
  EXPECT_EQ(ReadFile(B("whole")), std::string(1000, 'w'));
}

// Whether every unit of `unit` bytes of `disk` is wholly `now` or wholly `was`; counts the new
// ones.
bool WholeUnits(const std::string& disk, size_t unit, char now, char was, size_t& kept) {
  kept = 0;
  for (size_t at = 0; at < disk.size(); at += unit) {
    const std::string u = disk.substr(at, unit);
    if (u == std::string(u.size(), now)) {
      ++kept;
    } else if (u != std::string(u.size(), was)) {
      return false;
    }
  }
  return true;
}

TEST_F(FaultsTargeting, TornWriteUnitsAndKeepModes) {
  WriteFile(B("last"), std::string(16384, 'A'));
  WriteFile(B("odd"), std::string(16384, 'A'));
  WriteFile(B("other"), std::string(16384, 'A'));
  Mount(R"([[rule]]
ops = ["write"]
path = "last"
action = "torn"
torn = { unit = 512, keep = "last" }
[[rule]]
ops = ["write"]
path = "odd"
action = "torn"
torn = { unit = 1000, keep = "random" }
)");
  EXPECT_EQ(Write(M("last"), std::string(16384, 'B')), 16384);
  std::string disk = ReadFile(B("last"));
  ASSERT_EQ(disk.size(), 16384U);
  const size_t first_new = disk.find('B');
  ASSERT_NE(first_new, std::string::npos) << "some units reached the disk";
  EXPECT_GT(first_new, 0U) << "never all units";
  EXPECT_EQ(first_new % 512, 0U) << "whole 512-byte units";
  EXPECT_EQ(disk.substr(0, first_new), std::string(first_new, 'A'));
  EXPECT_EQ(disk.substr(first_new), std::string(16384 - first_new, 'B'))
      << "kept from the right end";

  EXPECT_EQ(Write(M("odd"), std::string(16384, 'B')), 16384);
  disk = ReadFile(B("odd"));
  ASSERT_EQ(disk.size(), 16384U);
  size_t kept = 0;
  EXPECT_TRUE(WholeUnits(disk, 1000, 'B', 'A', kept))
      << "each 1000-byte unit is all new or all old";
  EXPECT_LT(kept, 17U) << "never all 17 units";

  EXPECT_EQ(Write(M("other"), std::string(16384, 'B')), 16384);
  EXPECT_EQ(ReadFile(B("other")), std::string(16384, 'B')) << "another file's write lands whole";
}

TEST_F(FaultsTargeting, CorruptionModesRangesAndWhereTheyLand) {
  const std::string data(4096, 'c');
  WriteFile(B("zero-read"), data);
  Mount(R"([[rule]]
ops = ["write"]
path = "random"
action = "corrupt"
corrupt = { mode = "random", range = [100, 300], on = "write" }
[[rule]]
ops = ["write"]
path = "flip"
action = "corrupt"
corrupt = { mode = "flip", bits = 4, on = "write" }
[[rule]]
ops = ["read"]
path = "zero-read"
action = "corrupt"
corrupt = { mode = "zero", range = [0, 512] }
)");
  EXPECT_EQ(Write(M("random"), data), 4096);
  std::string disk = ReadFile(B("random"));
  ASSERT_EQ(disk.size(), 4096U);
  EXPECT_EQ(disk.substr(0, 100), data.substr(0, 100)) << "before the range: intact";
  EXPECT_EQ(disk.substr(300), data.substr(300)) << "after the range: intact";
  EXPECT_NE(disk.substr(100, 200), data.substr(100, 200)) << "the range was randomized, on disk";

  EXPECT_EQ(Write(M("flip"), data), 4096);
  disk = ReadFile(B("flip"));
  ASSERT_EQ(disk.size(), 4096U);
  int bits = 0;
  for (size_t i = 0; i < disk.size(); ++i)
    bits += __builtin_popcount(static_cast<unsigned char>(disk[i] ^ data[i]));
  EXPECT_GE(bits, 1) << "flipped bits persisted";
  EXPECT_LE(bits, 4);
  EXPECT_EQ(ReadFile(M("flip")), disk) << "the reader gets what the disk holds";

  const std::string seen = ReadFile(M("zero-read"));
  EXPECT_EQ(seen.substr(0, 512), std::string(512, '\0'));
  EXPECT_EQ(seen.substr(512), data.substr(512));
  EXPECT_EQ(ReadFile(B("zero-read")), data) << "zeroed for the reader only";

  EXPECT_EQ(Write(M("intact"), data), 4096);
  EXPECT_EQ(ReadFile(B("intact")), data) << "another file written in the same run";
  EXPECT_EQ(ReadFile(M("intact")), data);
}

TEST_F(FaultsTargeting, MisdirectedWriteBackwards) {
  WriteFile(B("m"), std::string(12288, '.'));
  WriteFile(B("n"), std::string(12288, '.'));
  Mount(
      "[[rule]]\nops = [\"write\"]\npath = \"m\"\naction = \"misdirect\"\nmisdirect = { shift = "
      "-4096 }\n");
  EXPECT_EQ(Write(M("m"), std::string(4096, 'M'), 8192), 4096);
  EXPECT_EQ(ReadFile(B("m")),
            std::string(4096, '.') + std::string(4096, 'M') + std::string(4096, '.'))
      << "landed 4 KiB earlier, nothing where aimed";
  EXPECT_EQ(Write(M("n"), std::string(4096, 'N'), 8192), 4096);
  EXPECT_EQ(ReadFile(B("n")), std::string(8192, '.') + std::string(4096, 'N'))
      << "untargeted: where aimed";
}

TEST_F(FaultsTargeting, StaleReadOnlyOnTheTargetedFile) {
  Mount("[[rule]]\nops = [\"read\"]\npath = \"s\"\naction = \"stale\"\n");
  for (const char* name : {"s", "fresh"}) {
    EXPECT_EQ(Write(M(name), "version-1"), 9);
    EXPECT_EQ(Write(M(name), "version-2"), 9);
  }
  EXPECT_EQ(ReadFile(M("s")), "version-1");
  EXPECT_EQ(ReadFile(M("fresh")), "version-2") << "an untargeted file reads its new contents";
}

TEST_F(FaultsTargeting, FsyncFailureErrnoAndSemanticsPerFile) {
  Mount(R"([[rule]]
ops = ["fsync"]
path = "keep"
action = "fsync_fail"
errno = "ENOSPC"
fsync_fail = { semantics = "keep" }
[[rule]]
ops = ["fsync"]
path = "drop"
action = "fsync_fail"
fsync_fail = { semantics = "linux" }
)");
  int fd = open(M("keep").c_str(), O_CREAT | O_RDWR, 0644);
  ASSERT_EQ(pwrite(fd, "dirty", 5, 0), 5);
  EXPECT_EQ(fsync(fd), -1);
  EXPECT_EQ(errno, ENOSPC) << "the configured errno";
  close(fd);
  EXPECT_EQ(ReadFile(B("keep")), "dirty") << "keep: the data stays";

  fd = open(M("drop").c_str(), O_CREAT | O_RDWR, 0644);
  ASSERT_EQ(pwrite(fd, "dirty", 5, 0), 5);
  EXPECT_EQ(fsync(fd), -1);
  EXPECT_EQ(errno, EIO) << "the default errno";
  close(fd);
  EXPECT_EQ(ReadFile(B("drop")), "") << "linux: the unsynced data is dropped";

  fd = open(M("other").c_str(), O_CREAT | O_RDWR, 0644);
  ASSERT_EQ(pwrite(fd, "data", 4, 0), 4);
  EXPECT_EQ(fsync(fd), 0) << "an untargeted file syncs";
  close(fd);
  EXPECT_EQ(ReadFile(B("other")), "data") << "and keeps its data";
}

// --- kill --------------------------------------------------------------------------------------

TEST_F(FaultsTargeting, KillCallerGroupKillsTheWholeGroupOnly) {
  Mount(R"([[rule]]
ops = ["unlink"]
path = "trigger"
action = "kill"
kill = { signal = "SIGKILL", target = "group" }
)");
  WriteFile(M("trigger"), "x");
  const std::string trigger = M("trigger"), other = M("other");
  // The grandchild is reparented to us when the child dies, so we can reap it and see its end.
  ASSERT_EQ(prctl(PR_SET_CHILD_SUBREAPER, 1), 0);
  int report[2], hold[2];
  ASSERT_EQ(pipe2(report, O_CLOEXEC), 0);
  ASSERT_EQ(pipe2(hold, O_CLOEXEC), 0);
  const pid_t child = fork();
  if (child == 0) {
    close(report[0]);
    close(hold[1]);
    if (setpgid(0, 0) != 0) _exit(5);
    const pid_t grandchild = fork();
    if (grandchild == 0) {  // sleeps until the test lets go of `hold`, or the group dies
      char c = 0;
      (void)!read(hold[0], &c, 1);
      _exit(3);
    }
    if (write(report[1], &grandchild, sizeof(grandchild)) != sizeof(grandchild)) _exit(6);
    if (unlink(other.c_str()) != -1 || errno != ENOENT) _exit(7);  // untargeted: no signal
    (void)unlink(trigger.c_str());
    _exit(4);  // survived
  }
  setpgid(child, child);  // its own group, whichever of us gets there first
  close(report[1]);
  close(hold[0]);
  pid_t grandchild = 0;
  const bool reported = read(report[0], &grandchild, sizeof(grandchild)) == sizeof(grandchild);
  close(report[0]);
  EXPECT_EQ(ReapWithin(child, 10), SIGKILL) << "the caller died";
  if (reported) {
    EXPECT_EQ(ReapWithin(grandchild, 10), SIGKILL) << "so did the other member of its group";
  } else {
    ADD_FAILURE() << "no grandchild reported";
  }
  close(hold[1]);
  prctl(PR_SET_CHILD_SUBREAPER, 0);
  EXPECT_TRUE(std::filesystem::exists(B("trigger"))) << "killed before the op: it did not run";
  const auto events = Events();
  ASSERT_EQ(events.size(), 1U) << "the untargeted unlink signalled nobody";
  EXPECT_EQ(events[0]["path"], "trigger");
  EXPECT_EQ(Write(M("after"), "x"), 1) << "the mount lives on";
}

TEST_F(FaultsTargeting, KillPidsSignalsThemNotTheCaller) {
  GatedChild victim([] { return 0; });  // never let go: waits until signalled
  GatedChild bystander([] { return 0; });
  ASSERT_GT(victim.pid(), 0);
  const std::string trigger = M("trigger"), other = M("other");
  Mount(
      "[[rule]]\nops = [\"unlink\"]\npath = \"trigger\"\naction = \"kill\"\n"
      "kill = { signal = \"SIGKILL\", target = \"pids\", pids = [" +
      std::to_string(victim.pid()) + "] }\n");
  WriteFile(M("trigger"), "x");
  GatedChild untargeted_caller(
      [&] { return unlink(other.c_str()) == -1 && errno == ENOENT ? 0 : 1; });
  EXPECT_EQ(untargeted_caller.Go(), 1000);
  std::this_thread::sleep_for(milliseconds(50));
  EXPECT_TRUE(victim.Running()) << "an untargeted op signals nobody";
  GatedChild caller([&] { return unlink(trigger.c_str()) == -1 ? 0 : 1; });
  EXPECT_EQ(caller.Go(), 1000) << "the caller survives (its op did not run)";
  EXPECT_EQ(victim.Reap(), SIGKILL) << "the listed pid was signalled";
  EXPECT_TRUE(bystander.Running()) << "an unlisted process was not";
}

TEST_F(FaultsTargeting, KillRefusesPidZeroOneAndFaultfsItself) {
  for (const char* pid : {"0", "1"}) {
    const std::string file =
        PolicyFile(std::string("pid") + pid + ".toml",
                   std::string("[[rule]]\nops = [\"unlink\"]\naction = \"kill\"\n"
                               "kill = { target = \"pids\", pids = [") +
                       pid + "] }\n");
    const CommandResult r = RunCommand({FaultfsBinary(), "policy", "check", file});
    EXPECT_NE(r.exit_code, 0) << "pid " << pid;
    EXPECT_NE(r.err.find(std::string("pid ") + pid + " is never killed"), std::string::npos)
        << r.err;
  }
  // A live policy naming the daemon's own pid: the op is answered, the daemon is not signalled.
  Mount("");
  ASSERT_GT(mount_.daemon_pid(), 1);
  const std::string self =
      PolicyFile("self.toml",
                 "[[rule]]\nops = [\"unlink\"]\npath = \"trigger\"\naction = \"kill\"\n"
                 "kill = { signal = \"SIGKILL\", target = \"pids\", pids = [" +
                     std::to_string(mount_.daemon_pid()) + "] }\n");
  const CommandResult load = Ctl({"load", self});
  ASSERT_EQ(load.exit_code, 0) << load.err;
  WriteFile(M("trigger"), "x");
  const std::string trigger = M("trigger");
  GatedChild caller([&] { return unlink(trigger.c_str()) == -1 ? 0 : 1; });
  EXPECT_EQ(caller.Go(), 1000);
  const auto events = Events();
  ASSERT_EQ(events.size(), 1U) << "the rule fired";
  EXPECT_EQ(events[0]["action"], "kill");
  EXPECT_EQ(Write(M("alive"), "x"), 1) << "faultfs survived";
  EXPECT_EQ(kill(mount_.daemon_pid(), 0), 0);
  // Caller-group kills whose group would hold faultfs are refused too, but not testable from
  // here: the daemon runs in its own session (setsid), so no caller can share its group.
}

// --- freeze ------------------------------------------------------------------------------------

TEST_F(FaultsTargeting, FreezeRuleFreezesTheWholeMountUntilThaw) {
  WriteFile(B("cold"), "");
  Mount("[[rule]]\nops = [\"write\"]\npath = \"cold\"\naction = \"freeze\"\n");
  EXPECT_EQ(Write(M("warm"), "x"), 1) << "nothing is frozen before the matching op";
  struct Pending {
    std::atomic<bool> done{false};
    long result = 0;
  };
  auto frozen = std::make_shared<Pending>(), unrelated = std::make_shared<Pending>();
  std::thread a([p = frozen, path = M("cold")] {
    p->result = Write(path, "x");
    p->done = true;
  });
  std::this_thread::sleep_for(milliseconds(300));
  EXPECT_FALSE(frozen->done) << "the matching op hangs";
  std::thread b([p = unrelated, path = M("unrelated")] {
    p->result = Write(path, "y");
    p->done = true;
  });
  std::this_thread::sleep_for(milliseconds(300));
  EXPECT_FALSE(unrelated->done) << "an op on another file waits too: the whole mount is frozen";
  const CommandResult thaw = Ctl({"thaw"});
  EXPECT_EQ(thaw.exit_code, 0) << thaw.err;
  const auto start = Clock::now();
  while ((!frozen->done || !unrelated->done) && Seconds(start) < 10)
    std::this_thread::sleep_for(milliseconds(10));
  EXPECT_TRUE(frozen->done && unrelated->done) << "thaw released both";
  if (frozen->done && unrelated->done) {
    a.join();
    b.join();
    EXPECT_EQ(frozen->result, 1);
    EXPECT_EQ(unrelated->result, 1);
    EXPECT_EQ(ReadFile(B("cold")), "x") << "the held write ran after thaw";
  } else {  // never block the runner on a hung mount: the fixture detaches it
    a.detach();
    b.detach();
  }
}

// --- "write" however it is delivered ----------------------------------------------------------

int FiredOn(const std::vector<nlohmann::json>& events, const std::string& op,
            const std::string& path) {
  int n = 0;
  for (const auto& e : events) n += e["op"] == op && e["path"] == path ? 1 : 0;
  return n;
}

TEST_F(FaultsTargeting, WriteRuleFiresForAppendWrites) {
  Mount(
      "[[rule]]\nops = [\"write\"]\npath = \"append\"\naction = \"delay\"\ndelay = { fixed_ms = 1 "
      "}\n");
  for (const char* name : {"append", "append-other"}) {
    const int fd = open(M(name).c_str(), O_CREAT | O_WRONLY | O_APPEND, 0644);
    ASSERT_GE(fd, 0);
    EXPECT_EQ(write(fd, "a", 1), 1);
    EXPECT_EQ(write(fd, "b", 1), 1);
    close(fd);
    EXPECT_EQ(ReadFile(B(name)), "ab");
  }
  const auto events = Events();
  EXPECT_EQ(FiredOn(events, "write", "append"), 2) << "O_APPEND writes are writes";
  EXPECT_EQ(FiredOn(events, "write", "append-other"), 0);
}

// Maps `path` shared, fills it with 'M' and msyncs: 0, or -errno of the step that failed.
int WriteThroughMmap(const std::string& path, size_t size) {
  const int fd = open(path.c_str(), O_RDWR);
  if (fd < 0) return -errno;
  void* mem = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  int res = mem == MAP_FAILED ? -errno : 0;
  if (mem != MAP_FAILED) {
    std::memset(mem, 'M', size);
    res = msync(mem, size, MS_SYNC) == 0 ? 0 : -errno;
    munmap(mem, size);
  }
  close(fd);
  return res;
}

TEST_F(FaultsTargeting, WriteRuleFiresForMmapWriteback) {
  WriteFile(B("mapped"), std::string(4096, 'm'));
  WriteFile(B("mapped-other"), std::string(4096, 'm'));
  Mount(
      "[[rule]]\nops = [\"write\"]\npath = \"mapped\"\naction = \"delay\"\ndelay = { fixed_ms = 1 "
      "}\n");
  EXPECT_EQ(WriteThroughMmap(M("mapped-other"), 4096), 0);
  EXPECT_EQ(ReadFile(B("mapped-other")), std::string(4096, 'M'));
  EXPECT_EQ(FiredOn(Events(), "write", "mapped-other"), 0);
  // Files a write rule may target are served direct_io; INIT asks for FUSE_DIRECT_IO_ALLOW_MMAP,
  // so shared mappings of them still work (without it, mmap fails with ENODEV).
  EXPECT_EQ(WriteThroughMmap(M("mapped"), 4096), 0);
  EXPECT_EQ(ReadFile(B("mapped")), std::string(4096, 'M'));
  EXPECT_GE(FiredOn(Events(), "write", "mapped"), 1) << "mmap + msync writeback is a write";
}

// copy_file_range is an op of its own in the language (policies/README.md): a rule on it fires on
// the copy into the file it names, and the application gets the errno.
TEST_F(FaultsTargeting, CopyFileRangeRuleFiresOnTheCopy) {
  WriteFile(B("src"), std::string(8192, 's'));
  Mount(
      "[[rule]]\nops = [\"copy_file_range\"]\npath = \"dst\"\naction = \"errno\"\nerrno = "
      "\"EIO\"\n");
  auto copy = [&](const std::string& to) -> long {
    const int in = open(M("src").c_str(), O_RDONLY);
    const int out = open(M(to).c_str(), O_CREAT | O_WRONLY, 0644);
    loff_t off_in = 0, off_out = 0;
    const ssize_t n = copy_file_range(in, &off_in, out, &off_out, 8192, 0);
    const long res = n < 0 ? -errno : n;
    close(in);
    close(out);
    return res;
  };
  EXPECT_EQ(copy("dst"), -EIO);
  const auto events = Events();
  ASSERT_EQ(events.size(), 1U);
  EXPECT_EQ(events[0]["op"], "copy_file_range");
  EXPECT_EQ(events[0]["path"], "src") << "the event names the source first";
  EXPECT_EQ(events[0]["path2"], "dst") << "and the destination the rule targets";
  EXPECT_EQ(copy("dst-other"), 8192) << "a copy into another file";
  EXPECT_EQ(ReadFile(B("dst-other")), std::string(8192, 's'));
  EXPECT_EQ(Events().size(), 1U);
}

// A rule on write also sees data that arrives by copy_file_range: the copy is refused with EXDEV
// to the kernel, which then copies through WRITE requests.
TEST_F(FaultsTargeting, WriteRuleFiresForCopyFileRange) {
  WriteFile(B("src"), std::string(8192, 's'));
  Mount("[[rule]]\nops = [\"write\"]\npath = \"dst\"\naction = \"errno\"\nerrno = \"EIO\"\n");
  auto copy = [&](const std::string& to) -> long {
    const int in = open(M("src").c_str(), O_RDONLY);
    const int out = open(M(to).c_str(), O_CREAT | O_WRONLY, 0644);
    loff_t off_in = 0, off_out = 0;
    const ssize_t n = copy_file_range(in, &off_in, out, &off_out, 8192, 0);
    const long res = n < 0 ? -errno : n;
    close(in);
    close(out);
    return res;
  };
  EXPECT_EQ(copy("dst"), -EIO) << "the write rule failed the copy";
  EXPECT_EQ(ReadFile(B("dst")).size(), 0U);
  EXPECT_EQ(FiredOn(Events(), "write", "dst"), 1);
  EXPECT_EQ(copy("dst-other"), 8192);
  EXPECT_EQ(ReadFile(B("dst-other")), std::string(8192, 's'));
  EXPECT_EQ(Events().size(), 1U) << "the other copy fired nothing";
}

// --- targeting keys ----------------------------------------------------------------------------

TEST_F(FaultsTargeting, AnchoredPathRegex) {
  ASSERT_EQ(mkdir(B("db").c_str(), 0755), 0);
  ASSERT_EQ(mkdir(B("xdb").c_str(), 0755), 0);
  Mount(R"([[rule]]
ops = ["write"]
path_regex = "db/[0-9]+\\.sst"
action = "errno"
errno = "EIO"
)");
  EXPECT_EQ(Write(M("db/1.sst"), "x"), -EIO);
  EXPECT_EQ(Write(M("db/123.sst"), "x"), -EIO);
  EXPECT_EQ(Write(M("db/1.sst.tmp"), "x"), 1) << "anchored at the end";
  EXPECT_EQ(Write(M("xdb/1.sst"), "x"), 1) << "anchored at the start";
  EXPECT_EQ(Write(M("db/a.sst"), "x"), 1);
  EXPECT_EQ(Write(M("db/1xsst"), "x"), 1) << "the dot is escaped";
}

TEST_F(FaultsTargeting, OpenFlagPredicates) {
  Mount(R"([[rule]]
ops = ["write"]
flags = ["O_SYNC"]
action = "errno"
errno = "EIO"
[[rule]]
ops = ["write"]
flags = ["O_APPEND"]
action = "errno"
errno = "ENOSPC"
)");
  EXPECT_EQ(Write(M("sync"), "x", 0, O_SYNC), -EIO);
  EXPECT_EQ(Write(M("append"), "x", 0, O_APPEND), -ENOSPC);
  EXPECT_EQ(Write(M("dsync"), "x", 0, O_DSYNC), 1) << "O_DSYNC is not O_SYNC";
  EXPECT_EQ(Write(M("plain"), "x"), 1);
  EXPECT_EQ(Write(M("sync"), "x"), 1) << "the same file opened without the flag";
  EXPECT_EQ(Write(M("append"), "x"), 1);
}

TEST_F(FaultsTargeting, PidPredicate) {
  const std::string mine = M("by-child");
  GatedChild child([&] { return Write(mine, "x") == -EIO ? 0 : 1; });
  ASSERT_GT(child.pid(), 0);
  Mount("[[rule]]\nops = [\"write\"]\npid = " + std::to_string(child.pid()) +
        "\naction = \"errno\"\nerrno = \"EIO\"\n");
  EXPECT_EQ(Write(M("by-parent"), "x"), 1) << "the parent's identical op is not targeted";
  EXPECT_EQ(Write(M("by-child"), "x"), 1) << "nor on the child's file";
  EXPECT_EQ(child.Go(), 1000) << "the child's write failed";
}

TEST_F(FaultsTargeting, GidPredicate) {
  Mount("[[rule]]\nops = [\"write\"]\ngid = 4242\naction = \"errno\"\nerrno = \"EIO\"\n",
        {"--allow-other"});
  const std::string path = M("by-group");
  GatedChild child([&] {
    if (setgid(4242) != 0) return 2;
    return Write(path, "x") == -EIO ? 0 : 1;
  });
  EXPECT_EQ(child.Go(), 1000) << "gid 4242 is targeted";
  EXPECT_EQ(Write(M("by-group"), "x"), 1) << "gid 0, the same file";
}

TEST_F(FaultsTargeting, EveryAndAfter) {
  Mount(R"([[rule]]
ops = ["write"]
path = "every"
every = 3
action = "errno"
errno = "EIO"
[[rule]]
ops = ["write"]
path = "after"
after = 3
action = "errno"
errno = "EIO"
)");
  std::string every, after;
  for (int i = 0; i < 6; ++i) {
    every += Write(M("every"), "x") == -EIO ? 'X' : '.';
    after += Write(M("after"), "x") == -EIO ? 'X' : '.';
  }
  EXPECT_EQ(every, "..X..X");
  EXPECT_EQ(after, "...XXX");
  EXPECT_EQ(Write(M("neither"), "x"), 1);
}

// Writes to `path` every 20 ms for `seconds`; 'X' for EIO, '.' for success.
std::string Pattern(const std::string& path, double seconds) {
  std::string out;
  const auto start = Clock::now();
  while (Seconds(start) < seconds) {
    out += Write(path, "x") == -EIO ? 'X' : '.';
    std::this_thread::sleep_for(milliseconds(20));
  }
  return out;
}

TEST_F(FaultsTargeting, TimeWindowEnds) {
  // The first write must land inside the window to check its start. On a busy machine mounting
  // can outlast a short window: then the mount is made again with a window twice as long.
  for (double window = 1.5;; window *= 2) {
    ASSERT_LE(window, 24) << "mounting never took less than " << window / 2 << " s";
    const auto before_mount = Clock::now();  // the policy's clock starts after this...
    Mount("[[rule]]\nops = [\"write\"]\npath = \"window\"\nwindow = [0, " + std::to_string(window) +
          "]\naction = \"errno\"\nerrno = \"EIO\"\n");
    const auto mounted = Clock::now();  // ...and before this
    const long first = Write(M("window"), "x");
    if (Seconds(before_mount) >= window) {
      ASSERT_EQ(mount_.Stop().exit_code, 0);
      continue;
    }
    EXPECT_EQ(first, -EIO) << "inside the window";
    EXPECT_EQ(Write(M("outside"), "x"), 1);
    std::this_thread::sleep_for(
        std::chrono::duration<double>(std::max(0.0, window + 0.1 - Seconds(mounted))));
    for (int i = 0; i < 5; ++i) EXPECT_EQ(Write(M("window"), "x"), 1) << "the window has ended";
    return;
  }
}

TEST_F(FaultsTargeting, FlakeyFullCycle) {
  Mount(
      "[[rule]]\nops = [\"write\"]\npath = \"flakey\"\nflakey = { up_s = 0.5, down_s = 0.5 "
      "}\naction = \"errno\"\nerrno = \"EIO\"\n");
  const std::string seen = Pattern(M("flakey"), 2.2);
  EXPECT_NE(Collapse(seen).find(".X."), std::string::npos)
      << "healthy, faulty, healthy again: " << seen;
  EXPECT_EQ(Collapse(Pattern(M("steady"), 0.3)), ".") << "another file is never faulty";
}

TEST_F(FaultsTargeting, ChainedRuleWaitsForItsPredecessor) {
  Mount(R"([[rule]]
id = "first"
ops = ["write"]
path = "a"
nth = 3
action = "errno"
errno = "EIO"
[[rule]]
ops = ["write"]
path = "b"
after_rule = "first"
action = "errno"
errno = "ENOSPC"
)");
  EXPECT_EQ(Write(M("b"), "x"), 1) << "not armed yet";
  EXPECT_EQ(Write(M("a"), "x"), 1);
  EXPECT_EQ(Write(M("a"), "x"), 1);
  EXPECT_EQ(Write(M("b"), "x"), 1) << "'first' matched twice but has not fired";
  EXPECT_EQ(Write(M("a"), "x"), -EIO);
  EXPECT_EQ(Write(M("b"), "x"), -ENOSPC) << "armed once 'first' fired";
  EXPECT_EQ(Write(M("b"), "x"), -ENOSPC) << "and stays armed";
  EXPECT_EQ(Write(M("c"), "x"), 1);
}

}  // namespace
}  // namespace faultfs::testing
