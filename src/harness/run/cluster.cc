#include "cluster.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <exception>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <thread>

#include "faultfs/core/loopback_port.h"
#include "faultfs/core/mountinfo.h"
#include "faultfs/core/subprocess.h"
#include "faultfs/core/tree_copy.h"
#include "faultfs/core/unique_fd.h"

namespace faultfs::harness {
namespace {

constexpr double kCtlTimeoutS = 30;
constexpr double kRestartDelayS = 0.5;

Status MakeDir(const std::string& path) {
  if (mkdir(path.c_str(), 0755) != 0 && errno != EEXIST)
    return Status::FromErrno(errno, "creating '" + path + "'");
  return Status::Ok();
}

// Runs `faultfs ARGS...`; an error with its output when it does not exit 0.
Status RunFaultfs(const std::string& faultfs, std::vector<std::string> args,
                  const std::string& output, double timeout_s = kCtlTimeoutS) {
  SubprocessSpec spec;
  spec.argv = {faultfs};
  spec.argv.insert(spec.argv.end(), args.begin(), args.end());
  spec.output = output;
  spec.timeout_s = timeout_s;
  auto ran = RunSubprocess(spec);
  if (!ran.ok()) return ran.status();
  if (ran->exit_code == 0) return Status::Ok();
  std::string command = "faultfs";
  for (const auto& a : args) command += " " + a;
  return Status::Invalid(command + " ended with " + ran->Describe() + ": " +
                         FileTail(output, 1000));
}

void KillGroup(pid_t pid) {
  if (pid <= 0) return;
  kill(-pid, SIGKILL);
  kill(pid, SIGKILL);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
}

}  // namespace

struct Cluster::Node {
  int id = 0;
  std::string dir, backing, mount, out, events;
  uint16_t peer_port = 0, client_port = 0;
  std::map<int, std::string> send_to;  // peer -> where to send (its link's proxy)
  bool mounted = false;
  int recordings = 0;  // the mount's record log is record-<n>.log
  int starts = 0;
  pid_t pid = 0;  // the node process (its own process group), 0 when down
  bool want_up = false;
  double down_since_s = -1;
  std::string events_path;  // this incarnation's events file
  size_t events_read = 0;   // bytes of it read
  std::string partial;      // an events line not yet complete
};

Cluster::Cluster(ClusterOptions options) : options_(std::move(options)) {}

Cluster::~Cluster() {
  // The caller's own Teardown() is the one that reports; this one makes sure nothing is left.
  try {
    (void)Teardown();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "faultfs harness: teardown: %s\n", e.what());
  }
}

Result<std::unique_ptr<Cluster>> Cluster::Create(const ClusterOptions& options) {
  std::unique_ptr<Cluster> c(new Cluster(options));
  std::random_device entropy;
  while (c->id_ == 0) c->id_ = (static_cast<uint64_t>(entropy()) << 32) | entropy();
  for (int i = 0; i < options.nodes; ++i) {
    auto n = std::make_unique<Node>();
    n->id = i;
    n->dir = options.work + "/node-" + std::to_string(i);
    n->backing = n->dir + "/backing";
    n->mount = options.use_faultfs ? n->dir + "/mnt" : n->backing;
    for (const auto& d : {n->dir, n->backing, n->mount}) FAULTFS_RETURN_IF_ERROR(MakeDir(d));
    // Outside the ephemeral range: a node's port must stay free while it is down or restarting.
    auto peer = PortForLater(c->ports_);
    auto client = PortForLater(c->ports_);
    if (!peer.ok()) return peer.status();
    if (!client.ok()) return client.status();
    n->peer_port = *peer;
    n->client_port = *client;
    c->nodes_.push_back(std::move(n));
  }
  return c;
}

uint16_t Cluster::peer_port(int node) const {
  return nodes_.at(static_cast<size_t>(node))->peer_port;
}

std::string Cluster::client_address(int node) const {
  return "127.0.0.1:" + std::to_string(nodes_.at(static_cast<size_t>(node))->client_port);
}

void Cluster::SetSendAddress(int from, int to, const std::string& address) {
  nodes_.at(static_cast<size_t>(from))->send_to[to] = address;
}

std::string Cluster::data_dir(int node) const {
  return nodes_.at(static_cast<size_t>(node))->mount;
}
std::string Cluster::stored_dir(int node) const {
  return nodes_.at(static_cast<size_t>(node))->backing;
}

bool Cluster::running(int node) const { return nodes_.at(static_cast<size_t>(node))->pid > 0; }

