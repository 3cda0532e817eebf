// The node process: recovery, then the event loop that wires Raft, the disk worker, the peer
// links and listeners, fetch/repair, reads and the client server together.
#include "faultfs/harness/node.h"

#include <asio/io_context.hpp>
#include <asio/post.hpp>
#include <asio/signal_set.hpp>
#include <asio/steady_timer.hpp>
#include <cstdio>
#include <memory>

#include "client_server.h"
#include "faultfs/harness/node_storage.h"
#include "node_runtime.h"

namespace faultfs::harness {

Status ValidateNodeOptions(const NodeOptions& o) {
  if (o.id < 0) return Status::Invalid("--id must be >= 0");
  if (o.data.empty()) return Status::Invalid("--data is required");
  if (o.peer_port == 0 || o.client_port == 0)
    return Status::Invalid("--peer-port and --client-port are required");
  if (o.election_timeout_ms < 10) return Status::Invalid("--election-timeout-ms must be >= 10");
  if (o.heartbeat_ms < 1 || o.heartbeat_ms >= o.election_timeout_ms)
    return Status::Invalid("--heartbeat-ms must be >= 1 and below --election-timeout-ms");
  if (o.recovery != "protocol" && o.recovery != "truncate")
    return Status::Invalid("--recovery must be protocol or truncate");
  if (o.repair != "verified" && o.repair != "newest")
    return Status::Invalid("--repair must be verified or newest");
  for (const auto& [peer, address] : o.peers) {
    if (peer == o.id)
      return Status::Invalid("--peer names this node's own id " + std::to_string(peer));
    if (peer < 0) return Status::Invalid("--peer ids must be >= 0");
    if (auto endpoint = node::ParseEndpoint(address); !endpoint.ok())
      return Status::Invalid("--peer " + std::to_string(peer) + ": " + endpoint.status().message());
  }
  return Status::Ok();
}

int RunNode(const NodeOptions& options) {
  if (Status valid = ValidateNodeOptions(options); !valid.ok()) {
    std::fprintf(stderr, "faultfs harness node: %s\n", valid.ToString().c_str());
    return 2;
  }
  auto runtime = node::NodeRuntime::Start(options);
  if (!runtime.ok()) {
    std::fprintf(stderr, "faultfs harness node %d: %s\n", options.id,
                 runtime.status().ToString().c_str());
    return 1;
  }
  (*runtime)->Run();
  return 0;
}

}  // namespace faultfs::harness
