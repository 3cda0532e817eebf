#include "op_stats.h"

namespace faultfs::fs {

const char* FuseOpName(FuseOp op) {
  static constexpr const char* kNames[] = {
      "lookup",    "forget",          "getattr",  "setattr",     "readlink",    "mknod",
      "mkdir",     "unlink",          "rmdir",    "symlink",     "rename",      "link",
      "open",      "create",          "read",     "write",       "flush",       "release",
      "fsync",     "opendir",         "readdir",  "readdirplus", "releasedir",  "fsyncdir",
      "statfs",    "setxattr",        "getxattr", "listxattr",   "removexattr", "access",
      "fallocate", "copy_file_range", "lseek"};
  static_assert(sizeof(kNames) / sizeof(kNames[0]) == static_cast<size_t>(FuseOp::kCount));
  return kNames[static_cast<size_t>(op)];
}

std::string OpStats::Summary() const {
  std::string out;
  for (size_t i = 0; i < counts_.size(); ++i) {
    const uint64_t n = counts_[i].load(std::memory_order_relaxed);
    if (n == 0) continue;
    if (!out.empty()) out += ' ';
    out += std::string(FuseOpName(static_cast<FuseOp>(i))) + "=" + std::to_string(n);
  }
  return out.empty() ? "none" : out;
}

}  // namespace faultfs::fs
