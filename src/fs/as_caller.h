// Creating as the caller. The daemon runs as root; what it creates for another user (create,
// mknod, mkdir, symlink, link) must be that user's from the first instant. Creating as root and
// chowning afterwards left a window: a watcher on the backing directory of an --allow-other mount
// saw a non-root user's new files root-owned, set-id and world-writable 118 times in 3,000
// creates, and opened 6 of them for writing before their owner was fixed.
//
// So the serving thread takes the caller's filesystem uid and gid around the system call
// (setfsuid and setfsgid act on the calling thread only), and the backing filesystem gives the new
// entry its owner, and its group (the caller's, or a setgid directory's), itself.
//
// Capabilities. Leaving fsuid 0 drops the filesystem capabilities from the thread's effective
// set. Three are raised again for the call: CAP_DAC_OVERRIDE and CAP_DAC_READ_SEARCH, because the
// kernel's FUSE layer has already checked the caller's access to the directory with all of the
// caller's groups (default_permissions), which this thread does not carry; and CAP_FSETID, because
// the kernel has also already cleared the set-id bits the caller may not set (umask applied too),
// so the mode arrives as the caller may have it and must not be cut again against root's groups.
#pragma once

#include <sys/types.h>

#include "faultfs/core/status.h"

namespace faultfs::fs {

class AsCaller {
 public:
  // Takes `uid` and `gid` as this thread's filesystem identity (nothing changes for the daemon's
  // own uid and gid); ok() says whether it did.
  AsCaller(uid_t uid, gid_t gid);
  ~AsCaller();  // back to the daemon's identity and capabilities
  AsCaller(const AsCaller&) = delete;
  AsCaller& operator=(const AsCaller&) = delete;
  const Status& status() const { return status_; }

 private:
  bool switched_uid_ = false;
  bool switched_gid_ = false;
  uid_t own_uid_;
  gid_t own_gid_;
  Status status_;
};

}  // namespace faultfs::fs
