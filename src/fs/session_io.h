// The libfuse session's custom I/O (fuse_custom_io): how requests are read and replies written.
// Replies are amended on their way out where libfuse 3.14 cannot say what faultfs means (INIT's
// capabilities, an open's backing file), and go through the io_uring transport when it is set.
#pragma once

#include <sys/types.h>
#include <sys/uio.h>

#include <cstddef>

namespace faultfs::fs {

// The session's writev; `userdata` is the mount's Passthrough.
ssize_t RouteReply(int fd, struct iovec* iov, int count, void* userdata);
ssize_t ReadRequest(int fd, void* buf, size_t len, void* userdata);

}  // namespace faultfs::fs
