#include "faultfs/core/shell_host.h"

#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cmath>
#include <fstream>

#include "faultfs/core/process.h"

namespace faultfs {

namespace {

// The host: reads NAME=VALUE lines from fd 3 and exports them; an empty line runs the command
// ($1) in a subshell in $3 with output to $2, and writes its exit status to fd 4. The subshell
// closes both descriptors (a run must not read the next run's variables or fake a status), and
// empties the positional parameters and the host's one variable before the command, so that it
// starts as `sh -c` would start it.
std::string HostScript(const ShellHostSpec& spec) {
  const std::string cd = spec.cwd.empty() ? "" : "cd -- \"$3\" || exit 127; ";
  const std::string redirect = spec.output.empty() ? "" : " >\"$2\" 2>&1";
  return "while IFS= read -r faultfs_line <&3; do\n"
         "  if [ -n \"$faultfs_line\" ]; then export \"$faultfs_line\"; continue; fi\n"
         "  ( " +
         cd + "eval \"unset faultfs_line; set --; $1\" ) 3<&- 4>&-" + redirect +
         "\n"
         "  echo \"$?\" >&4\n"
         "done\n";
}

bool ValidName(const std::string& name) {
  if (name.empty() || (std::isdigit(static_cast<unsigned char>(name[0])) != 0)) return false;
  for (char c : name) {
    if (std::isalnum(static_cast<unsigned char>(c)) == 0 && c != '_') return false;
  }
  return true;
}

// Kills everything under the shell, in its process group or not: a server a run started may have
// left the group (setsid, as daemons and pg_ctl do). The shell is a subreaper and still up, so
// what a killed process leaves running comes to it and the next round finds it. Bounded: what
// still forks after the last round dies with the group below, unless it left the group too.
void KillDescendants(pid_t shell) {
  for (int round = 0; round < 50; ++round) {
    const std::vector<pid_t> left = LiveDescendants(shell);
    if (left.empty()) return;
    for (pid_t p : left) kill(p, SIGKILL);
  }
}

}  // namespace

Status ShellHost::Start() {
  int to[2];
  int from[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, to) != 0)
    return Status::FromErrno(errno, "starting the checker's shell");
  UniqueFd to_ours(to[0]);
  UniqueFd to_theirs(to[1]);
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, from) != 0)
    return Status::FromErrno(errno, "starting the checker's shell");
  UniqueFd from_ours(from[0]);
  UniqueFd from_theirs(from[1]);
  SubprocessSpec shell;
  shell.argv = {"/bin/sh", "-c", HostScript(spec_), "sh", spec_.command, spec_.output, spec_.cwd};
  shell.env = spec_.env;
  shell.pass_fds = {to_theirs.get(), from_theirs.get()};
  shell.subreaper = true;
  auto pid = SpawnSubprocess(shell);
  if (!pid.ok()) return pid.status();
  pid_ = *pid;
  to_shell_ = std::move(to_ours);
  from_shell_ = std::move(from_ours);
  ++shells_started_;
  return Status::Ok();
}

SubprocessResult ShellHost::Stop() {
  if (pid_ < 0) return {};
  KillDescendants(pid_);
  kill(-pid_, SIGKILL);  // the shell and anything a run left in its group
  int status = 0;
  while (waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
  }
  pid_ = -1;
  to_shell_.reset();
  from_shell_.reset();
  pending_.clear();
  return SubprocessResult::FromWaitStatus(status);
}

Status ShellHost::Send(const std::vector<std::pair<std::string, std::string>>& vars) {
  std::string message;
  for (const auto& [name, value] : vars) message += name + "=" + value + "\n";
  message += "\n";
  for (size_t sent = 0; sent < message.size();) {
    const ssize_t n =
        send(to_shell_.get(), message.data() + sent, message.size() - sent, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Status::FromErrno(errno, "talking to the checker's shell");
    sent += static_cast<size_t>(n);
  }
  return Status::Ok();
}

Result<std::string> ShellHost::ReadStatus(bool& timed_out) {
  using Clock = std::chrono::steady_clock;
  const auto deadline =
      Clock::now() + std::chrono::duration_cast<Clock::duration>(
                         std::chrono::duration<double>(spec_.timeout_s > 0 ? spec_.timeout_s : 0));
  timed_out = false;
  for (size_t nl = 0; (nl = pending_.find('\n')) == std::string::npos;) {
    int wait_ms = -1;
    if (spec_.timeout_s > 0) {
      const auto left = std::chrono::duration<double, std::milli>(deadline - Clock::now()).count();
      if (left <= 0) {
        timed_out = true;
        return std::string();
      }
      wait_ms = static_cast<int>(std::ceil(left));
    }
    pollfd p{from_shell_.get(), POLLIN, 0};
    const int ready = poll(&p, 1, wait_ms);
    if (ready < 0 && errno == EINTR) continue;
    if (ready < 0) return Status::FromErrno(errno, "waiting for the checker");
    if (ready == 0) continue;  // the deadline check above ends it
    char buf[64];
    const ssize_t n = read(from_shell_.get(), buf, sizeof(buf));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return std::string();  // the shell ended
    pending_.append(buf, static_cast<size_t>(n));
  }
  const size_t nl = pending_.find('\n');
  std::string line = pending_.substr(0, nl);
  pending_.erase(0, nl + 1);
  return line;
}

bool ShellHost::LeftSomethingRunning() const {
  const std::string self = std::to_string(pid_);
  std::ifstream children("/proc/" + self + "/task/" + self + "/children");
  if (!children) return true;  // cannot tell: start afresh rather than risk it
  std::string pid;
  return static_cast<bool>(children >> pid);
}

Result<SubprocessResult> ShellHost::Run(
    const std::vector<std::pair<std::string, std::string>>& vars) {
  for (const auto& [name, value] : vars) {
    if (!ValidName(name) || value.find_first_of(std::string("\n\0", 2)) != std::string::npos)
      return Status::Invalid("not a variable the checker's shell can be given: '" + name + "'");
  }
  if (pid_ < 0) FAULTFS_RETURN_IF_ERROR(Start());
  if (Status sent = Send(vars); !sent.ok()) {
    // The shell ended between runs (a run killed it after reporting): one new shell, once.
    Stop();
    FAULTFS_RETURN_IF_ERROR(Start());
    FAULTFS_RETURN_IF_ERROR(Send(vars));
  }
  bool timed_out = false;
  auto line = ReadStatus(timed_out);
  if (!line.ok()) {
    Stop();
    return line.status();
  }
  if (timed_out) {
    Stop();
    SubprocessResult r;
    r.timed_out = true;
    return r;
  }
  int code = -1;
  const auto [end, err] = std::from_chars(line->data(), line->data() + line->size(), code);
  if (line->empty() || err != std::errc() || end != line->data() + line->size()) {
    return Stop();  // the run ended the shell itself: its end is the run's
  }
  if (LeftSomethingRunning()) Stop();
  SubprocessResult r;
  r.exit_code = code;
  return r;
}

}  // namespace faultfs
