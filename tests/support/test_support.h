// Helpers for faultfs tests: scratch directories, running commands, and real faultfs mounts that
// always come down, even when a test fails.
#pragma once

#include <sys/types.h>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace faultfs::testing {

// The faultfs binary under test (set by the build; FAULTFS_TEST_BINARY overrides it) and the
// source tree.
std::string FaultfsBinary();
std::string SourceDir();

// A fresh directory under $FAULTFS_TEST_ROOT (or /tmp); removed on destruction, after any mount
// still under it has been detached, so removal never reaches through a mount.
class TempDir {
 public:
  // Under `base` when given (e.g. "/tmp", for tests whose unprivileged children must traverse
  // the path), else under $FAULTFS_TEST_ROOT.
  explicit TempDir(const std::string& prefix = "t", const std::string& base = "");
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  std::string operator/(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

struct CommandResult {
  int exit_code = -1;  // -signal if killed by a signal
  std::string out;
  std::string err;
};
// Runs argv (no shell) with an optional extra environment, capturing both streams.
CommandResult RunCommand(const std::vector<std::string>& argv,
                         const std::vector<std::string>& env = {}, double timeout_s = 60);
CommandResult RunShell(const std::string& script, double timeout_s = 60);

// Whole-file helpers (binary).
std::string ReadFile(const std::string& path);
void WriteFile(const std::string& path, const std::string& data);

// The control socket of the faultfs mount at `mountpoint` (from `faultfs status --json`), "" if
// there is none.
std::string ControlSocketOf(const std::string& mountpoint);
// Sends `request` straight to the mount's control socket, past the checks `faultfs ctl` makes
// before sending: what the daemon itself does with whatever a socket peer sends. The daemon's
// reply, or {"ok": false, "error": why it could not be reached}.
nlohmann::json SendToMount(const std::string& mountpoint, const nlohmann::json& request);

// The count of one kind of request in the daemon's statistics ("write=12 getxattr=3 ...").
uint64_t RequestCount(const std::string& mountpoint, const std::string& op);

// Whether the mount's files may be served by the kernel in passthrough (`ctl status`).
bool PassthroughOn(const std::string& mountpoint);

// True when `path` is the root of a FUSE mount (statfs type), the proof a test really runs on
// faultfs and not on the plain disk.
bool IsFuseMount(const std::string& path);

// A faultfs mount for one test. Start() mounts (background daemon) and checks it is FUSE; the
// destructor unmounts and waits for the daemon whatever happened in between.
class FaultfsMount {
 public:
  FaultfsMount() = default;
  ~FaultfsMount();
  FaultfsMount(const FaultfsMount&) = delete;
  FaultfsMount& operator=(const FaultfsMount&) = delete;

  // Mounts `backing` on `mountpoint` (in place when they are equal) with extra CLI arguments,
  // the command run through `launcher` when given (e.g. {"prlimit", "--nofile=2000"}).
  // Returns an empty string on success, else the reason.
  std::string Start(const std::string& backing, const std::string& mountpoint,
                    const std::vector<std::string>& extra_args = {},
                    const std::vector<std::string>& launcher = {});
  // Unmounts through `faultfs umount`; returns its result.
  CommandResult Stop();
  // Fails the running test if the daemon's log holds a sanitizer report or a failed invariant.
  void ExpectCleanLog() const;
  pid_t daemon_pid() const { return pid_; }
  const std::string& mountpoint() const { return mountpoint_; }
  const std::string& log_file() const { return log_file_; }

 private:
  std::string mountpoint_;
  std::string log_file_;
  pid_t pid_ = 0;
};

// Lazily detaches every faultfs mount under `root` and kills its daemon.
void DetachMountsUnder(const std::string& root);

// Ends the faultfs mount at `mountpoint`, if there is one, even when its daemon is stuck: aborts
// its FUSE connection (whatever waits on it fails at once) and detaches it.
void AbortFuseMount(const std::string& mountpoint);

}  // namespace faultfs::testing
