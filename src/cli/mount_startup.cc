#include "mount_startup.h"

#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <iostream>
#include <optional>
#include <thread>

#include "commands.h"
#include "faultfs/core/mountinfo.h"
#include "faultfs/fs/mount.h"

namespace faultfs::cli {

void StartupReport::Send(char kind, const std::string& text, bool last) {
  if (fd_ < 0) return;
  // One message per write, NUL-terminated: a pipe write this small is atomic.
  const std::string msg = kind + text + '\0';
  (void)!write(fd_, msg.data(), msg.size());
  if (last) {
    close(fd_);
    fd_ = -1;
  }
}

namespace {

using Clock = std::chrono::steady_clock;

// Where the daemon said it would mount ('P' message): mountpoint and backing, resolved.
struct Target {
  std::string mountpoint;
  std::string backing;
};

// The daemon did not get past a stage in time: it is stopped, and a mount it made taken down (its
// connection aborted first, so no one stays blocked on it).
void StopStuckDaemon(const StartupWait& w, const Target& t) {
  kill(w.daemon, SIGKILL);
  if (const auto m = t.mountpoint.empty() ? std::nullopt : FindMount(t.mountpoint);
      m && m->fstype == "fuse.faultfs" && m->source == t.backing) {
    const Status s = ForceUnmount(t.mountpoint);
    if (!s.ok()) std::cerr << "faultfs mount: " << s.ToString() << "\n";
  }
  // A daemon blocked in the kernel dies once the mount is gone; do not wait for it forever.
  const auto deadline = Clock::now() + std::chrono::seconds(5);
  while (waitpid(w.daemon, nullptr, WNOHANG) == 0 && Clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

int Failed(const StartupWait& w, const std::string& why) {
  int status = 0;
  waitpid(w.daemon, &status, 0);
  if (why.empty()) {
    std::cerr << "faultfs mount: the daemon exited during startup (status " << status << ")\n";
    return kExitFailure;
  }
  std::cerr << "faultfs mount: " << why << "\n";
  return WIFEXITED(status) && WEXITSTATUS(status) == kExitUsage ? kExitUsage : kExitFailure;
}

}  // namespace

int AwaitStartup(const StartupWait& w) {
  std::string buffer;
  std::string stage = "starting";
  Target target;
  auto stage_started = Clock::now();
  const auto limit = std::chrono::duration<double>(w.stage_timeout_s);
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        limit - (Clock::now() - stage_started));
    pollfd p{w.fd, POLLIN, 0};
    const int ready = left.count() > 0 ? poll(&p, 1, static_cast<int>(left.count()) + 1) : 0;
    if (ready < 0 && errno == EINTR) continue;
    if (ready == 0) {
      StopStuckDaemon(w, target);
      std::cerr << "faultfs mount: the daemon (pid " << w.daemon << ") was still " << stage
                << " after " << w.stage_timeout_s
                << " s; it was stopped and nothing stays mounted (raise --startup-timeout if "
                   "this step is slow here)\n";
      return kExitFailure;
    }
    char chunk[4096];
    const ssize_t n = read(w.fd, chunk, sizeof(chunk));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return Failed(w, "");
    buffer.append(chunk, static_cast<size_t>(n));
    for (size_t end = buffer.find('\0'); end != std::string::npos; end = buffer.find('\0')) {
      const std::string msg = buffer.substr(0, end);
      buffer.erase(0, end + 1);
      if (msg.empty()) continue;
      const std::string text = msg.substr(1);
      if (msg[0] == 'O') {
        std::cout << text << std::endl;
        return kExitOk;
      }
      if (msg[0] == 'E') return Failed(w, text);
      if (msg[0] == 'W') {
        std::cerr << "faultfs mount: warning: " << text << "\n";
        continue;
      }
      if (msg[0] == 'P') {
        const size_t nl = text.find('\n');
        target = {text.substr(0, nl), nl == std::string::npos ? "" : text.substr(nl + 1)};
        continue;
      }
      stage = text;
      stage_started = Clock::now();
    }
  }
}

}  // namespace faultfs::cli
