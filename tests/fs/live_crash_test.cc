// Goal: a live crash point (a `crash` rule, or `faultfs ctl MOUNT crash`) stops a running process
// exactly at the chosen op; while crashed every op fails with EIO; and after `faultfs ctl MOUNT
// recover` the backing directory is exactly a pp crash state of what was recorded (the one the
// mount names): synced data is there, unsynced data is gone, old names lead to the rolled-back
// contents, and new work proceeds normally.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "faultfs/core/random.h"
#include "faultfs/core/tree_hash.h"
#include "faultfs/crash/materialize.h"
#include "faultfs/crash/state.h"
#include "faultfs/record/log.h"
#include "policy_mount.h"

namespace faultfs::testing {
namespace {

constexpr char kWalCrash[] = R"([[rule]]
id = "wal-cut"
ops = ["fsync"]
path = "**/*.wal"
nth = 3
action = "crash"
)";

// The errno of a call that must fail (0 if it succeeded).
int FailsWith(int res) { return res < 0 ? errno : 0; }

// A child that writes `data` (synced, then more that is not), changes pre.txt without syncing,
// then appends three records to db.wal with an fsync after each. It reports each step on
// `progress` ("w1" before the first fsync, "f1" after it, ...), so the parent sees where it died.
pid_t StartWorkload(const std::string& mnt, int progress) {
  const std::string data = mnt + "/data";
  const std::string pre = mnt + "/pre.txt";
  const std::string wal = mnt + "/db.wal";
  const pid_t pid = fork();
  if (pid != 0) return pid;
  auto step = [&](const char* s) { (void)!write(progress, s, std::strlen(s)); };
  const int d = open(data.c_str(), O_CREAT | O_WRONLY, 0644);
  const int p = open(pre.c_str(), O_WRONLY);
  if (d < 0 || p < 0 || write(d, "synced", 6) != 6 || fsync(d) != 0 || write(d, "+lost", 5) != 5 ||
      pwrite(p, "PRE", 3, 0) != 3) {
    _exit(2);
  }
  const int w = open(wal.c_str(), O_CREAT | O_WRONLY | O_APPEND, 0644);
  if (w < 0) _exit(3);
  // No allocation after fork(): the steps are spelled out.
  const char* const records[] = {"rec1;", "rec2;", "rec3;"};
  const char* const before[] = {"w1", "w2", "w3"};
  const char* const after[] = {"f1", "f2", "f3"};
  for (int i = 0; i < 3; ++i) {
    if (write(w, records[i], 5) != 5) _exit(4);
    step(before[i]);
    if (fsync(w) != 0) {
      step("E");
      _exit(5);
    }
    step(after[i]);
  }
  _exit(0);
}

// A child that sleeps until killed, named `name` (its /proc/PID/comm).
pid_t StartSleeper(const std::string& name) {
  const pid_t pid = fork();
  if (pid != 0) return pid;
  prctl(PR_SET_NAME, name.c_str());
  for (;;) pause();
}

// How `pid` ended: the signal that killed it, or -1 when it is still running after `wait_s`.
int TermSignal(pid_t pid, double wait_s) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(wait_s);
  do {
    int status = 0;
    const pid_t done = waitpid(pid, &status, WNOHANG);
    if (done == pid) return WIFSIGNALED(status) ? WTERMSIG(status) : 0;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  } while (std::chrono::steady_clock::now() < deadline);
  return -1;
}

class LiveCrash : public PolicyMountTest {
 protected:
  void SetUp() override {
    PolicyMountTest::SetUp();
    umask(022);
    WriteFile(B("pre.txt"), "pre");
  }
  void TearDown() override {
    for (pid_t pid : children_) {
      kill(pid, SIGKILL);
      waitpid(pid, nullptr, 0);
    }
  }
  void MountRecording(const std::string& policy) { Mount(policy, {"--record", log_}); }

