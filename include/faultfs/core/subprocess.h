// Running a user's command (a crashtest workload or checker): `sh -c CMD` in a directory, with
// extra environment, output to a file, in its own process group so that everything it started
// can be killed with it, and an optional timeout.
#pragma once

#include <sys/types.h>

#include <string>
#include <utility>
#include <vector>

#include "faultfs/core/status.h"

namespace faultfs {

struct SubprocessSpec {
  std::string command;            // run by /bin/sh -c, unless argv is set
  std::vector<std::string> argv;  // a program and its arguments, run directly
  std::string cwd;                // "" = the caller's
  std::vector<std::pair<std::string, std::string>> env;  // added to (or replacing in) the caller's
  std::string output;                                    // stdout and stderr go here ("" = inherit)
  double timeout_s = 0;                                  // 0 = none
  // The caller's descriptors the command gets, as 3, 4, ... (at most 4); it gets no others.
  std::vector<int> pass_fds;
  // The command adopts what its children leave running when they exit (PR_SET_CHILD_SUBREAPER):
  // a long-lived shell that runs commands can then see what they left (ShellHost).
  bool subreaper = false;
};

struct SubprocessResult {
  int exit_code = -1;      // when it exited
  int signal = 0;          // when a signal ended it
  bool timed_out = false;  // it was killed at the timeout
  // "exit 1", "killed by signal 9 (Killed)", "timed out"; an exit above 128 also says which
  // signal a shell reports that way.
  std::string Describe() const;
  // From a waitpid() status.
  static SubprocessResult FromWaitStatus(int status);
};

// Starts the command in its own process group (pid = process group id).
Result<pid_t> SpawnSubprocess(const SubprocessSpec& spec);
// Waits for a spawned command, killing its group at `timeout_s` (0 = no timeout). When the
// command exits, whatever it left running in its process group is killed too: a command is over
// when its shell is.
Result<SubprocessResult> WaitSubprocess(pid_t pid, double timeout_s);
// Spawn, then wait with the spec's timeout.
Result<SubprocessResult> RunSubprocess(const SubprocessSpec& spec);

// The last `max_bytes` of file `path` (whole lines where possible), for reports.
std::string FileTail(const std::string& path, size_t max_bytes);

}  // namespace faultfs
