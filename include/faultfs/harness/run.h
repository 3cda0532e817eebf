// `faultfs harness run` (docs/harness.md, "The run"): a replicated log of real node processes on
// faultfs mounts, driven by clients, broken by nemeses on a seeded schedule, and judged by the
// checker. Everything it starts it stops, and every mount it makes it unmounts, also when it is
// interrupted.
#pragma once

#include <cstdint>
#include <string>

#include "faultfs/core/status.h"

namespace faultfs::harness {

struct RunOptions {
  std::string faultfs;  // the faultfs binary (the nodes and the mounts)
  int nodes = 3;
  double duration_s = 60;
  double quiet_s = -1;  // the quiet end of the run (-1: a sixth of it, at least 5 s)
  uint64_t seed = 0;
  int clients = 4;
  std::string nemesis = "all";
  std::string recovery = "protocol";
  std::string repair = "verified";
  bool use_faultfs = true;
  int election_timeout_ms = 600;
  int heartbeat_ms = 100;
  // Toxics on every link for the whole run (e.g. latency above the election timeout); JSON list
  // in the proxy's Toxiproxy shape. "" for none.
  std::string link_toxics;
  std::string json, history, report;  // output files ("": none)
  std::string work;                   // "" = a new directory in $TMPDIR
  bool keep = false;
  bool progress = true;
};

// Runs and reports; the exit status: 0 correct, 1 unsafe, 3 unavailable, 2 bad usage, 4 the run
// itself failed (a mount or a node could not be started), 130 interrupted.
int RunHarness(const RunOptions& options);

}  // namespace faultfs::harness
