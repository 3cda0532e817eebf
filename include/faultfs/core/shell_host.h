// Running one shell command many times, fast: a /bin/sh that stays up and runs the command in a
// fresh subshell each time. Starting `sh -c CMD` anew costs a fork and an exec (most of the time
// of a short checker); a subshell of a running shell costs a fork. Each run is still its own: a
// subshell's variables, directory and traps die with it, its output goes to a file truncated for
// it, it has a timeout, and whatever it leaves running is killed before the next run (the shell
// adopts what its runs leave behind, and then it, every process under it (in its process group
// or not: a daemon's setsid does not take it out of reach) and its group are killed, and a new
// shell takes over), as RunSubprocess does for one command.
#pragma once

#include <sys/types.h>

#include <string>
#include <utility>
#include <vector>

#include "faultfs/core/status.h"
#include "faultfs/core/subprocess.h"
#include "faultfs/core/unique_fd.h"

namespace faultfs {

struct ShellHostSpec {
  std::string command;  // run as by `sh -c` (no positional parameters)
  std::string cwd;      // each run starts here ("" = the caller's directory)
  std::vector<std::pair<std::string, std::string>> env;  // the same for every run
  std::string output;    // each run's stdout and stderr, the file truncated per run
  double timeout_s = 0;  // per run; 0 = none
};

class ShellHost {
 public:
  explicit ShellHost(ShellHostSpec spec) : spec_(std::move(spec)) {}
  ~ShellHost() { Stop(); }
  ShellHost(const ShellHost&) = delete;
  ShellHost& operator=(const ShellHost&) = delete;

  // Runs the command once, with `vars` exported on top of the spec's environment. A name is
  // [A-Za-z_][A-Za-z0-9_]*, a value has no newline or NUL. Give the same names on every run: a
  // run sees the values of the last run that set them.
  Result<SubprocessResult> Run(const std::vector<std::pair<std::string, std::string>>& vars);

  // Starts the shell now, if it is not up, so that its start overlaps what the caller does
  // before the first Run (building the first state). Run starts it otherwise.
  Status Prepare() { return pid_ < 0 ? Start() : Status::Ok(); }

  // The host shells started so far (one, unless runs timed out, left something running or
  // killed the shell): for tests.
  int shells_started() const { return shells_started_; }

 private:
  Status Start();
  // Kills the shell with its process group and reaps it; its status when it had already ended.
  SubprocessResult Stop();
  Status Send(const std::vector<std::pair<std::string, std::string>>& vars);
  // The run's status line from the shell; "" when the shell ended or the timeout came first
  // (then `timed_out`).
  Result<std::string> ReadStatus(bool& timed_out);
  bool LeftSomethingRunning() const;

  const ShellHostSpec spec_;
  pid_t pid_ = -1;
  UniqueFd to_shell_;    // the variables of each run, then an empty line: "run"
  UniqueFd from_shell_;  // each run's exit status, a line
  std::string pending_;  // read from from_shell_ past the last status line
  int shells_started_ = 0;
};

}  // namespace faultfs
