// NodeCluster: starting, killing and watching node processes.
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <filesystem>
#include <fstream>
#include <thread>

#include "faultfs/core/subprocess.h"
#include "node_cluster.h"
#include "test_support.h"

namespace faultfs::harness::testing {

NodeCluster::NodeCluster(std::string dir, int nodes, std::vector<std::string> extra_args)
    : dir_(std::move(dir)), extra_args_(std::move(extra_args)) {
  for (int i = 0; i < nodes; ++i) {
    peer_ports_.push_back(FreeLoopbackPort());
    client_ports_.push_back(FreeLoopbackPort());
    pids_.push_back(0);
    starts_.push_back(0);
    std::filesystem::create_directories(dir_ + "/node-" + std::to_string(i));
  }
}

NodeCluster::~NodeCluster() {
  for (int i = 0; i < size(); ++i) Kill(i);
}

std::string NodeCluster::data_dir(int i) const {
  return dir_ + "/node-" + std::to_string(i) + "/data";
}

std::string NodeCluster::output(int i) const {
  return faultfs::testing::ReadFile(dir_ + "/node-" + std::to_string(i) + "/out-" +
                                    std::to_string(starts_[static_cast<size_t>(i)]) + ".txt");
}

bool NodeCluster::Start(int i, std::string* error) {
  const size_t k = static_cast<size_t>(i);
  if (pids_[k] > 0) return true;
  ++starts_[k];
  SubprocessSpec spec;
  spec.argv = {faultfs::testing::FaultfsBinary(),
               "harness",
               "node",
               "--id",
               std::to_string(i),
               "--data",
               data_dir(i),
               "--peer-port",
               std::to_string(peer_ports_[k]),
               "--client-port",
               std::to_string(client_ports_[k]),
               "--events",
               dir_ + "/node-" + std::to_string(i) + "/events.jsonl",
               "--seed",
               "42"};
  for (int j = 0; j < size(); ++j) {
    if (j == i) continue;
    spec.argv.push_back("--peer");
    spec.argv.push_back(std::to_string(j) +
                        "=127.0.0.1:" + std::to_string(peer_ports_[static_cast<size_t>(j)]));
  }
  for (const auto& a : extra_args_) spec.argv.push_back(a);
  spec.output = dir_ + "/node-" + std::to_string(i) + "/out-" + std::to_string(starts_[k]) + ".txt";
  auto pid = SpawnSubprocess(spec);
  if (!pid.ok()) {
    if (error != nullptr) *error = pid.status().ToString();
    return false;
  }
  pids_[k] = *pid;
  const bool ready = WaitFor(
      [&] {
        int status = 0;
        if (::waitpid(pids_[k], &status, WNOHANG) == pids_[k]) {
          pids_[k] = 0;
          return true;  // exited: stop waiting
        }
        return output(i).find("ready\n") != std::string::npos;
      },
      30);
  if (ready && pids_[k] > 0) return true;
  if (error != nullptr) *error = "node " + std::to_string(i) + " not ready: " + output(i);
  Kill(i);
  return false;
}

bool NodeCluster::StartAll(std::string* error) {
  for (int i = 0; i < size(); ++i) {
    if (!Start(i, error)) return false;
  }
  return true;
}

void NodeCluster::Kill(int i) {
  pid_t& pid = pids_[static_cast<size_t>(i)];
  if (pid <= 0) return;
  ::kill(-pid, SIGKILL);  // its own process group
  ::kill(pid, SIGKILL);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  pid = 0;
}

void NodeCluster::Signal(int i, int sig) {
  if (running(i)) ::kill(pids_[static_cast<size_t>(i)], sig);
}

std::vector<NodeEventLine> NodeCluster::Events(int i) const {
  std::vector<NodeEventLine> events;
  std::ifstream in(dir_ + "/node-" + std::to_string(i) + "/events.jsonl");
  std::string line;
  while (std::getline(in, line)) {
    const auto j = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (!j.is_object()) continue;
    events.push_back({j.value("t_ms", 0.0), j.value("node", -1), j.value("event", ""), j});
  }
  return events;
}

std::vector<NodeEventLine> NodeCluster::AllEvents() const {
  std::vector<NodeEventLine> all;
  for (int i = 0; i < size(); ++i) {
    for (auto& e : Events(i)) all.push_back(std::move(e));
  }
  return all;
}

std::optional<int> NodeCluster::Leader() const {
  std::optional<int> leader;
  int64_t best_term = -1;
  for (int i = 0; i < size(); ++i) {
    if (!running(i)) continue;
    // Only what this node said since its last start counts.
    int64_t term = -1;
    for (const auto& e : Events(i)) {
      if (e.event == "start") term = -1;
      if (e.event == "leader") term = e.fields.value("term", int64_t{-1});
      if (e.event == "follower" || e.event == "election") term = -1;
    }
    if (term > best_term) {
      best_term = term;
      leader = i;
    }
  }
  return leader;
}

std::optional<int> NodeCluster::WaitForLeader(double timeout_s) {
  std::optional<int> leader;
  WaitFor([&] { return (leader = Leader()).has_value(); }, timeout_s);
  return leader;
}

std::optional<uint64_t> NodeCluster::AppendAcked(int64_t client, int64_t req,
                                                 const std::string& value, double timeout_s) {
  const double deadline = MonotonicMs() + timeout_s * 1e3;
  while (MonotonicMs() < deadline) {
    if (const auto leader = Leader()) {
      TestClient c(client_port(*leader));
      const auto reply = c.Append(client, req, value, 5);
      if (reply && reply->value("status", "") == "ok") return reply->value("index", uint64_t{0});
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return std::nullopt;
}

void CorruptSlotValue(const std::string& data_dir, uint64_t index, size_t value_offset) {
  const std::string path = data_dir + "/log";
  std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
  const auto at = static_cast<std::streamoff>((index - 1) * 4096 + 16 + 36 + value_offset);
  f.seekg(at);
  char c = 0;
  f.get(c);
  f.seekp(at);
  f.put(static_cast<char>(c ^ 0x20));
  f.flush();
}

}  // namespace faultfs::harness::testing
