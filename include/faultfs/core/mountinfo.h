// Reading /proc/self/mountinfo: which mounts exist, their type and device. Used to refuse busy
// mountpoints, to find a daemon's connection, and by tests to prove they run on a FUSE mount.
#pragma once

#include <optional>
#include <string>
#include <vector>

namespace faultfs {

struct MountEntry {
  std::string mount_point;  // absolute path, unescaped
  std::string fstype;       // e.g. "fuse.faultfs", "ext4"
  std::string source;       // e.g. the backing directory for faultfs mounts
  unsigned dev_major = 0;
  unsigned dev_minor = 0;  // for FUSE: the connection number in /sys/fs/fuse/connections
};

std::vector<MountEntry> ReadMounts();
// The mount that `path` shows now (the last one mounted there), if `path` is a mount point.
std::optional<MountEntry> FindMount(const std::string& path);
inline bool IsFuse(const MountEntry& m) { return m.fstype.rfind("fuse", 0) == 0; }

}  // namespace faultfs
