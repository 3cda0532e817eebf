// crashtest, step 3: what the states say. Counts, findings in ALICE's vocabulary ("op i must
// persist before op j"), each failing state with the checker's words and the command that
// rebuilds it, and JSON lines for machines.
#pragma once

#include <ostream>
#include <string>
#include <vector>

#include "crashtest_check.h"
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
  double check_seconds = 0;  // the checking phase alone: building, hashing and judging states
};

struct Counts {
  size_t enumerated = 0, distinct = 0, checked = 0, passed = 0, failed = 0, inconclusive = 0,
         errors = 0;
};

Counts Count(const std::vector<StateResult>& results);

// A finding: what failing states come down to (crashtest_explain.h).
struct Finding {
  std::string text;
  bool confirmed = false;           // undoing it made the checker accept a failing state
  std::vector<std::string> states;  // failing states it explains (duplicates included)
};

// Failing states grouped by finding; confirmed findings first.
std::vector<Finding> GroupFindings(const ReportInput& in);

void PrintReport(const ReportInput& in, std::ostream& out);
// One JSON object per state: its description, verdict, checker output and reproducer.
Status WriteJsonLines(const ReportInput& in, const std::string& path);

}  // namespace faultfs::cli
