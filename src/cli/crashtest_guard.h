// crashtest's guards: arguments that would test nothing, copy the wrong tree or change what the
// user owns are refused up front; a workload that tested nothing is caught after it ran.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "faultfs/core/status.h"
#include "faultfs/record/log.h"

namespace faultfs::cli {

// --dir is a directory, not "/", holds no mount point (it is copied whole); --work (absolute,
// may not exist yet) is neither inside --dir nor around it. Messages say which and what to do.
Status CheckCrashtestDirs(const std::string& dir, const std::string& work);

// What a directory tree looks like by stat (inode, size, times, mode, links of every object):
// any change to the tree changes its stamp.
using DirStamp = std::map<std::string, std::string>;
Result<DirStamp> StampDir(const std::string& dir);
// The paths whose stamp differs (removed, added or changed), at most `max`.
std::vector<std::string> ChangedPaths(const DirStamp& before, const DirStamp& after, size_t max);

// Why a recording tested nothing (no op changed the disk), or "" when it tested something.
std::string NothingTested(const record::ReadLog& log);

}  // namespace faultfs::cli
