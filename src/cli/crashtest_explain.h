// crashtest, between checking and reporting: what each failing state's failure comes down to.
// A failing state differs from "everything persisted" in several ways (causes, see
// faultfs/crash/causes.h). Each cause is undone in turn and the result judged again; the first
// cause whose undoing satisfies the checker is the finding. This is what turns "state 33.3 failed"
// into "durability of op 31 (unlink db-journal) needs an fsync of the root directory".
#pragma once

#include <vector>

#include "crashtest_check.h"

namespace faultfs::cli {

// Fills `finding` and `finding_confirmed` of every failed state in `results`.
void ExplainFailures(const CheckRun& run, const record::ReadLog& log,
                     const std::vector<crash::CrashState>& states,
                     std::vector<StateResult>& results);

}  // namespace faultfs::cli
