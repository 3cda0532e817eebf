#include "reply.h"

#include <spdlog/spdlog.h>

namespace faultfs::fs {

Reply::~Reply() {
  if (req_ == nullptr) return;
  spdlog::error("bug: a FUSE request was left without a reply; answering EIO");
  fuse_reply_err(req_, EIO);
}

}  // namespace faultfs::fs
