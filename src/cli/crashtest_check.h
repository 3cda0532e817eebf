// crashtest, step 2: every crash state is rebuilt in a scratch directory and judged by the
// user's checker, several at a time. Identical states (by content hash) are checked once.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "faultfs/crash/state.h"
#include "faultfs/record/log.h"

namespace faultfs::cli {

enum class Verdict { kPassed, kFailed, kInconclusive, kDuplicate, kError };

struct StateResult {
  Verdict verdict = Verdict::kError;
  std::string hash;          // content hash of the materialized state
  std::string duplicate_of;  // kDuplicate: the state with the same content that was checked
  std::string how;           // the checker's end ("exit 1", "timed out") or the error
  std::string output_tail;   // the checker's last lines
};

struct CheckRun {
  std::string snapshot;  // the starting state
  std::string work;      // scratch for states/
  std::string check;     // sh -c command; "" = the built-in oracle
  crash::Model model;
  uint64_t seed = 0;
  unsigned jobs = 1;
  double timeout_s = 60;
  bool progress = true;  // a "states done / total" line on stderr
};

// One result per state, in the order of `states`.
std::vector<StateResult> CheckStates(const CheckRun& run, const record::ReadLog& log,
                                     const std::vector<crash::CrashState>& states);

}  // namespace faultfs::cli
