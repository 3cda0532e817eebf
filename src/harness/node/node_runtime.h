// One running node: owns the event loop and everything served on it. Start() recovers the data
// directory and listens; Run() serves until SIGTERM or SIGINT. It is Raft's environment: sends go
// to the peer links, writes to the disk worker, deferred work to the loop.
#pragma once

#include <asio/io_context.hpp>
#include <asio/signal_set.hpp>
#include <asio/steady_timer.hpp>
#include <map>
#include <memory>

#include "client_server.h"
#include "faultfs/harness/node.h"
#include "net.h"
#include "raft.h"
#include "reads.h"
#include "repair.h"

namespace faultfs::harness::node {

class NodeRuntime : public RaftEnv {
 public:
  static Result<std::unique_ptr<NodeRuntime>> Start(const NodeOptions& options);
  ~NodeRuntime() override;
  NodeRuntime(const NodeRuntime&) = delete;
  NodeRuntime& operator=(const NodeRuntime&) = delete;
  void Run();

  void Send(int to, const nlohmann::json& message) override;
  void WriteEntries(std::vector<SlotWrite> writes, std::function<void()> done) override;
  void CutAfter(uint64_t keep, std::function<void()> done) override;
  void WriteMeta(StoredMeta meta, std::function<void()> done) override;
  void Defer(std::function<void()> fn) override;
  void Emit(const std::string& event, const nlohmann::json& fields) override;
  double NowMs() override;

 private:
  explicit NodeRuntime(const NodeOptions& options);
  Status Recover();
  void Wire(const RecoveryPlan& plan, const NodeStorage& storage);
  Status Listen();
  void OnPeerMessage(const nlohmann::json& message);
  bool IsPeer(int id) const { return links_.count(id) != 0; }
  void ScheduleTick();

  NodeOptions options_;
  asio::io_context io_;  // declared first: destroyed last, after everything that uses it
  EventLog events_;
  std::unique_ptr<StorageFiles> files_;
  std::unique_ptr<DiskWorker> disk_;
  std::unique_ptr<Raft> raft_;
  NodeContext ctx_;
  std::unique_ptr<Fetcher> fetcher_;
  std::unique_ptr<Repairer> repairer_;
  std::unique_ptr<Scrubber> scrubber_;
  std::unique_ptr<ReadCoordinator> reads_;
  std::unique_ptr<ClientServer> clients_;
  std::map<int, std::unique_ptr<PeerLink>> links_;
  std::unique_ptr<Listener> peer_listener_;
  std::unique_ptr<Listener> client_listener_;
  asio::steady_timer tick_{io_};
  asio::signal_set signals_{io_, SIGINT, SIGTERM};
};

}  // namespace faultfs::harness::node
