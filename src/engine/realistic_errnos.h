// The errnos each operation can really return from a local filesystem under trouble: what
// `errno = "realistic"` draws from.
#pragma once

#include <vector>

#include "faultfs/policy/policy.h"

namespace faultfs::engine {

const std::vector<int>& RealisticErrnos(policy::Op op);

}  // namespace faultfs::engine
