// Whether a mount uses kernel passthrough (backing_files.h), and the reason given to the user.
// Decided in two steps: before INIT, whether the mount asks for it at all; after INIT, whether
// the kernel granted it.
#pragma once

#include <cstdint>
#include <string>

#include "faultfs/fs/mount.h"

namespace faultfs::fs {

struct PassthroughAsk {
  uint32_t max_stack_depth = 0;  // what INIT's reply asks for; 0: the mount does not ask
  std::string reason;            // why not, when it does not
};

// `backing_fd`: the backing directory, whose filesystem may itself be stacked (overlayfs, as in
// containers), which takes one more level of stacking under the mount.
PassthroughAsk AskForPassthrough(PassthroughMode mode, bool recording, bool root, int backing_fd);

// The mount's passthrough once the kernel answered INIT (`granted`: it took the flag).
Mount::PassthroughState PassthroughAfterInit(const PassthroughAsk& ask, bool granted);

}  // namespace faultfs::fs
