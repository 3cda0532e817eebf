// `faultfs harness node`: one node of the harness's replicated log (docs/harness.md, "The node"),
// a process of its own. It recovers its data directory, listens on a peer port and a client port
// (127.0.0.1), prints "ready" on stdout, and serves until SIGTERM or SIGINT.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>

#include "faultfs/core/status.h"

namespace faultfs::harness {

struct NodeOptions {
  int id = 0;
  std::string data;  // the data directory (on a faultfs mount in a run)
  uint16_t peer_port = 0;
  uint16_t client_port = 0;
  std::map<int, std::string> peers;  // node id -> "127.0.0.1:PORT", where to send to it
  int election_timeout_ms = 600;     // T: timeouts are drawn from [T, 2T]
  int heartbeat_ms = 100;
  size_t queue = 64;                  // requests waiting at once; more are answered busy
  std::string recovery = "protocol";  // or "truncate" (the naive baseline)
  std::string repair = "verified";    // or "newest" (the naive baseline)
  std::string events;                 // events file (JSON lines); "" for none
  uint64_t seed = 0;                  // election timeouts are drawn from a stream derived from it
  bool scrub = true;                  // read the log back in the background to find latent damage
  // The run's cluster id (0: none). Sent with every peer message; a peer message or a client
  // request that names another cluster (a node of another run on a port this run once used) is
  // dropped.
  uint64_t cluster = 0;
};

// Checks the options; an error names the one that is wrong.
Status ValidateNodeOptions(const NodeOptions& options);

// Runs the node: 0 after SIGTERM or SIGINT, 1 when it cannot start or its storage fails (the
// reason on stderr).
int RunNode(const NodeOptions& options);

}  // namespace faultfs::harness