Status Cluster::Mount(Node& n) {
  if (!options_.use_faultfs || n.mounted) return Status::Ok();
  const std::string log = n.dir + "/record-" + std::to_string(++n.recordings) + ".log";
  FAULTFS_RETURN_IF_ERROR(
      RunFaultfs(options_.faultfs,
                 {"mount", "--record", log, "--transport", "dev", "--seed",
                  std::to_string(options_.seed + static_cast<uint64_t>(n.id)), n.backing, n.mount},
                 n.dir + "/mount.out"));
  n.mounted = true;
  return Status::Ok();
}

Status Cluster::Unmount(Node& n) {
  if (!n.mounted) return Status::Ok();
  n.mounted = false;
  // Requests held by a freeze or a stall keep their callers' files open (a killed node's thread
  // waits for its answer), and with them the mount and its daemon, even once detached: they go
  // first.
  for (const char* held : {"thaw", "release"}) {
    (void)RunFaultfs(options_.faultfs, {"ctl", n.mount, held}, n.dir + "/umount-" + held + ".out",
                     kCtlTimeoutS);
  }
  Status s = RunFaultfs(options_.faultfs, {"umount", n.mount}, n.dir + "/umount.out");
  if (FindMount(n.mount)) {
    // Whatever happened (a file still open: a killed node's thread that waits for a held
    // request), the mount goes, and its daemon is waited for (umount --lazy waits for it), so
    // that the run leaves no process behind.
    const Status lazy = RunFaultfs(options_.faultfs, {"umount", "--lazy", n.mount},
                                   n.dir + "/umount-lazy.out", kCtlTimeoutS + 10);
    if (FindMount(n.mount)) umount2(n.mount.c_str(), MNT_DETACH);
    if (s.ok()) s = Status::Invalid("'" + n.mount + "' was still mounted; detached");
    if (!lazy.ok()) s = lazy;
  }
  return s;
}

Status Cluster::MountAll() {
  for (auto& n : nodes_) FAULTFS_RETURN_IF_ERROR(Mount(*n));
  return Status::Ok();
}

Status Cluster::StartAll() {
  started_s_ = 0;
  for (int i = 0; i < size(); ++i) FAULTFS_RETURN_IF_ERROR(Start(i));
  return Status::Ok();
}

