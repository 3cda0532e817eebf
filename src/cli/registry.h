// The registry of live mounts: one directory per mountpoint under the runtime directory
// ($FAULTFS_RUNTIME_DIR, default /run/faultfs), holding mount.json (pid, backing, log file) and
// the daemon's default log. It lets `umount` wait for the right daemon and `status` list mounts.
// Never inside a mount.
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>
#include <vector>

#include "faultfs/core/status.h"

namespace faultfs::cli {

struct MountRecord {
  std::string mountpoint;
  std::string backing;
  pid_t pid = 0;
  std::string log_file;
  std::string started_at;      // ISO 8601, UTC
  uint64_t seed = 0;           // the fault policy's seed
  std::string control_socket;  // faultfs ctl talks to the daemon here
  std::string passthrough;     // "on (why)" or "off (why)", once the kernel answered INIT
};

// Where mount records, control sockets and logs go: $FAULTFS_RUNTIME_DIR, else /run/faultfs for
// root and $XDG_RUNTIME_DIR/faultfs (or /tmp/faultfs-UID) for a user.
std::string RuntimeDir();
// The registry directory for a mountpoint (created on demand).
Result<std::string> RecordDirFor(const std::string& mountpoint);
Status WriteRecord(const MountRecord& record);
std::optional<MountRecord> ReadRecord(const std::string& mountpoint);
void RemoveRecord(const std::string& mountpoint);
// A mount that ended well: its record, its default log (daemon.log) and its directory go, unless
// the record is no longer this process's (a new daemon for the same mountpoint took the directory
// over). A log given with --log-file is elsewhere and stays.
void RemoveRecordDir(const std::string& mountpoint);
std::vector<MountRecord> AllRecords();

}  // namespace faultfs::cli
