// The nodes of a harness run as the run sees them: for each, a backing directory, a faultfs mount
// over it (recording, so that a power cut can roll it back), and the node process on it. The
// cluster starts, kills, restarts and power-cuts nodes, puts disk faults on their mounts through
// `faultfs ctl`, follows their events files (who leads), and takes everything down at the end,
// whatever happened: no process and no mount outlives a Cluster.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "faultfs/core/status.h"

namespace faultfs::harness {

struct ClusterOptions {
  std::string work;     // the run's directory (exists)
  std::string faultfs;  // the faultfs binary (nodes and mounts)
  int nodes = 3;
  bool use_faultfs = true;  // false: data directories are plain directories (for costs)
  uint64_t seed = 0;
  std::string recovery = "protocol";
  std::string repair = "verified";
  int election_timeout_ms = 600;
  int heartbeat_ms = 100;
  double ready_timeout_s = 30;  // a node must print "ready" within this
};

// One line of a node's events file, as the run keeps it.
struct NodeEvent {
  double t_s = 0;  // run time
  int node = 0;
  std::string event;
  int64_t term = -1;
  int64_t of = -1;       // suspect: the suspected node; follower: the leader
  std::string raw = {};  // the JSON line
};

class Cluster {
 public:
  static Result<std::unique_ptr<Cluster>> Create(const ClusterOptions& options);
  ~Cluster();  // Teardown()
  Cluster(const Cluster&) = delete;
  Cluster& operator=(const Cluster&) = delete;

  int size() const { return static_cast<int>(nodes_.size()); }
  uint16_t peer_port(int node) const;
  // This cluster's id, random per run: its nodes drop messages from any other cluster's.
  uint64_t id() const { return id_; }
  std::string client_address(int node) const;
  // Where node `from` sends to node `to` (the proxy of that link); set before StartAll.
  void SetSendAddress(int from, int to, const std::string& address);

  Status MountAll();
  Status StartAll();
  // SIGKILL the node's process (it stays down until Start).
  Status Kill(int node);
  Status Start(int node);
  // A power cut of the node: its process dies and its mount is rolled back to a crash state of
  // what it recorded (faultfs ctl crash); then the mount is remade, recording afresh. The node is
  // down afterwards; Start brings it up on the crash state.
  Status PowerCut(int node);
  // Replaces the node's fault policy (`faultfs ctl MOUNT load`); "" clears it.
  Status SetDiskPolicy(int node, const std::string& toml);
  // Reaps nodes that exited on their own and restarts them (after `restart_delay_s`); reads new
  // events. Returns the events read.
  std::vector<NodeEvent> Poll(double now_s);
  bool running(int node) const;
  // The node that most recently became leader in the highest term, if it is running.
  std::optional<int> leader() const;
  // The node's data directory (to read its log when it is stopped).
  std::string data_dir(int node) const;
  // Where the node's files really are (the backing directory): reading there never waits on a
  // frozen or hung mount.
  std::string stored_dir(int node) const;
  uint64_t restarts() const { return restarts_; }
  // Kills every node and unmounts every mount; idempotent. The first error, after trying all.
  Status Teardown();

 private:
  struct Node;
  explicit Cluster(ClusterOptions options);
  Status Mount(Node& n);
  Status Unmount(Node& n);
  Status Ctl(const Node& n, const std::vector<std::string>& args);
  std::vector<NodeEvent> ReadEvents(Node& n, double now_s);

  ClusterOptions options_;
  std::vector<std::unique_ptr<Node>> nodes_;
  int64_t leader_term_ = -1;
  int leader_ = -1;
  uint64_t restarts_ = 0;
  std::set<uint16_t> ports_;  // the nodes' ports, each chosen once
  // Ports are free when chosen, not reserved: another run may take one while its node is down
  // (or before it starts), and then that run's proxies and clients reach this run's node.
  uint64_t id_ = 0;
  double started_s_ = 0;
};

}  // namespace faultfs::harness
