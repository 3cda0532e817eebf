// Scratch directories: where a command that needs room of its own (crash states, a cluster's
// data) puts it when the user names no place.
#pragma once

#include <string>
#include <string_view>

#include "faultfs/core/status.h"

namespace faultfs {

// Creates a new directory `<prefix>-XXXXXX` (mode 0700, a name no one else holds) under $TMPDIR,
// or /tmp when it is unset or empty, and returns its path.
Result<std::string> MakeScratchDir(std::string_view prefix);

}  // namespace faultfs
