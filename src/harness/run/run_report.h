// What a harness run reports: the verdict and its counts on the terminal, and on request the JSON
// report, the history in Jepsen's EDN and the HTML timeline.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "cluster.h"
#include "faultfs/harness/checker.h"
#include "faultfs/harness/history.h"
#include "faultfs/harness/run.h"
#include "timeline.h"

namespace faultfs::harness {

struct RunFacts {
  RunOptions options;
  std::string work;
  double seconds = 0;
  std::vector<NodeEvent> node_events;
  std::vector<Timeline::Band> bands;
  std::vector<Timeline::Mark> marks;
  std::map<std::string, int> nemesis_counts;
  std::vector<std::string> nemesis_errors;
  std::vector<double> failover_s;
  uint64_t restarts = 0;
  History history;
  CheckResult result;
  uint64_t false_suspicions = 0;
};

// Prints the summary, writes the files asked for; returns the exit status (the verdict's, or 1
// when a file could not be written).
int WriteReports(const RunFacts& facts);

// The pieces, for tests.
nlohmann::json ReportJson(const RunFacts& facts);
Timeline BuildTimeline(const RunFacts& facts);

}  // namespace faultfs::harness
