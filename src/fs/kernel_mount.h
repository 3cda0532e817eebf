// The kernel side of a mount made as root: the FUSE device, mount(2), the fuse module's io_uring
// switch, the mount's readahead, and aborting a connection. (Without root, fusermount.h.)
#pragma once

#include <string>

#include "faultfs/core/mountinfo.h"
#include "faultfs/core/status.h"
#include "faultfs/core/unique_fd.h"

namespace faultfs::fs {

Result<UniqueFd> OpenFuseDevice();

// An error naming `mountpoint` when a FUSE filesystem is mounted there already.
Status CheckNotMounted(const std::string& mountpoint);

// Mounts the FUSE connection `dev_fd` on `mountpoint` (what libfuse's mount helper would do; the
// daemon mounts itself so that it owns the device descriptor and its replies' route).
Status KernelMount(const std::string& backing, const std::string& mountpoint, int dev_fd,
                   bool allow_other);

// FUSE over io_uring needs the fuse module's enable_uring switch (off by default). True when it
// is on, or was switched on now; false when this kernel has no such transport.
bool EnableKernelUring();

// The mount's default readahead follows the backing device's, up to this: larger FUSE windows
// measured slower (cold 1 GiB read over a disk with 8 MiB readahead: 2-4 MiB windows 1080-1170
// MiB/s, 8 MiB 870-900; a window's READs, 1 MiB each, all queue on the reader's CPU at once). The
// backing file's own readahead keeps the disk ahead of the daemon either way.
constexpr unsigned kMaxDefaultReadAheadKb = 4096;

// The readahead window of the block device holding the open directory `dir_fd`, from sysfs; 0 if
// unknown (tmpfs...). Uses the descriptor: for an in-place mount the path would reach the mount.
unsigned BackingReadAheadKb(int dir_fd);

// Sets the mount's readahead (its bdi is named after the mount's device number).
void SetMountReadAhead(const std::string& mountpoint, unsigned kb);

// Aborts the FUSE connection: pending and future requests fail with ENOTCONN at once. Used only
// when a second stop signal says not to wait for open files on a detached mount.
void AbortConnection(const MountEntry& mount);

}  // namespace faultfs::fs
