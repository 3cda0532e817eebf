// crashtest, step 2: every crash state is rebuilt in a scratch directory and judged by the
// user's checker, several at a time. Identical states (by content hash) are checked once.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "faultfs/core/mutex.h"
#include "faultfs/crash/head_start.h"
#include "faultfs/crash/oracle.h"
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
  // kFailed: what the state's failure comes down to (crashtest_explain.h), and whether undoing
  // that one cause made the checker accept the state; the fix's key (crash::Fix) and the ops it
  // is about.
  std::string finding;
  bool finding_confirmed = false;
  std::string fix_key;
  std::vector<uint32_t> fix_ops;
};

// The states checked so far, by content hash and markers, so that a state is judged once however
// many models or crash points give it: the label of the first state with that content.
struct SeenStates {
  Mutex mu;
  std::map<std::string, std::string> first FAULTFS_GUARDED_BY(mu);
};

struct CheckRun {
  std::string snapshot;                             // the starting state
  std::string work;                                 // scratch for states/
  std::string check;                                // sh -c command; "" = the built-in oracle
  const crash::DurabilityOracle* oracle = nullptr;  // set when check is ""
  crash::Model model;
  uint64_t seed = 0;
  unsigned jobs = 1;
  double timeout_s = 60;
  bool progress = true;  // a "states done / total" line on stderr
  // What spares the first states their cost (head_start.h): the snapshot's digests; the recorded
  // directory, which the first builder made takes untouched files from ("" none); and how long a
  // copy of the starting state takes, as the recording's copy did (0: not known).
  const crash::SnapshotDigests* digests = nullptr;
  std::string recorded = {};
  double copy_secs = 0;
};

// Rebuilds `state` in `dir` (emptied first).
Status BuildState(const CheckRun& run, const record::ReadLog& log, const crash::CrashState& state,
                  const std::string& dir);

// Rebuilds and judges one state in the slot directory `slot` (no deduplication, no progress).
StateResult JudgeState(const CheckRun& run, const record::ReadLog& log,
                       const crash::CrashState& state, const std::string& slot);

// One result per state, in the order of `states`. A state whose content and markers `seen`
// already has is a duplicate of that state (duplicate_of: its label); the others are judged and
// enter `seen` as `label_prefix` + their id.
std::vector<StateResult> CheckStates(const CheckRun& run, const record::ReadLog& log,
                                     const std::vector<crash::CrashState>& states, SeenStates& seen,
                                     const std::string& label_prefix = "");

}  // namespace faultfs::cli
