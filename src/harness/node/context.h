// What the node's services (fetch and repair, reads, the client server) share: the node's
// identity and options, its Raft state, its disk and events, and how to send to a peer.
#pragma once

#include <functional>
#include <nlohmann/json.hpp>
#include <vector>

#include "disk_worker.h"
#include "events.h"
#include "raft.h"

namespace faultfs::harness::node {

struct NodeContext {
  int id = 0;
  std::vector<int> peers;
  bool repair_newest = false;  // --repair newest: the naive read repair
  int heartbeat_ms = 100;
  int election_timeout_ms = 600;
  Raft* raft = nullptr;
  DiskWorker* disk = nullptr;
  EventLog* events = nullptr;
  std::function<void(int to, const nlohmann::json& message)> send;
  std::function<void(std::function<void()>)> defer;  // run on the loop after this handler
};

}  // namespace faultfs::harness::node
