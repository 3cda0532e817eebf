// Set-id bits killed by the daemon (FUSE_HANDLE_KILLPRIV_V2).
//
// Without it, the kernel asks the daemon for a file's security.capability xattr before every
// write (GETXATTR, a second round trip per write: FUSE caches neither the answer nor a "no
// security xattrs" state), to learn whether the write must remove it. With it, the kernel marks
// the inode as having nothing to remove (S_NOSEC) and leaves the removal to the daemon, telling
// it with each write, truncate and truncating open whose caller lacks CAP_FSETID.
//
// What the daemon then owes, as Linux does on a local filesystem:
// - security.capability goes on any write or truncate: the backing filesystem removes it itself
//   when the daemon writes (the removal does not depend on the writer's capabilities);
// - setuid, and setgid where group-execute is set or the caller is not in the file's group, go
//   when the kernel says the caller may not keep them (it lacks CAP_FSETID): the daemon writes as
//   root, which keeps them, so it clears them here.
#pragma once

#include <sys/types.h>

#include <functional>

#include "fuse_version.h"

namespace faultfs::fs {

// Whether the request being served (CurrentRequest) asks for the set-id bits to be killed: a
// WRITE with FUSE_WRITE_KILL_SUIDGID, a SETATTR with FATTR_KILL_SUIDGID, an OPEN or a CREATE
// with FUSE_OPEN_KILL_SUIDGID; and a SETATTR that sets nothing, which is what reaches the daemon
// when a caller without CAP_FSETID writes to a set-id file open in kernel passthrough (the kernel
// writes the backing file with the daemon's credentials, which keep the bits).
bool RequestKillsSetId();

// Clears what a write by a caller without CAP_FSETID clears on the regular file open as `fd` (any
// descriptor, O_PATH too): setuid, and setgid if group-execute is set or `caller_in_group` says
// the caller is not in the file's group. True if the mode changed.
bool KillSetId(int fd, const std::function<bool(gid_t)>& caller_in_group);

// Whether the caller of `req` has `gid` as its group or one of its supplementary groups.
bool CallerInGroup(fuse_req_t req, gid_t gid);

// KillSetId for the caller of `req`.
inline bool KillSetIdOf(fuse_req_t req, int fd) {
  return KillSetId(fd, [req](gid_t gid) { return CallerInGroup(req, gid); });
}

}  // namespace faultfs::fs
