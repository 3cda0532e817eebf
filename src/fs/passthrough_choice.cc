#include "passthrough_choice.h"

#include <linux/magic.h>
#include <sys/vfs.h>

namespace faultfs::fs {

namespace {

// Filesystems that stack on others: a backing file on one is one level deeper.
bool Stacked(int dir_fd) {
  struct statfs st {};
  if (fstatfs(dir_fd, &st) != 0) return false;
  const auto type = static_cast<unsigned long>(st.f_type);
  return type == OVERLAYFS_SUPER_MAGIC || type == ECRYPTFS_SUPER_MAGIC || type == FUSE_SUPER_MAGIC;
}

}  // namespace

PassthroughAsk AskForPassthrough(PassthroughMode mode, bool recording, bool root, int backing_fd) {
  if (mode == PassthroughMode::kOff) return {0, "--passthrough off"};
  if (recording) return {0, "the mount records: every write must reach the record log"};
  if (!root) return {0, "not root: the kernel lets only CAP_SYS_ADMIN register backing files"};
  return {Stacked(backing_fd) ? 2U : 1U, ""};
}

Mount::PassthroughState PassthroughAfterInit(const PassthroughAsk& ask, bool granted) {
  if (ask.max_stack_depth == 0) return {false, ask.reason};
  if (!granted) {
    return {false,
            "the kernel does not offer FUSE passthrough (Linux 6.9+ with CONFIG_FUSE_PASSTHROUGH)"};
  }
  return {true, "files that no rule reads or writes are served by the kernel"};
}

}  // namespace faultfs::fs
