// spdlog setup shared by the subcommands: level names, stderr or file sink.
#pragma once

#include <string>
#include <vector>

#include "faultfs/core/status.h"

namespace faultfs::cli {

inline const std::vector<std::string> kLogLevels = {"trace", "debug", "info",
                                                    "warn",  "error", "off"};

// `level` is one of kLogLevels; an empty `file` logs to stderr.
Status ConfigureLogging(const std::string& level, const std::string& file);

}  // namespace faultfs::cli