Status Cluster::Start(int node) {
  Node& n = *nodes_.at(static_cast<size_t>(node));
  if (n.pid > 0) return Status::Ok();
  ++n.starts;
  n.events_path = n.dir + "/events-" + std::to_string(n.starts) + ".jsonl";
  n.events_read = 0;
  n.partial.clear();
  SubprocessSpec spec;
  spec.argv = {options_.faultfs,
               "harness",
               "node",
               "--id",
               std::to_string(n.id),
               "--data",
               n.mount,
               "--peer-port",
               std::to_string(n.peer_port),
               "--client-port",
               std::to_string(n.client_port),
               "--election-timeout-ms",
               std::to_string(options_.election_timeout_ms),
               "--heartbeat-ms",
               std::to_string(options_.heartbeat_ms),
               "--recovery",
               options_.recovery,
               "--repair",
               options_.repair,
               "--events",
               n.events_path,
               "--cluster",
               std::to_string(id_),
               "--seed",
               std::to_string(options_.seed ^ (static_cast<uint64_t>(n.starts) << 32 |
                                               static_cast<uint64_t>(n.id)))};
  // The baselines model systems without a scrub: damage is found only by a restart (truncate)
  // or a read (newest), which is where their flaws show.
  if (options_.recovery != "protocol" || options_.repair != "verified")
    spec.argv.push_back("--no-scrub");
  for (const auto& [peer, address] : n.send_to) {
    spec.argv.push_back("--peer");
    spec.argv.push_back(std::to_string(peer) + "=" + address);
  }
  spec.output = n.dir + "/node-" + std::to_string(n.starts) + ".out";
  auto pid = SpawnSubprocess(spec);
  if (!pid.ok()) return pid.status();
  n.pid = *pid;
  n.want_up = true;
  const auto deadline =
      std::chrono::steady_clock::now() +
      std::chrono::milliseconds(static_cast<int64_t>(options_.ready_timeout_s * 1000));
  while (FileTail(spec.output, 4096).find("ready") == std::string::npos) {
    int status = 0;
    if (waitpid(n.pid, &status, WNOHANG) == n.pid) {
      n.pid = 0;
      return Status::Invalid("node " + std::to_string(n.id) +
                             " exited before it was ready: " + FileTail(spec.output, 1000));
    }
    if (std::chrono::steady_clock::now() > deadline) {
      KillGroup(n.pid);
      n.pid = 0;
      return Status::Invalid("node " + std::to_string(n.id) + " was not ready within " +
                             std::to_string(static_cast<int>(options_.ready_timeout_s)) +
                             " s: " + FileTail(spec.output, 1000));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return Status::Ok();
}

Status Cluster::Kill(int node) {
  Node& n = *nodes_.at(static_cast<size_t>(node));
  KillGroup(n.pid);
  n.pid = 0;
  n.want_up = false;
  if (leader_ == node) leader_ = -1;
  return Status::Ok();
}

Status Cluster::PowerCut(int node) {
  Node& n = *nodes_.at(static_cast<size_t>(node));
  FAULTFS_RETURN_IF_ERROR(Kill(node));
  if (!options_.use_faultfs) return Status::Ok();  // a kill is all a plain directory can do
  FAULTFS_RETURN_IF_ERROR(Ctl(n, {"crash", "--model", "pp"}));
  FAULTFS_RETURN_IF_ERROR(Unmount(n));
  return Mount(n);
}

Status Cluster::Ctl(const Node& n, const std::vector<std::string>& args) {
  std::vector<std::string> full = {"ctl", n.mount};
  full.insert(full.end(), args.begin(), args.end());
  return RunFaultfs(options_.faultfs, full, n.dir + "/ctl.out");
}

Status Cluster::SetDiskPolicy(int node, const std::string& toml) {
  Node& n = *nodes_.at(static_cast<size_t>(node));
  if (!options_.use_faultfs) return Status::Ok();
  const std::string file = n.dir + "/policy.toml";
  std::ofstream(file, std::ios::trunc) << toml;
  return Ctl(n, {"load", file});
}

std::vector<NodeEvent> Cluster::ReadEvents(Node& n, double now_s) {
  std::vector<NodeEvent> events;
  std::ifstream in(n.events_path, std::ios::binary);
  if (!in) return events;
  in.seekg(static_cast<std::streamoff>(n.events_read));
  std::string chunk((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  n.events_read += chunk.size();
  n.partial += chunk;
  size_t start = 0;
  for (size_t nl = n.partial.find('\n'); nl != std::string::npos;
       nl = n.partial.find('\n', start)) {
    const std::string line = n.partial.substr(start, nl - start);
    start = nl + 1;
    const auto j = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (j.is_discarded() || !j.is_object()) continue;
    NodeEvent e{.t_s = now_s, .node = n.id, .event = j.value("event", ""), .raw = line};
    e.term = j.value("term", int64_t{-1});
    e.of = j.contains("of") ? j.value("of", int64_t{-1}) : j.value("leader", int64_t{-1});
    if (e.event == "leader" && e.term >= leader_term_) {
      leader_term_ = e.term;
      leader_ = n.id;
    }
    events.push_back(std::move(e));
  }
  n.partial.erase(0, start);
  return events;
}

std::vector<NodeEvent> Cluster::Poll(double now_s) {
  std::vector<NodeEvent> events;
  for (auto& node : nodes_) {
    Node& n = *node;
    auto read = ReadEvents(n, now_s);
    events.insert(events.end(), read.begin(), read.end());
    int status = 0;
    if (n.pid > 0 && waitpid(n.pid, &status, WNOHANG) == n.pid) {
      KillGroup(n.pid);  // whatever it left in its group
      n.pid = 0;
      n.down_since_s = now_s;
      if (leader_ == n.id) leader_ = -1;
      events.push_back(NodeEvent{.t_s = now_s, .node = n.id, .event = "exited"});
    }
    if (n.pid == 0 && n.want_up && now_s - n.down_since_s >= kRestartDelayS) {
      if (Start(n.id).ok()) {
        ++restarts_;
        events.push_back(NodeEvent{.t_s = now_s, .node = n.id, .event = "restarted"});
      }
    }
  }
  return events;
}

std::optional<int> Cluster::leader() const {
  if (leader_ < 0 || !running(leader_)) return std::nullopt;
  return leader_;
}

Status Cluster::Teardown() {
  Status first;
  for (auto& n : nodes_) {
    KillGroup(n->pid);
    n->pid = 0;
    n->want_up = false;
  }
  for (auto& n : nodes_) {
    Status s = Unmount(*n);
    if (first.ok() && !s.ok()) first = s;
  }
  return first;
}

}  // namespace faultfs::harness
