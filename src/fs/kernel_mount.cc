#include "kernel_mount.h"

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>

#include "faultfs/core/errno_names.h"

namespace faultfs::fs {

Result<UniqueFd> OpenFuseDevice() {
  UniqueFd fd(open("/dev/fuse", O_RDWR | O_CLOEXEC));
  if (fd) return fd;
  return Status::FromErrno(errno, "cannot open /dev/fuse (FUSE needs the fuse module and root)");
}

Status CheckNotMounted(const std::string& mountpoint) {
  auto m = FindMount(mountpoint);
  if (m && IsFuse(*m)) {
    return Status::Invalid("mountpoint '" + mountpoint + "' is busy: already a FUSE mount (" +
                           m->fstype + " of " + m->source + "); unmount it first with " +
                           "'faultfs umount " + mountpoint + "'");
  }
  return Status::Ok();
}

Status KernelMount(const std::string& backing, const std::string& mountpoint, int dev_fd,
                   bool allow_other) {
  std::string data = "fd=" + std::to_string(dev_fd) +
                     ",rootmode=40000,user_id=" + std::to_string(getuid()) +
                     ",group_id=" + std::to_string(getgid()) + ",default_permissions";
  if (allow_other) data += ",allow_other";
  if (mount(backing.c_str(), mountpoint.c_str(), "fuse.faultfs", MS_NOSUID | MS_NODEV,
            data.c_str()) != 0) {
    return Status::FromErrno(errno, "mounting on '" + mountpoint + "'");
  }
  return Status::Ok();
}

bool EnableKernelUring() {
  const char* param = "/sys/module/fuse/parameters/enable_uring";
  std::ifstream in(param);
  std::string value;
  if (!(in >> value)) return false;
  if (value == "Y") return true;
  std::ofstream out(param);
  if (!(out << "Y" << std::flush)) return false;
  spdlog::info("switched the fuse module's enable_uring on (--transport dev avoids this)");
  return true;
}

unsigned BackingReadAheadKb(int dir_fd) {
  struct stat st {};
  if (fstat(dir_fd, &st) != 0) return 0;
  const std::string dev =
      "/sys/dev/block/" + std::to_string(major(st.st_dev)) + ":" + std::to_string(minor(st.st_dev));
  for (const char* queue :
       {"/queue/read_ahead_kb", "/../queue/read_ahead_kb"}) {  // disk, partition
    std::ifstream in(dev + queue);
    unsigned kb = 0;
    if (in >> kb) return kb;
  }
  return 0;
}

void SetMountReadAhead(const std::string& mountpoint, unsigned kb) {
  const auto mount = FindMount(mountpoint);
  if (!mount || kb == 0) return;
  const std::string file = "/sys/class/bdi/" + std::to_string(mount->dev_major) + ":" +
                           std::to_string(mount->dev_minor) + "/read_ahead_kb";
  std::ofstream out(file);
  if (!(out << kb << "\n" << std::flush)) {
    spdlog::warn("could not set readahead ({}): {}", file, ErrnoText(errno));
    return;
  }
  spdlog::info("readahead {} KiB", kb);
}

void AbortConnection(const MountEntry& mount) {
  const std::string connections = "/sys/fs/fuse/connections";
  const std::string dir = connections + "/" + std::to_string(mount.dev_minor);
  struct stat st {};
  // The control filesystem is not mounted everywhere (it was not on these VMs): without it there
  // is no abort file, and the abort silently did nothing.
  if (stat(dir.c_str(), &st) != 0 &&
      ::mount("fusectl", connections.c_str(), "fusectl", 0, nullptr) != 0) {
    spdlog::warn("cannot abort FUSE connection {}: mounting fusectl on {}: {}", mount.dev_minor,
                 connections, ErrnoText(errno));
    return;
  }
  std::ofstream abort_file(dir + "/abort");
  abort_file << "1";
}

}  // namespace faultfs::fs
