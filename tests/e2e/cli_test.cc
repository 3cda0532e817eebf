// Goal: the faultfs command behaves as its users expect: helpful --help, clear errors with a
// non-zero exit for every bad input (missing dirs, busy mountpoint, no /dev/fuse, bad options),
// and no mount left behind by SIGTERM, SIGINT, foreground runs or a killed daemon.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>

#include "faultfs/core/mountinfo.h"
#include "faultfs/core/process.h"
#include "test_support.h"

namespace faultfs::testing {
namespace {

bool Contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

// A number from a sysfs file, or -1 when there is none.
long SysfsNumber(const std::string& path) {
  std::ifstream in(path);
  long value = -1;
  return (in >> value) ? value : -1;
}

std::string DeviceId(const std::string& path) {
  struct stat st {};
  if (stat(path.c_str(), &st) != 0) return "";
  return std::to_string(major(st.st_dev)) + ":" + std::to_string(minor(st.st_dev));
}

bool WaitUntil(const std::function<bool()>& cond, double timeout_s = 10) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(timeout_s);
  while (std::chrono::steady_clock::now() < deadline) {
    if (cond()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return cond();
}

class Cli : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(mkdir(backing_.c_str(), 0755), 0);
    ASSERT_EQ(mkdir(mnt_.c_str(), 0755), 0);
  }
  CommandResult Faultfs(std::vector<std::string> args) {
    args.insert(args.begin(), FaultfsBinary());
    return RunCommand(args);
  }
  TempDir dir_{"cli"};
  std::string backing_ = dir_ / "backing";
  std::string mnt_ = dir_ / "mnt";
};

TEST_F(Cli, HelpExplainsTheCommands) {
  const CommandResult top = Faultfs({"--help"});
  EXPECT_EQ(top.exit_code, 0);
  for (const char* word : {"mount", "umount", "status"})
    EXPECT_TRUE(Contains(top.out, word)) << word;
  const CommandResult mount = Faultfs({"mount", "--help"});
  EXPECT_EQ(mount.exit_code, 0);
  for (const char* word : {"BACKING", "MOUNTPOINT", "in place", "--foreground", "--attr-timeout",
                           "--allow-other", "--log-level", "--log-file", "--single-thread"}) {
    EXPECT_TRUE(Contains(mount.out, word)) << word << " missing from mount --help";
  }
  EXPECT_EQ(Faultfs({"--version"}).exit_code, 0);
}

// Goal: an option that takes one of a few words shows those words and its default, not the
// parser's internals, and a wrong word (numeric aliases included) is named with the right ones.
TEST_F(Cli, ChoicesShowTheirWordsAndRejectOthersByName) {
  for (const std::vector<std::string>& help : {std::vector<std::string>{"mount", "--help"},
                                               {"harness", "run", "--help"},
                                               {"harness", "node", "--help"},
                                               {"crashtest", "--help"},
                                               {"crash", "--help"}}) {
    const CommandResult r = Faultfs(help);
    EXPECT_EQ(r.exit_code, 0) << help[0];
    for (const char* internal : {"ENUM", "->", "value in {", "TEXT:{"})
      EXPECT_FALSE(Contains(r.out, internal)) << help[0] << " --help shows '" << internal << "'";
  }
  const std::string mount = Faultfs({"mount", "--help"}).out;
  for (const char* shown :
       {"--transport auto|dev (default: auto)", "--uring-priority auto|idle|normal (default: auto)",
        "--log-level trace|debug|info|warn|error|off (default: info)"})
    EXPECT_TRUE(Contains(mount, shown)) << shown;
  for (const std::string value : {"foo", "0", "2", "Dev"}) {
    const CommandResult r = Faultfs({"mount", "--transport", value, backing_, mnt_});
    EXPECT_EQ(r.exit_code, 2) << value;
    EXPECT_TRUE(Contains(r.err, "--transport: '" + value + "' is not one of: auto, dev")) << r.err;
  }
  const CommandResult level = Faultfs({"mount", "--log-level", "loud", backing_, mnt_});
  EXPECT_EQ(level.exit_code, 2);
  EXPECT_TRUE(Contains(level.err, "'loud' is not one of: trace, debug")) << level.err;
  const CommandResult repair = Faultfs({"harness", "run", "--repair", "oldest"});
  EXPECT_EQ(repair.exit_code, 2);
  EXPECT_TRUE(Contains(repair.err, "'oldest' is not one of: verified, newest")) << repair.err;
}

// Goal: `policy check` counts rules in words ("1 rule", "2 rules") and prints a broken policy's
// errors in the order of its lines.
TEST_F(Cli, PolicyCheckCountsAndOrdersWhatItFinds) {
  const std::string one = dir_ / "one.toml";
  std::ofstream(one) << "[[rule]]\naction = \"lie\"\n";
  const std::string two = dir_ / "two.toml";
  std::ofstream(two) << "[[rule]]\naction = \"lie\"\n[[rule]]\naction = \"lose\"\n";
  EXPECT_EQ(Faultfs({"policy", "check", one}).out, one + ": ok (1 rule)\n");
  EXPECT_EQ(Faultfs({"policy", "check", two}).out, two + ": ok (2 rules)\n");
  const std::string bad = dir_ / "bad.toml";
  std::ofstream(bad) << "[[rule]]\nid = \"a\"\naction = \"lie\"\n[[rule]]\nid = \"a\"\n"
                        "action = \"los\"\n";
  const CommandResult r = Faultfs({"policy", "check", bad});
  EXPECT_NE(r.exit_code, 0);
  const size_t duplicate = r.err.find(":5:6: duplicate rule id 'a' (first at line 2)");
  const size_t action = r.err.find(":6:10: unknown action 'los'; did you mean 'lose'?");
  ASSERT_NE(duplicate, std::string::npos) << r.err;
  ASSERT_NE(action, std::string::npos) << r.err;
  EXPECT_LT(duplicate, action) << r.err;
}

TEST_F(Cli, UsageErrorsExitTwoWithAReason) {
  const CommandResult none = Faultfs({});
  EXPECT_EQ(none.exit_code, 2);
  EXPECT_TRUE(Contains(none.err, "subcommand")) << none.err;
  struct Case {
    std::vector<std::string> args;
    const char* says;
  };
  const Case cases[] = {
      {{"mount", "--attr-timeout", "-1", backing_, mnt_}, "--attr-timeout"},
      {{"mount", "--threads", "0", backing_, mnt_}, "--threads"},
      {{"mount", "--log-level", "loud", backing_, mnt_}, "--log-level"},
      {{"mount", "--no-such-flag", backing_, mnt_}, "--no-such-flag"},
      {{"mount"}, "BACKING"},
      {{"frobnicate"}, "frobnicate"},
  };
  for (const auto& c : cases) {
    const CommandResult r = Faultfs(c.args);
    EXPECT_EQ(r.exit_code, 2) << c.says;
    EXPECT_TRUE(Contains(r.err, c.says)) << "error should name " << c.says << ": " << r.err;
  }
  EXPECT_FALSE(FindMount(mnt_)) << "nothing was mounted";
}

TEST_F(Cli, MountFailuresSayWhy) {
  const CommandResult no_backing = Faultfs({"mount", dir_ / "missing", mnt_});
  EXPECT_EQ(no_backing.exit_code, 1);
  EXPECT_TRUE(Contains(no_backing.err, "backing directory")) << no_backing.err;
  EXPECT_TRUE(Contains(no_backing.err, "No such file or directory")) << no_backing.err;

  const CommandResult no_mnt = Faultfs({"mount", backing_, dir_ / "missing"});
  EXPECT_EQ(no_mnt.exit_code, 1);
  EXPECT_TRUE(Contains(no_mnt.err, "mountpoint")) << no_mnt.err;

  std::ofstream(dir_ / "file") << "x";
  const CommandResult file_mnt = Faultfs({"mount", backing_, dir_ / "file"});
  EXPECT_EQ(file_mnt.exit_code, 1);
  EXPECT_TRUE(Contains(file_mnt.err, "Not a directory")) << file_mnt.err;
  EXPECT_FALSE(FindMount(mnt_));
}

TEST_F(Cli, BusyMountpointIsRefused) {
  FaultfsMount first;
  ASSERT_EQ(first.Start(backing_, mnt_), "");
  const CommandResult again = Faultfs({"mount", backing_, mnt_});
  EXPECT_EQ(again.exit_code, 1);
  EXPECT_TRUE(Contains(again.err, "busy")) << again.err;
  EXPECT_TRUE(Contains(again.err, "faultfs umount")) << "tells how to fix it: " << again.err;
  EXPECT_EQ(first.Stop().exit_code, 0);
}

TEST_F(Cli, NoFuseDeviceIsReported) {
  // A private mount namespace whose /dev lacks fuse.
  const CommandResult r = RunShell("unshare -m sh -c \"mount -t tmpfs none /dev && exec '" +
                                   FaultfsBinary() + "' mount '" + backing_ + "' '" + mnt_ + "'\"");
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_TRUE(Contains(r.err, "/dev/fuse")) << r.err;
  EXPECT_FALSE(FindMount(mnt_));
}

TEST_F(Cli, SigtermAndSigintUnmountCleanly) {
  for (int sig : {SIGTERM, SIGINT}) {
    FaultfsMount m;
    ASSERT_EQ(m.Start(backing_, mnt_), "");
    std::ofstream(mnt_ + "/written") << "data";
    ASSERT_GT(m.daemon_pid(), 0);
    ASSERT_EQ(kill(m.daemon_pid(), sig), 0);
    EXPECT_TRUE(WaitUntil([&] { return !ProcessRunning(m.daemon_pid()); }))
        << "daemon exits on " << sig;
    EXPECT_FALSE(FindMount(mnt_)) << "no mount left behind after signal " << sig;
    std::ifstream in(backing_ + "/written");
    std::string content;
    in >> content;
    EXPECT_EQ(content, "data");
  }
}

TEST_F(Cli, SigtermWithAnOpenFileDetachesAtOnce) {
  FaultfsMount m;
  ASSERT_EQ(m.Start(backing_, mnt_), "");
  const int fd = open((mnt_ + "/open").c_str(), O_CREAT | O_RDWR, 0644);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(kill(m.daemon_pid(), SIGTERM), 0);
  EXPECT_TRUE(WaitUntil([&] { return !FindMount(mnt_); }))
      << "the mount leaves the namespace at once";
  EXPECT_EQ(write(fd, "still served", 12), 12) << "the open file keeps working";
  EXPECT_TRUE(ProcessRunning(m.daemon_pid()));
  close(fd);
  EXPECT_TRUE(WaitUntil([&] { return !ProcessRunning(m.daemon_pid()); }))
      << "daemon exits after the last close";
}

TEST_F(Cli, ForegroundModeServesAndStopsOnSigint) {
  const pid_t pid = fork();
  if (pid == 0) {
    const int devnull = open("/dev/null", O_WRONLY);
    dup2(devnull, 1);
    dup2(devnull, 2);
    execl(FaultfsBinary().c_str(), "faultfs", "mount", "--foreground", backing_.c_str(),
          mnt_.c_str(), nullptr);
    _exit(127);
  }
  ASSERT_TRUE(WaitUntil([&] { return IsFuseMount(mnt_); })) << "foreground mount came up";
  std::ofstream(mnt_ + "/fg") << "fg";
  kill(pid, SIGINT);
  int status = 0;
  waitpid(pid, &status, 0);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
  EXPECT_FALSE(FindMount(mnt_));
  EXPECT_TRUE(std::filesystem::exists(backing_ + "/fg"));
}

TEST_F(Cli, KilledDaemonLeavesAStaleMountThatUmountClears) {
  FaultfsMount m;
  ASSERT_EQ(m.Start(backing_, mnt_), "");
  ASSERT_EQ(kill(m.daemon_pid(), SIGKILL), 0);
  ASSERT_TRUE(WaitUntil([&] { return !ProcessRunning(m.daemon_pid()); }));
  struct stat st {};
  // A name never looked up needs the daemon (the root's attributes may come from the cache).
  EXPECT_EQ(stat((mnt_ + "/never-seen").c_str(), &st), -1);
  // The kernel's words for a dead connection: ENOTCONN, ECONNABORTED, or ECANCELED for a request
  // that sat in an io_uring entry of the killed daemon.
  EXPECT_TRUE(errno == ENOTCONN || errno == ECONNABORTED || errno == ECANCELED)
      << "a SIGKILLed daemon leaves the kernel's dead connection; errno " << errno;
  const CommandResult status = Faultfs({"status"});
  EXPECT_TRUE(Contains(status.out, mnt_ + ": stale, its daemon (pid " +
                                       std::to_string(m.daemon_pid()) +
                                       ") is gone: every access fails; clear it with: "
                                       "faultfs umount " +
                                       mnt_))
      << status.out;
  // ctl on the stale mount, or on a path inside it, says what happened and what clears it.
  for (const std::string& where : {mnt_, mnt_ + "/never-seen/deeper"}) {
    const CommandResult ctl = Faultfs({"ctl", where, "status"});
    EXPECT_EQ(ctl.exit_code, 1) << where;
    EXPECT_TRUE(Contains(ctl.err, "is gone: a stale mount; clear it with: faultfs umount " + mnt_))
        << where << ": " << ctl.err;
  }
  const CommandResult um = Faultfs({"umount", mnt_});
  EXPECT_EQ(um.exit_code, 0) << um.err;
  EXPECT_FALSE(FindMount(mnt_));
}

TEST_F(Cli, UmountRefusesWhatIsNotFaultfs) {
  const CommandResult plain = Faultfs({"umount", mnt_});
  EXPECT_EQ(plain.exit_code, 1);
  EXPECT_TRUE(Contains(plain.err, "not a mount point")) << plain.err;
  const CommandResult proc = Faultfs({"umount", "/proc"});
  EXPECT_EQ(proc.exit_code, 1);
  EXPECT_TRUE(Contains(proc.err, "not faultfs")) << proc.err;
  EXPECT_TRUE(FindMount("/proc")) << "left alone";
}

TEST_F(Cli, BusyUmountExplainsAndLazyDetaches) {
  FaultfsMount m;
  ASSERT_EQ(m.Start(backing_, mnt_), "");
  const int fd = open((mnt_ + "/held").c_str(), O_CREAT | O_RDWR, 0644);
  ASSERT_GE(fd, 0);
  const CommandResult busy = Faultfs({"umount", mnt_});
  EXPECT_EQ(busy.exit_code, 1);
  EXPECT_TRUE(Contains(busy.err, "--lazy")) << busy.err;
  EXPECT_TRUE(IsFuseMount(mnt_)) << "a refused umount leaves the mount working";
  EXPECT_EQ(Faultfs({"umount", "--lazy", "--timeout", "0.2", mnt_}).exit_code, 1)
      << "daemon still serving the open file";
  EXPECT_FALSE(FindMount(mnt_));
  close(fd);
  EXPECT_TRUE(WaitUntil([&] { return !ProcessRunning(m.daemon_pid()); }));
}

TEST_F(Cli, StatusListsMountsAsJson) {
  FaultfsMount m;
  ASSERT_EQ(m.Start(backing_, mnt_, {"--log-file", dir_ / "d.log"}), "");
  const CommandResult r = Faultfs({"status", "--json"});
  ASSERT_EQ(r.exit_code, 0);
  const auto j = nlohmann::json::parse(r.out);
  bool found = false;
  for (const auto& e : j) {
    if (e["mountpoint"] == mnt_) {
      found = true;
      EXPECT_EQ(e["pid"], m.daemon_pid());
      EXPECT_EQ(e["state"], "mounted");
      EXPECT_EQ(e["log_file"], dir_ / "d.log");
      EXPECT_EQ(e["backing"], backing_);
    }
  }
  EXPECT_TRUE(found) << r.out;
  // The human form says what each state means.
  const std::string text_form = Faultfs({"status"}).out;
  EXPECT_TRUE(Contains(text_form, mnt_ + ": mounted, its daemon (pid " +
                                      std::to_string(m.daemon_pid()) + ") serves it\n"))
      << text_form;
  EXPECT_TRUE(Contains(text_form, "\n  log      " + (dir_ / "d.log") + "\n")) << text_form;
  // A mount registered elsewhere (another FAULTFS_RUNTIME_DIR) is listed, and why ctl cannot
  // reach it is said.
  const std::string other_backing = dir_ / "other-backing";
  const std::string other_mnt = dir_ / "other-mnt";
  ASSERT_EQ(mkdir(other_backing.c_str(), 0755), 0);
  ASSERT_EQ(mkdir(other_mnt.c_str(), 0755), 0);
  const std::string elsewhere = "FAULTFS_RUNTIME_DIR=" + (dir_ / "run");
  ASSERT_EQ(RunCommand({FaultfsBinary(), "mount", other_backing, other_mnt}, {elsewhere}).exit_code,
            0);
  const std::string listed = Faultfs({"status"}).out;
  EXPECT_EQ(RunCommand({FaultfsBinary(), "umount", other_mnt}, {elsewhere}).exit_code, 0);
  EXPECT_TRUE(Contains(listed, other_mnt + ": unregistered, no record of it in")) << listed;
  EXPECT_TRUE(Contains(listed, "faultfs ctl cannot reach it")) << listed;
  std::ifstream log(dir_ / "d.log");
  std::string text((std::istreambuf_iterator<char>(log)), std::istreambuf_iterator<char>());
  EXPECT_TRUE(Contains(text, "mounted")) << "the daemon logs to --log-file";
}

// Which transport carried the requests, from the daemon's unmount summary in its log.
std::string TransportSummary(const std::string& log_file) {
  std::ifstream log(log_file);
  std::string line;
  std::string last;
  while (std::getline(log, line)) {
    if (line.find("via /dev/fuse") != std::string::npos) last = line;
  }
  return last;
}

TEST_F(Cli, DefaultTransportIsIoUringWhenTheKernelOffersIt) {
  if (!std::filesystem::exists("/sys/module/fuse/parameters/enable_uring")) {
    GTEST_SKIP() << "this kernel has no FUSE over io_uring";
  }
  FaultfsMount m;
  ASSERT_EQ(m.Start(backing_, mnt_, {"--log-file", dir_ / "d.log"}), "");
  for (int i = 0; i < 50; ++i) std::ofstream(mnt_ + "/f" + std::to_string(i)) << i;
  ASSERT_EQ(m.Stop().exit_code, 0);
  const std::string summary = TransportSummary(dir_ / "d.log");
  EXPECT_TRUE(Contains(summary, "via io_uring")) << summary;
  EXPECT_FALSE(Contains(summary, "via io_uring 0"))
      << "requests went through the rings: " << summary;
}

TEST_F(Cli, DevTransportKeepsEverythingOnDevFuse) {
  FaultfsMount m;
  ASSERT_EQ(m.Start(backing_, mnt_, {"--transport", "dev", "--log-file", dir_ / "d.log"}), "");
  for (int i = 0; i < 50; ++i) std::ofstream(mnt_ + "/f" + std::to_string(i)) << i;
  ASSERT_EQ(m.Stop().exit_code, 0);
  EXPECT_TRUE(Contains(TransportSummary(dir_ / "d.log"), "via io_uring 0"));
}

// Goal: the mount reads ahead as far as its backing device does, but no further than 4 MiB by
// default (larger FUSE windows measured slower), and exactly as far as --read-ahead-kb says.
TEST_F(Cli, ReadaheadFollowsTheBackingDeviceUpToFourMiB) {
  const std::string dev = "/sys/dev/block/" + DeviceId(backing_);
  long device_kb = SysfsNumber(dev + "/queue/read_ahead_kb");
  if (device_kb < 0) device_kb = SysfsNumber(dev + "/../queue/read_ahead_kb");  // a partition
  {
    FaultfsMount m;
    ASSERT_EQ(m.Start(backing_, mnt_), "");
    const long mount_kb = SysfsNumber("/sys/class/bdi/" + DeviceId(mnt_) + "/read_ahead_kb");
    ASSERT_GT(mount_kb, 0);
    if (device_kb > 0) {
      EXPECT_EQ(mount_kb, std::min(device_kb, 4096L)) << "device: " << device_kb;
    }
  }
  FaultfsMount m;
  ASSERT_EQ(m.Start(backing_, mnt_, {"--read-ahead-kb", "6000"}), "");
  EXPECT_EQ(SysfsNumber("/sys/class/bdi/" + DeviceId(mnt_) + "/read_ahead_kb"), 6000);
}

// Unmounts `path` when the test ends, however it ends.
struct UnmountAtEnd {
  std::string path;
  ~UnmountAtEnd() {
    RunCommand({FaultfsBinary(), "umount", path});
    AbortFuseMount(path);
  }
};

// Goal: mounting in place warns about the processes already using the directory, by name and pid
// and with what they hold (their open files bypass the mount until reopened); over a directory
// nobody uses, it says nothing.
// A data dir owned by a database's own user needs --allow-other for that user to get in: the
// mount says so, and says nothing when it is given.
TEST_F(Cli, MountingAnotherUsersDirectoryWithoutAllowOtherWarns) {
  ASSERT_EQ(chown(backing_.c_str(), 65534, 65534), 0);
  {
    UnmountAtEnd unmount{backing_};
    const CommandResult warned = Faultfs({"mount", backing_});
    ASSERT_EQ(warned.exit_code, 0) << warned.err;
    EXPECT_TRUE(Contains(warned.err, "belongs to nobody, but without --allow-other")) << warned.err;
  }
  UnmountAtEnd unmount{backing_};
  const CommandResult quiet = Faultfs({"mount", "--allow-other", backing_});
  ASSERT_EQ(quiet.exit_code, 0) << quiet.err;
  EXPECT_FALSE(Contains(quiet.err, "warning")) << quiet.err;
}

TEST_F(Cli, MountingInPlaceNamesTheProcessesAlreadyInTheDirectory) {
  {
    UnmountAtEnd unmount{backing_};
    const CommandResult quiet = Faultfs({"mount", backing_});
    ASSERT_EQ(quiet.exit_code, 0) << quiet.err;
    EXPECT_FALSE(Contains(quiet.err, "warning")) << quiet.err;
  }
  const std::string log = backing_ + "/app.log";
  const pid_t app = fork();
  ASSERT_GE(app, 0);
  if (app == 0) {
    // An application writing its log in the directory: working directory and an open file.
    if (chdir(backing_.c_str()) != 0) _exit(126);
    if (open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644) < 0) _exit(126);
    execl("/bin/sleep", "sleep", "120", static_cast<char*>(nullptr));
    _exit(127);
  }
  struct KillAtEnd {
    pid_t pid;
    ~KillAtEnd() {
      kill(pid, SIGKILL);
      waitpid(pid, nullptr, 0);
    }
  } kill_app{app};
  // Wait until it is in place: it has exec'd sleep with the file open.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (ProcessName(app) != "sleep" && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ASSERT_EQ(ProcessName(app), "sleep");
  UnmountAtEnd unmount{backing_};
  const CommandResult r = Faultfs({"mount", backing_});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(
      Contains(r.err, "sleep (pid " + std::to_string(app) + "): working directory, 1 open file"))
      << r.err;
  EXPECT_TRUE(Contains(r.err, "restart")) << "says what to do: " << r.err;
}

}  // namespace
}  // namespace faultfs::testing