  CommandResult Ctl(const std::vector<std::string>& args) {
    std::vector<std::string> argv = {FaultfsBinary(), "ctl", mnt_};
    argv.insert(argv.end(), args.begin(), args.end());
    return RunCommand(argv);
  }
  nlohmann::json CtlJson(std::vector<std::string> args) {
    args.push_back("--json");
    const CommandResult r = Ctl(args);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return nlohmann::json::parse(r.out, nullptr, false);
  }
  // The crash a rule started, once its rollback is done (the rule's op answers before that).
  nlohmann::json WaitForCrash() {
    for (int i = 0; i < 1000; ++i) {
      nlohmann::json status = CtlJson({"status"});
      if (status.value("crashed", false) && status["crash"].is_object()) return status["crash"];
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    ADD_FAILURE() << "the mount did not crash";
    return nullptr;
  }

  // The hash of crash state `id` of the final crash point of the recording, under pp, rebuilt from
  // the log on its own: what the backing directory must hold after the crash.
  std::string ExpectedHash(const std::string& id, uint64_t seed) {
    auto log = record::ReadLogFile(log_);
    EXPECT_TRUE(log.ok()) << log.status().ToString();
    if (!log.ok()) return "";
    EXPECT_FALSE(log->damage) << "the crash synced the log";
    auto model = crash::ParseModel("pp");
    const auto all = crash::Enumerate(*log, *model, seed, 1'000'000);
    const crash::CrashState* state = nullptr;
    for (const auto& s : all.states) {
      if (s.id == id) state = &s;
    }
    EXPECT_NE(state, nullptr) << "state " << id << " is a pp state of the recording";
    if (state == nullptr) return "";
    EXPECT_EQ(state->crash_point, log->ops.size()) << "the crash point is every recorded op";
    const std::string out = dir_ / ("expected-" + id);
    EXPECT_EQ(mkdir(out.c_str(), 0755), 0);
    const Status built = crash::Materialize(log_ + ".base", *log, *state, seed, out);
    EXPECT_TRUE(built.ok()) << built.ToString();
    auto hash = HashTree(out);
    EXPECT_TRUE(hash.ok()) << hash.status().ToString();
    return hash.ok() ? *hash : "";
  }
  std::string BackingHash() { return TreeHash(backing_); }
  std::string TreeHash(const std::string& dir) {
    auto hash = HashTree(dir);
    EXPECT_TRUE(hash.ok()) << hash.status().ToString();
    return hash.ok() ? *hash : "?";
  }
  // The names in `dir`, sorted, one per line, but for the recording's own (rec.log*: the log, its
  // snapshot, the crash states built beside it).
  static std::string Names(const std::string& dir) {
    std::vector<std::string> names;
    for (const auto& e : std::filesystem::directory_iterator(dir)) {
      if (e.path().filename().string().rfind("rec.log", 0) != 0)
        names.push_back(e.path().filename());
    }
    std::sort(names.begin(), names.end());
    std::string text;
    for (const auto& n : names) text += n + "\n";
    return text;
  }
  record::ReadLog ReadLog() {
    auto log = record::ReadLogFile(log_);
    EXPECT_TRUE(log.ok()) << log.status().ToString();
    return log.ok() ? std::move(*log) : record::ReadLog{};
  }
  void ExpectEveryOpFails() {
    EXPECT_EQ(FailsWith(open(M("pre.txt").c_str(), O_RDONLY)), EIO);
    EXPECT_EQ(FailsWith(open(M("brand-new").c_str(), O_CREAT | O_WRONLY, 0644)), EIO);
    struct statfs st {};
    EXPECT_EQ(FailsWith(statfs(mnt_.c_str(), &st)), EIO);
  }

  std::string log_ = dir_ / "rec.log";
  std::vector<pid_t> children_;
};

TEST_F(LiveCrash, RuleKillsTheCallerAtTheThirdWalFsyncAndRollsBackToTheRecordedPpState) {
  MountRecording(kWalCrash);
  // Opened and read before the crash: its cached pages and its descriptor must not outlive it.
  const int old_fd = open(M("pre.txt").c_str(), O_RDONLY);
  ASSERT_GE(old_fd, 0);
  ASSERT_EQ(ReadFile(M("pre.txt")), "pre");

  int pipe_fds[2];
  ASSERT_EQ(pipe2(pipe_fds, O_CLOEXEC), 0);
  const pid_t child = StartWorkload(mnt_, pipe_fds[1]);
  children_.push_back(child);
  close(pipe_fds[1]);
  std::string progress;
  char buf[64];
  for (ssize_t n; (n = read(pipe_fds[0], buf, sizeof(buf))) > 0;) {
    progress.append(buf, static_cast<size_t>(n));
  }
  close(pipe_fds[0]);
  EXPECT_EQ(TermSignal(child, 30), SIGKILL) << "killed by the power cut";
  children_.clear();
  EXPECT_EQ(progress, "w1f1w2f2w3") << "died in its third WAL fsync, which never returned";

  const nlohmann::json crash = WaitForCrash();
  ASSERT_TRUE(crash.is_object());
  EXPECT_EQ(crash["rule"], "wal-cut");
  EXPECT_EQ(crash["model"], "pp");
  EXPECT_EQ(crash["killed"], nlohmann::json::array({child}));
  EXPECT_EQ(crash["recovered"], false);
  ExpectEveryOpFails();

  // The log ends at the crash: its last op is the third record, whose fsync never ran.
  const record::ReadLog log = ReadLog();
  ASSERT_FALSE(log.ops.empty());
  EXPECT_EQ(log.ops.back().kind, record::OpKind::kWrite);
  EXPECT_EQ(log.ops.back().data, "rec3;");
  EXPECT_EQ(crash["crash_point"], log.ops.size());
  const std::string expected = ExpectedHash(crash["state"], crash["seed"]);
  EXPECT_EQ(BackingHash(), expected) << "rolled back while crashed";
  EXPECT_NE(Ctl({"mark", "late"}).exit_code, 0) << "the recording ended at the crash";

  const nlohmann::json recovered = CtlJson({"recover"});
  EXPECT_EQ(recovered["crashed"], false);
  EXPECT_EQ(recovered["crash"]["state"], crash["state"]);
  EXPECT_EQ(BackingHash(), expected) << "exactly the chosen pp state of the recording";
  // Synced data is there; what no fsync covered is gone, through names the kernel had cached.
  struct stat st {};
  ASSERT_EQ(stat(M("data").c_str(), &st), 0);
  EXPECT_EQ(st.st_size, 6) << "no cached attributes from before the crash";
  EXPECT_EQ(ReadFile(M("data")), "synced");
  EXPECT_EQ(ReadFile(M("db.wal")), "rec1;rec2;");
  EXPECT_EQ(ReadFile(M("pre.txt")), "pre");
  char old[8];
  EXPECT_EQ(FailsWith(static_cast<int>(pread(old_fd, old, sizeof(old), 0))), ESTALE)
      << "a descriptor from before the power cut names a file that is gone";
  close(old_fd);
  // New work proceeds normally (and is no longer recorded).
  EXPECT_EQ(Write(M("after"), "new"), 3);
  EXPECT_EQ(ReadFile(M("after")), "new");
  EXPECT_EQ(ReadFile(B("after")), "new");
  EXPECT_EQ(Write(M("db.wal"), "X", 0, O_APPEND), 1);
  EXPECT_EQ(ReadFile(M("db.wal")), "rec1;rec2;X");
  EXPECT_EQ(ReadLog().ops.size(), log.ops.size());

  const auto events = Events();
  ASSERT_EQ(events.size(), 2U) << "the crash and the recovery";
  EXPECT_EQ(events[0]["action"], "crash");
  EXPECT_EQ(events[0]["op"], "fsync");
  EXPECT_EQ(events[0]["path"], "db.wal");
  EXPECT_EQ(events[0]["state"], crash["state"]);
  EXPECT_EQ(events[1]["action"], "recover");
}

TEST_F(LiveCrash, CtlCrashKillsByNameAndRecoverResumes) {
  MountRecording("");
  ASSERT_EQ(Write(M("kept"), "durable"), 7);
  const int kept = open(M("kept").c_str(), O_WRONLY);
  ASSERT_GE(kept, 0);
  ASSERT_EQ(fsync(kept), 0);
  ASSERT_EQ(pwrite(kept, "LOST", 4, 0), 4);
  close(kept);
  ASSERT_EQ(mkdir(M("dir").c_str(), 0755), 0);
  ASSERT_EQ(Write(M("dir/unsynced"), "gone"), 4);
  const std::string victim_name = "lcv-" + std::to_string(getpid() % 100000);
  const pid_t victim = StartSleeper(victim_name);
  const pid_t bystander = StartSleeper("lcb-" + std::to_string(getpid() % 100000));
  children_ = {victim, bystander};
  std::this_thread::sleep_for(std::chrono::milliseconds(50));  // the names are set

  const nlohmann::json reply = CtlJson({"crash", "--model", "pp", "--kill", victim_name});
  EXPECT_EQ(reply["crashed"], true);
  const nlohmann::json crash = reply["crash"];
  EXPECT_EQ(crash["killed"], nlohmann::json::array({victim}));
  EXPECT_FALSE(crash.contains("rule"));
  EXPECT_EQ(TermSignal(victim, 10), SIGKILL);
  EXPECT_EQ(TermSignal(bystander, 0.1), -1) << "only the named process dies";
  ExpectEveryOpFails();
  EXPECT_NE(Ctl({"crash"}).exit_code, 0) << "already crashed";

  const std::string expected = ExpectedHash(crash["state"], crash["seed"]);
  const nlohmann::json recovered = CtlJson({"recover"});
  EXPECT_EQ(recovered["crash"]["recovered"], true);
  EXPECT_EQ(BackingHash(), expected);
  EXPECT_EQ(ReadFile(M("kept")), "durable");
  struct stat st {};
  if (stat(M("dir/unsynced").c_str(), &st) == 0) {
    EXPECT_EQ(st.st_size, 0)
        << "its name may survive (no fsync covered it either way), its data not";
  }
  EXPECT_FALSE(CtlJson({"status"})["crashed"]);
  EXPECT_NE(Ctl({"crash"}).exit_code, 0) << "the recording ended at the first crash";
  EXPECT_EQ(Write(M("dir2"), "ok"), 2);
}

// The kernel remembers a removed name as missing; when the removal was not durable, the name is
// back after the crash, and the kernel must ask again.
TEST_F(LiveCrash, ANameRemovedWithoutFsyncComesBack) {
  // The state is drawn as DeriveSeed(seed, "live-crash") says (docs/architecture.md): pick a seed
  // that draws the variant in which the unlink did not reach the disk.
  uint64_t seed = 1;
  while (Rng(DeriveSeed(seed, "live-crash")).Below(2) != 1) ++seed;
  Mount("", {"--record", log_, "--seed", std::to_string(seed)});
  struct stat st {};
  ASSERT_EQ(stat(M("pre.txt").c_str(), &st), 0);
  ASSERT_EQ(unlink(M("pre.txt").c_str()), 0);
  ASSERT_EQ(FailsWith(stat(M("pre.txt").c_str(), &st)), ENOENT) << "now cached as missing";
  const nlohmann::json crash = CtlJson({"crash"})["crash"];
  EXPECT_EQ(crash["states"], 2) << "the unlink may or may not have reached the disk";
  EXPECT_EQ(crash["state"], std::to_string(crash["crash_point"].get<int>()) + ".1")
      << "the variant that drops the unlink";
  CtlJson({"recover"});
  EXPECT_EQ(BackingHash(), ExpectedHash(crash["state"], crash["seed"]));
  ASSERT_EQ(stat(M("pre.txt").c_str(), &st), 0) << "the name is back";
  EXPECT_EQ(st.st_size, 3);
  EXPECT_EQ(ReadFile(M("pre.txt")), "pre");
}

// In place, the backing directory's path leads into the mount: the rollback must reach the
// directory underneath.
TEST_F(LiveCrash, AnInPlaceMountRollsBackTheDirectoryItCovers) {
  ASSERT_EQ(mount_.Start(backing_, backing_, {"--record", log_}), "");
  ASSERT_EQ(Write(B("synced"), "kept"), 4);
  const int fd = open(B("synced").c_str(), O_WRONLY);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(fsync(fd), 0);
  close(fd);
  ASSERT_EQ(Write(B("pre.txt"), "LOST"), 4);
  const CommandResult crashed = RunCommand({FaultfsBinary(), "ctl", backing_, "crash", "--json"});
  ASSERT_EQ(crashed.exit_code, 0) << crashed.err;
  const nlohmann::json crash = nlohmann::json::parse(crashed.out)["crash"];
  const CommandResult recovered = RunCommand({FaultfsBinary(), "ctl", backing_, "recover"});
  ASSERT_EQ(recovered.exit_code, 0) << recovered.err;
  EXPECT_EQ(ReadFile(B("synced")), "kept");
  EXPECT_EQ(ReadFile(B("pre.txt")), "pre");
  EXPECT_EQ(BackingHash(), ExpectedHash(crash["state"], crash["seed"])) << "seen through the mount";
}

// The workload's own symlinks (to a directory outside, up with "..", one put where a directory
// it wrote into used to be) are rolled back as links: the rollback never writes through them, so
// nothing outside the backing directory changes.
TEST_F(LiveCrash, TheRollbackNeverWritesThroughTheWorkloadsSymlinks) {
  const std::string outside = dir_ / "outside";
  ASSERT_EQ(mkdir(outside.c_str(), 0755), 0);
  WriteFile(outside + "/keep", "outside");
  MountRecording("");
  ASSERT_EQ(symlink(outside.c_str(), M("out").c_str()), 0);
  ASSERT_EQ(symlink("..", M("up").c_str()), 0);
  ASSERT_EQ(mkdir(M("d").c_str(), 0755), 0);
  ASSERT_EQ(Write(M("d/f"), "in d"), 4);
  ASSERT_EQ(rename(M("d").c_str(), M("e").c_str()), 0);
  ASSERT_EQ(symlink(outside.c_str(), M("d").c_str()), 0);
  ASSERT_EQ(Write(M("out/w"), "by the workload"), 15) << "the kernel follows it, outside faultfs";
  ASSERT_EQ(Write(M("pre.txt"), "PRE"), 3);
  const std::string outside_before = TreeHash(outside);
  const std::string beside_before = Names(dir_.path());

  const nlohmann::json crash = CtlJson({"crash"})["crash"];
  ASSERT_TRUE(crash.is_object());
  CtlJson({"recover"});
  EXPECT_EQ(TreeHash(outside), outside_before) << "the rollback wrote outside";
  EXPECT_EQ(ReadFile(outside + "/keep"), "outside");
  EXPECT_EQ(Names(dir_.path()), beside_before) << "the rollback wrote beside the backing directory";
  for (const char* link : {"out", "up"}) {  // d may be the directory again: the rename can be lost
    struct stat st {};
    if (lstat(B(link).c_str(), &st) == 0) {
      EXPECT_TRUE(S_ISLNK(st.st_mode)) << link;
    }
  }
  EXPECT_EQ(BackingHash(), ExpectedHash(crash["state"], crash["seed"]));
}

TEST_F(LiveCrash, HeldRequestsFailAndNeverLandAfterRecovery) {
  WriteFile(B("slow"), "old");
  MountRecording(
      "[[rule]]\nops = [\"write\"]\npath = \"slow\"\naction = \"delay\"\n"
      "delay = { fixed_ms = 3000 }\n");
  long written = 0;
  std::thread writer([&] { written = Write(M("slow"), "NEW"); });
  std::this_thread::sleep_for(std::chrono::milliseconds(300));  // the write is held
  const nlohmann::json reply = CtlJson({"crash"});
  writer.join();
  EXPECT_EQ(written, -EIO) << "a held write fails at the crash";
  CtlJson({"recover"});
  std::this_thread::sleep_for(std::chrono::milliseconds(3200));  // past its delay
  EXPECT_EQ(ReadFile(B("slow")), "old");
  EXPECT_EQ(BackingHash(), ExpectedHash(reply["crash"]["state"], reply["crash"]["seed"]));
}

TEST_F(LiveCrash, ARuleWhoseNthIsNeverReachedDoesNotFire) {
  MountRecording(kWalCrash);
  const int w = open(M("db.wal").c_str(), O_CREAT | O_WRONLY, 0644);
  ASSERT_GE(w, 0);
  for (int i = 0; i < 2; ++i) {
    ASSERT_EQ(write(w, "r", 1), 1);
    ASSERT_EQ(fsync(w), 0);
  }
  close(w);
  const nlohmann::json status = CtlJson({"status"});
  EXPECT_EQ(status["crashed"], false);
  EXPECT_TRUE(status["crash"].is_null());
  EXPECT_EQ(ReadFile(M("db.wal")), "rr");
  EXPECT_TRUE(Events().empty());
}

TEST_F(LiveCrash, CrashRulesNeedARecordingMount) {
  WriteFile(dir_ / "crash.toml", kWalCrash);
  const CommandResult refused =
      RunCommand({FaultfsBinary(), "mount", "--policy", dir_ / "crash.toml", backing_, mnt_});
  EXPECT_NE(refused.exit_code, 0);
  EXPECT_NE(refused.err.find("rule 'wal-cut' has action crash, which needs a recording mount"),
            std::string::npos)
      << refused.err;
  EXPECT_FALSE(IsFuseMount(mnt_));

  Mount("");
  for (const char* how : {"add", "load"}) {
    const CommandResult r = Ctl({how, dir_ / "crash.toml"});
    EXPECT_NE(r.exit_code, 0) << how;
    EXPECT_NE(r.err.find("rule 'wal-cut' has action crash"), std::string::npos) << r.err;
  }
  const CommandResult crash = Ctl({"crash"});
  EXPECT_NE(crash.exit_code, 0);
  EXPECT_NE(crash.err.find("not recording"), std::string::npos) << crash.err;
  EXPECT_EQ(Write(M("fine"), "x"), 1);
}

TEST_F(LiveCrash, RecoverOnAMountThatHasNotCrashedIsAnError) {
  MountRecording("");
  const CommandResult r = Ctl({"recover"});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("has not crashed"), std::string::npos) << r.err;
  EXPECT_EQ(Write(M("fine"), "x"), 1);
}

}  // namespace
}  // namespace faultfs::testing
