// `faultfs umount`: unmounts a faultfs mount and waits until its daemon has exited, so that
// every backing descriptor is closed when the command returns.
#include <poll.h>
#include <sys/mount.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <memory>

#include "commands.h"
#include "faultfs/core/mountinfo.h"
#include "faultfs/core/process.h"
#include "faultfs/fs/mount.h"
#include "registry.h"

namespace faultfs::cli {

namespace {

struct UmountArgs {
  std::string mountpoint;
  bool lazy = false;
  double timeout_s = 30.0;
};

// realpath() fails on a stale FUSE mount (ENOTCONN), so fall back to a lexical absolute path.
std::string AbsolutePath(const std::string& path) {
  char resolved[PATH_MAX];
  if (realpath(path.c_str(), resolved) != nullptr) return resolved;
  return std::filesystem::absolute(path).lexically_normal().string();
}

bool IsFaultfsDaemon(pid_t pid) { return ProcessRunning(pid) && ProcessName(pid) == "faultfs"; }

// Waits for `pid` to exit; false on timeout.
bool WaitForExit(pid_t pid, double timeout_s) {
  const int pidfd = static_cast<int>(syscall(SYS_pidfd_open, pid, 0));
  if (pidfd < 0) return true;  // already gone
  pollfd p{pidfd, POLLIN, 0};
  int res = 0;
  do {
    res = poll(&p, 1, static_cast<int>(timeout_s * 1000));
  } while (res < 0 && errno == EINTR);
  close(pidfd);
  return res > 0;
}

int RunUmount(const UmountArgs& a) {
  const std::string path = AbsolutePath(a.mountpoint);
  const auto mount = FindMount(path);
  if (!mount) {
    std::cerr << "faultfs umount: '" << path << "' is not a mount point\n";
    return kExitFailure;
  }
  if (mount->fstype != "fuse.faultfs") {
    std::cerr << "faultfs umount: '" << path << "' is a " << mount->fstype
              << " mount, not faultfs; not touching it\n";
    return kExitFailure;
  }
  const auto record = ReadRecord(path);
  if (Status s = Unmount(path, a.lazy); !s.ok()) {
    std::cerr << "faultfs umount: " << s.ToString();
    if (s.code() == EBUSY) {
      std::cerr << " (a process has a file open or its working directory there; see 'fuser -vm "
                << path << "', or use --lazy to detach it now)";
    }
    std::cerr << "\n";
    return kExitFailure;
  }
  if (record && IsFaultfsDaemon(record->pid) && !WaitForExit(record->pid, a.timeout_s)) {
    std::cerr << "faultfs umount: unmounted '" << path << "', but daemon " << record->pid
              << " is still running after " << a.timeout_s << " s (files still open?)\n";
    return kExitFailure;
  }
  RemoveRecord(path);  // the daemon removes it too; a killed daemon cannot
  std::cout << "faultfs: unmounted " << path << std::endl;
  return kExitOk;
}

}  // namespace

Runner AddUmount(CLI::App& app) {
  auto a = std::make_shared<UmountArgs>();
  CLI::App* cmd = app.add_subcommand(
      "umount",
      "Unmount a faultfs mount and wait for its daemon to finish (also clears a stale mount)");
  cmd->add_option("MOUNTPOINT", a->mountpoint, "The mounted directory")->required();
  cmd->add_flag("-l,--lazy", a->lazy,
                "Detach now even if files are open; the daemon exits when they are closed");
  cmd->add_option("--timeout", a->timeout_s, "Seconds to wait for the daemon to exit")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  return [a] { return RunUmount(*a); };
}

}  // namespace faultfs::cli
