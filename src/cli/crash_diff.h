// `faultfs crash diff LOG --state ID`: what a crash state lacks. Both the state and the state
// where every op before its crash point persisted (the `prefix` model's state at that crash
// point) are rebuilt in a scratch directory and compared: names, kinds of object, metadata and
// byte ranges, then the ops the state loses.
#pragma once

#include <cstdint>
#include <string>

#include "faultfs/crash/state.h"
#include "record_log.h"

namespace faultfs::cli {

struct CrashDiffRequest {
  std::string log;  // the record log's path, for messages
  crash::Model model;
  uint64_t seed = 1;
  bool json = false;
};

// Prints the differences of `state` (a state of `in` under the request's model) on stdout; the
// exit code (kExitOk whether or not there are any, kExitFailure on errors).
int RunCrashDiff(const CrashDiffRequest& request, const LoadedLog& in,
                 const crash::CrashState& state);

}  // namespace faultfs::cli
