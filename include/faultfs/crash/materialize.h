// Applying recorded ops to a directory: rebuilding a crash state from the starting snapshot, and
// replaying a recorded workload against any directory.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "faultfs/core/status.h"
#include "faultfs/crash/state.h"
#include "faultfs/record/log.h"

namespace faultfs::crash {

// Copies `snapshot` to `out` (an empty directory) and applies the state's ops. Ops whose target
// no longer exists in that state (a write to a file whose create did not survive) have no effect.
// `seed` fills garbage. Byte-identical for the same inputs.
Status Materialize(const std::string& snapshot, const record::ReadLog& log, const CrashState& state,
                   uint64_t seed, const std::string& out);

// Applies the first `until` ops of `log` to `dir`, which holds the starting state, as the
// workload did: persistence points become fsyncs. `before_op` runs before each op (markers too),
// e.g. to keep the recorded timing. Every op must succeed: replay stops at the first that fails,
// naming it.
Status Replay(const record::ReadLog& log, const std::string& dir, uint64_t until,
              const std::function<void(const record::Op&)>& before_op = {});

}  // namespace faultfs::crash
