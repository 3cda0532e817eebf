#include "open_reply_patch.h"

#include <linux/fuse.h>

#include <cstring>

#include "fuse_uring_abi.h"

namespace faultfs::fs {

namespace abi = uring_abi;

bool OpenReplyPatch::Apply(const iovec* iov, int count, std::vector<char>& patched) {
  if (backing_id_ <= 0 || count != 2 || iov[0].iov_len < sizeof(fuse_out_header)) return false;
  fuse_out_header out{};
  std::memcpy(&out, iov[0].iov_base, sizeof(out));
  if (out.error != 0 || iov[1].iov_len < sizeof(abi::OpenOut)) return false;
  const auto* arg = static_cast<const char*>(iov[1].iov_base);
  patched.assign(arg, arg + iov[1].iov_len);
  // fuse_open_out ends the argument of both replies (after fuse_entry_out in create's).
  char* at = patched.data() + patched.size() - sizeof(abi::OpenOut);
  abi::OpenOut open_out{};
  std::memcpy(&open_out, at, sizeof(open_out));
  // The kernel refuses passthrough beside any flag but these (FOPEN_PASSTHROUGH_MASK), and
  // direct_io would only be ignored: the open fails with EIO when one is left.
  open_out.open_flags =
      (open_out.open_flags & abi::kOpenFlagsKeptInPassthrough) | abi::kOpenPassthrough;
  open_out.backing_id = backing_id_;
  std::memcpy(at, &open_out, sizeof(open_out));
  backing_id_ = 0;  // one reply only
  return true;
}

}  // namespace faultfs::fs
