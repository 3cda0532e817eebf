// Opening a record log for the crash, crashtest and replay commands: the ops, where the starting
// state is, and a clear word on any damage (the intact records before it are still used).
#pragma once

#include <string>

#include "faultfs/core/status.h"
#include "faultfs/record/log.h"

namespace faultfs::cli {

struct LoadedLog {
  record::ReadLog log;
  std::string snapshot;  // the starting state's directory
};

// Reads `path`; damage is reported on stderr (unless `quiet`) and the intact prefix kept.
Result<LoadedLog> LoadRecordLog(const std::string& path, bool quiet = false);

// True when `path` is a directory with no entries, or does not exist.
bool EmptyOrMissing(const std::string& path);

// Creates directory `path`, or accepts it when it exists and is empty; anything else is an error
// (nothing is ever written over a user's files).
Status MakeEmptyDir(const std::string& path);

}  // namespace faultfs::cli
