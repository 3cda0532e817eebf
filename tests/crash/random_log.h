// Seeded random workloads for the differential test, written as a recording mount writes them
// (docs/record-format.md): a starting directory and its header inodes, then ops that name objects
// by the inode the filesystem gave them (reusing the numbers of objects that are gone), paths
// relative to the mount root, writes and fsyncs to files that are open but have no name left.
#pragma once

#include <cstdint>
#include <string>

#include "faultfs/core/status.h"
#include "faultfs/record/log.h"

namespace faultfs::crash {

struct RandomLogOptions {
  size_t min_ops = 6;
  size_t max_ops = 20;
  bool xattrs = true;  // the filesystem under the test takes user.* attributes
};

// Builds the starting tree of log `seed` in `snapshot` (an empty directory; `scratch` is an empty
// one for the recorded original) and returns the log, whose header lists the original's inodes.
Result<record::ReadLog> MakeRandomLog(uint64_t seed, const RandomLogOptions& options,
                                      const std::string& scratch, const std::string& snapshot);

}  // namespace faultfs::crash
