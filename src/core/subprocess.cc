#include "faultfs/core/subprocess.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstring>
#include <fstream>

#include "faultfs/core/check.h"

extern char** environ;

namespace faultfs {

namespace {

// The environment for the child: the caller's with `extra` set on top.
std::vector<std::string> ChildEnvironment(
    const std::vector<std::pair<std::string, std::string>>& extra) {
  std::vector<std::string> env;
  for (char** e = environ; *e != nullptr; ++e) {
    const std::string_view entry(*e);
    bool replaced = false;
    for (const auto& [k, v] : extra) replaced |= entry.starts_with(k + "=");
    if (!replaced) env.emplace_back(entry);
  }
  for (const auto& [k, v] : extra) env.push_back(k + "=" + v);
  return env;
}

// In the child: only async-signal-safe calls between vfork and exec, and nothing that writes the
// parent's memory (the child runs on it until it execs).
[[noreturn]] void ExecChild(const SubprocessSpec& spec, int out_fd, char* const argv[],
                            char* const envp[]) {
  // Signals the parent ignores (SIGPIPE) stay ignored across exec; a command expects defaults.
  setpgid(0, 0);
  if (spec.subreaper) prctl(PR_SET_CHILD_SUBREAPER, 1);  // kept across exec
  if (out_fd >= 0) {
    dup2(out_fd, STDOUT_FILENO);
    dup2(out_fd, STDERR_FILENO);
  }
  // The passed descriptors go to 3, 4, ... by way of numbers above them, so that one whose
  // number is another's target is not overwritten before it is moved.
  constexpr int kAbove = 100;
  const int passed = static_cast<int>(spec.pass_fds.size());
  for (int i = 0; i < passed; ++i) dup2(spec.pass_fds[static_cast<size_t>(i)], kAbove + i);
  for (int i = 0; i < passed; ++i) dup2(kAbove + i, 3 + i);
  // Nothing else crosses: an inherited socket would keep a connection open after its owner
  // closed it (a proxy's close never reached the node on the other side), an inherited log
  // descriptor lets a command write where it must not.
  syscall(SYS_close_range, static_cast<unsigned>(3 + passed), ~0U, 0U);
  if (!spec.cwd.empty() && chdir(spec.cwd.c_str()) != 0) {
    static const char kMsg[] = "faultfs: cannot enter the command's directory\n";
    (void)!write(STDERR_FILENO, kMsg, sizeof(kMsg) - 1);
    _exit(127);
  }
  signal(SIGPIPE, SIG_DFL);
  execve(argv[0], argv, envp);
  _exit(127);
}

// Waits up to `timeout_s` (0 = forever) for `pid`; false on timeout.
bool WaitExit(pid_t pid, double timeout_s) {
  if (timeout_s <= 0) return true;
  const int pidfd = static_cast<int>(syscall(SYS_pidfd_open, pid, 0));
  if (pidfd < 0) return true;
  pollfd p{pidfd, POLLIN, 0};
  int res = 0;
  do {
    res = poll(&p, 1, static_cast<int>(std::ceil(timeout_s * 1000)));
  } while (res < 0 && errno == EINTR);
  close(pidfd);
  return res != 0;
}

}  // namespace

SubprocessResult SubprocessResult::FromWaitStatus(int status) {
  SubprocessResult r;
  if (WIFEXITED(status)) r.exit_code = WEXITSTATUS(status);
  if (WIFSIGNALED(status)) r.signal = WTERMSIG(status);
  return r;
}

namespace {
// "Killed" for SIGKILL. strsignal may format an unknown number into storage all threads share.
std::string SignalText(int signal) {
  const char* text = sigdescr_np(signal);
  return text != nullptr ? text : "unknown signal";
}
}  // namespace

std::string SubprocessResult::Describe() const {
  if (timed_out) return "timed out";
  if (signal != 0)
    return std::string("killed by signal ") + std::to_string(signal) + " (" + SignalText(signal) +
           ")";
  std::string text = "exit " + std::to_string(exit_code);
  // A shell reports a command that a signal killed as 128 + the signal.
  if (exit_code > 128 && exit_code < 128 + NSIG) {
    text += " (a shell's way of saying 'killed by signal " + std::to_string(exit_code - 128) +
            " (" + SignalText(exit_code - 128) + ")')";
  }
  return text;
}

Result<pid_t> SpawnSubprocess(const SubprocessSpec& spec) {
  FAULTFS_CHECK(spec.pass_fds.size() <= 4);
  const int out_fd = spec.output.empty() ? -1
                                         : open(spec.output.c_str(),
                                                O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (!spec.output.empty() && out_fd < 0)
    return Status::FromErrno(errno, "creating '" + spec.output + "'");
  std::vector<std::string> env = ChildEnvironment(spec.env);
  std::vector<char*> envp;
  for (auto& e : env) envp.push_back(e.data());
  envp.push_back(nullptr);
  std::vector<std::string> args = spec.argv;
  if (args.empty()) args = {"/bin/sh", "-c", spec.command};
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  // vfork: copying the page tables of a large parent (fork) costs more than running a short
  // checker; the parent waits here until the child has exec'd or exited.
  const pid_t pid = vfork();
  if (pid < 0) {
    const int err = errno;
    if (out_fd >= 0) close(out_fd);
    return Status::FromErrno(
        err, "starting '" + (spec.argv.empty() ? spec.command : spec.argv[0]) + "'");
  }
  if (pid == 0) ExecChild(spec, out_fd, argv.data(), envp.data());
  if (out_fd >= 0) close(out_fd);
  setpgid(pid, pid);  // also here, so the group exists before we might signal it
  return pid;
}

Result<SubprocessResult> WaitSubprocess(pid_t pid, double timeout_s) {
  SubprocessResult result;
  if (!WaitExit(pid, timeout_s)) {
    result.timed_out = true;
    kill(-pid, SIGKILL);
  }
  int status = 0;
  while (waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR)
      return Status::FromErrno(errno, "waiting for process " + std::to_string(pid));
  }
  kill(-pid, SIGKILL);  // anything the command left running in its group
  const SubprocessResult ended = SubprocessResult::FromWaitStatus(status);
  result.exit_code = ended.exit_code;
  result.signal = ended.signal;
  return result;
}

Result<SubprocessResult> RunSubprocess(const SubprocessSpec& spec) {
  auto pid = SpawnSubprocess(spec);
  if (!pid.ok()) return pid.status();
  return WaitSubprocess(*pid, spec.timeout_s);
}

std::string FileTail(const std::string& path, size_t max_bytes) {
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  if (!in) return {};
  const auto size = static_cast<size_t>(in.tellg());
  const size_t from = size > max_bytes ? size - max_bytes : 0;
  in.seekg(static_cast<std::streamoff>(from));
  std::string tail(size - from, '\0');
  in.read(tail.data(), static_cast<std::streamsize>(tail.size()));
  if (from > 0) {
    const size_t nl = tail.find('\n');
    if (nl != std::string::npos && nl + 1 < tail.size()) tail.erase(0, nl + 1);
  }
  return tail;
}

}  // namespace faultfs
