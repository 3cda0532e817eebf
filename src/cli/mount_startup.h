// The startup of a background mount. The daemon tells the waiting `faultfs mount` what it is doing
// (one stage after another), then that it is ready (with the line to print) or why it failed. The
// waiting side allows each stage a time limit, so a startup that hangs ends with an error naming
// what it waited for, instead of never.
#pragma once

#include <sys/types.h>

#include <string>

namespace faultfs::cli {

// The daemon's side, over the write end of a pipe.
class StartupReport {
 public:
  explicit StartupReport(int fd) : fd_(fd) {}
  void Stage(const std::string& what) { Send('S', what); }
  // Where the mount will be, resolved, before it is made: the waiting side takes down a mount
  // left by a daemon it had to stop.
  void Target(const std::string& mountpoint, const std::string& backing) {
    Send('P', mountpoint + '\n' + backing);
  }
  // Printed by the waiting side at once, as a warning.
  void Warn(const std::string& what) { Send('W', what); }
  // Ends the report (the pipe is closed).
  void Ready(const std::string& line) { Send('O', line, true); }
  void Fail(const std::string& why) { Send('E', why, true); }

 private:
  void Send(char kind, const std::string& text, bool last = false);
  int fd_;
};

struct StartupWait {
  pid_t daemon = 0;
  int fd = -1;                 // the read end of the pipe
  double stage_timeout_s = 0;  // the longest any one stage may take
};

// Waits for the daemon's report and prints its outcome; returns the exit code of `faultfs mount`.
// A daemon that stays in one stage too long is stopped, and a mount it made is taken down.
int AwaitStartup(const StartupWait& wait);

}  // namespace faultfs::cli
