// Process-level test support for harness nodes: a cluster of real `faultfs harness node`
// processes on loopback (direct peer addresses, no proxy), a minimal blocking client over the
// wire format, and readers for the nodes' events files. Every process is SIGKILLed when its
// NodeCluster goes, whatever happened in the test.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "faultfs/core/unique_fd.h"

namespace faultfs::harness::testing {

// A free TCP port on 127.0.0.1 for a node to bind later, outside the ephemeral range and
// different from every other this test process picked (PortForLater); 0 if none was found.
uint16_t FreeLoopbackPort();

// Waits for `condition` up to `timeout_s` (polling), true when it held.
bool WaitFor(const std::function<bool()>& condition, double timeout_s);

double MonotonicMs();

// One connection to a node's client port; one request at a time.
class TestClient {
 public:
  explicit TestClient(uint16_t port);
  bool connected() const { return fd_.valid(); }
  // Sends `request` and waits for the c_reply with its req; none on timeout or a broken link.
  std::optional<nlohmann::json> Call(const nlohmann::json& request, double timeout_s = 10);
  std::optional<nlohmann::json> Append(int64_t client, int64_t req, const std::string& value,
                                       double timeout_s = 10);
  std::optional<nlohmann::json> Read(int64_t client, int64_t req, uint64_t index,
                                     double timeout_s = 10);
  // Sends without waiting (the reply can be taken later with Receive).
  bool SendOnly(const nlohmann::json& request);
  std::optional<nlohmann::json> Receive(int64_t req, double timeout_s);

 private:
  UniqueFd fd_;
  std::string buffered_;
};

// A reply's value as bytes (bin or str).
std::string ReplyValue(const nlohmann::json& reply);

struct NodeEventLine {
  double t_ms = 0;
  int node = 0;
  std::string event;
  nlohmann::json fields;
};

class NodeCluster {
 public:
  // `dir` holds the nodes' data directories, outputs and events files.
  NodeCluster(std::string dir, int nodes, std::vector<std::string> extra_args = {});
  ~NodeCluster();  // SIGKILLs every node still running
  NodeCluster(const NodeCluster&) = delete;
  NodeCluster& operator=(const NodeCluster&) = delete;

  // Starts node i and waits for its "ready" line; false (and the output in `error`) if it does not
  // come within the timeout.
  bool Start(int i, std::string* error = nullptr);
  bool StartAll(std::string* error = nullptr);
  void Kill(int i);  // SIGKILL and reap
  void Signal(int i, int sig);
  bool running(int i) const { return pids_[static_cast<size_t>(i)] > 0; }
  int size() const { return static_cast<int>(pids_.size()); }

  std::string data_dir(int i) const;
  uint16_t client_port(int i) const { return client_ports_[static_cast<size_t>(i)]; }
  std::string output(int i) const;
  // Every event of node i (all its starts).
  std::vector<NodeEventLine> Events(int i) const;
  std::vector<NodeEventLine> AllEvents() const;
  // The running node that announced leadership in the highest term, if any.
  std::optional<int> Leader() const;
  // Waits for a running leader; its id.
  std::optional<int> WaitForLeader(double timeout_s);
  // Appends through whichever node leads (following not_leader), retrying until acknowledged.
  std::optional<uint64_t> AppendAcked(int64_t client, int64_t req, const std::string& value,
                                      double timeout_s = 20);

 private:
  std::string dir_;
  std::vector<std::string> extra_args_;
  std::vector<uint16_t> peer_ports_;
  std::vector<uint16_t> client_ports_;
  std::vector<pid_t> pids_;
  std::vector<int> starts_;
};

// Flips one byte of the value of the entry at `index` in DIR/log (offset into the value).
void CorruptSlotValue(const std::string& data_dir, uint64_t index, size_t value_offset = 2);

}  // namespace faultfs::harness::testing
