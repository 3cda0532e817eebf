// crashtest, step 4: what the states say. Counts, one finding per fix with how many states and
// crash points show it and whether the ext4 model does too, the failing states with the
// checker's words and the command that rebuilds each, and JSON lines for machines.
#pragma once

#include <ostream>
#include <string>
#include <vector>

#include "crashtest_check.h"
#include "crashtest_findings.h"
#include "faultfs/crash/state.h"
#include "faultfs/record/log.h"

namespace faultfs::cli {

struct ReportInput {
  std::string log_path;
  const record::ReadLog* log = nullptr;
  crash::Model model;
  uint64_t seed = 0;
  uint64_t max_states = 0;
  const crash::Enumeration* enumeration = nullptr;
  const std::vector<StateResult>* results = nullptr;
  double seconds = 0;
  double check_seconds = 0;       // the checking phase alone: building, hashing and judging states
  std::vector<Finding> findings;  // GroupFindings, with their ext4 marks
  size_t ext4_states = 0;         // states of the ext4 model checked to mark them (0: none)
};

struct Counts {
  size_t enumerated = 0, distinct = 0, checked = 0, passed = 0, failed = 0, inconclusive = 0,
         errors = 0;
};

Counts Count(const std::vector<StateResult>& results);

void PrintReport(const ReportInput& in, std::ostream& out);
// One JSON object per state: its description, verdict, checker output and reproducer.
Status WriteJsonLines(const ReportInput& in, const std::string& path);

}  // namespace faultfs::cli
