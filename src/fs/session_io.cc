#include "session_io.h"

#include <linux/fuse.h>
#include <unistd.h>

#include <vector>

#include "fuse_uring_abi.h"
#include "open_reply_patch.h"
#include "passthrough.h"
#include "uring_transport.h"

namespace faultfs::fs {

ssize_t RouteReply(int fd, struct iovec* iov, int count, void* userdata) {
  auto* fs = static_cast<Passthrough*>(userdata);
  // INIT's reply asks for what libfuse 3.14 cannot: a shared mmap of the files that data rules
  // serve direct_io, the set-id bits killed by the daemon (see Passthrough::Init), and kernel
  // passthrough; an open's reply may carry a backing file (open_reply_patch.h).
  std::vector<char> patched;
  iovec amended[2];
  const auto* out = static_cast<const fuse_out_header*>(iov[0].iov_base);
  const uint32_t depth = fs->passthrough_depth();
  const InitFlags wanted{.flags = FUSE_HANDLE_KILLPRIV_V2,
                         .flags2 = uring_abi::kDirectIoAllowMmapFlags2 |
                                   (depth > 0 ? uring_abi::kPassthroughFlags2 : 0),
                         .max_stack_depth = depth};
  const bool init = fs->init_patch().IsInitReply(out->unique) &&
                    fs->init_patch().AddFlags(iov, count, wanted, patched);
  if (init || OpenReplyPatch::Apply(iov, count, patched)) {
    amended[0] = iov[0];
    amended[1] = {patched.data(), patched.size()};
    iov = amended;
    count = 2;
  }
  if (fs->uring() != nullptr) return fs->uring()->Route(iov, count);
  return writev(fd, iov, count);
}

ssize_t ReadRequest(int fd, void* buf, size_t len, void*) { return read(fd, buf, len); }

}  // namespace faultfs::fs
