// Mounting without root: the setuid helper fusermount3 (as every FUSE tool does for users who
// cannot open /dev/fuse or call mount(2)) mounts, hands the daemon the FUSE device descriptor over
// a socket, and unmounts. A mount made this way serves through /dev/fuse (FUSE over io_uring and
// the fuse module's switches need root), and files are created as the user who mounted.
#pragma once

#include <string>

#include "faultfs/core/status.h"
#include "faultfs/core/unique_fd.h"

namespace faultfs::fs {

// Whether this process mounts through fusermount3 (it is not root).
bool MountsThroughFusermount();

// Mounts a FUSE filesystem of `backing` on `mountpoint` through fusermount3; the device
// descriptor of the new connection.
Result<UniqueFd> FusermountMount(const std::string& backing, const std::string& mountpoint,
                                 bool allow_other);

// Unmounts `mountpoint` through fusermount3; `lazy`: detached at once (as umount2 MNT_DETACH).
Status FusermountUnmount(const std::string& mountpoint, bool lazy = true);

}  // namespace faultfs::fs
