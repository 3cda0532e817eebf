#include "node_runtime.h"

#include <asio/post.hpp>
#include <cstdio>
#include <exception>

#include "faultfs/harness/node_storage.h"
#include "faultfs/harness/wire.h"
#include "recovery.h"

namespace faultfs::harness::node {
namespace {

// Whether `message` comes from this node's cluster: it names `cluster`, or neither names one.
bool SameCluster(const nlohmann::json& message, uint64_t cluster) {
  const auto it = message.find("cluster");
  if (it == message.end()) return cluster == 0;
  return it->is_number_unsigned() && it->get<uint64_t>() == cluster;
}

}  // namespace

NodeRuntime::NodeRuntime(const NodeOptions& options) : options_(options) {}

NodeRuntime::~NodeRuntime() {
  // Asio's cancel() throws on a failure of the system call under it; a destructor must not.
  try {
    signals_.cancel();
    tick_.cancel();
    if (peer_listener_) peer_listener_->Stop();
    if (client_listener_) client_listener_->Stop();
    for (auto& [peer, link] : links_) link->Stop();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "faultfs harness node %d: stopping: %s\n", options_.id, e.what());
  }
  disk_.reset();  // joins the disk threads while everything they post to still exists
}

Result<std::unique_ptr<NodeRuntime>> NodeRuntime::Start(const NodeOptions& options) {
  std::unique_ptr<NodeRuntime> node(new NodeRuntime(options));
  if (!options.events.empty()) {
    auto events = EventLog::Open(options.events, options.id);
    if (!events.ok()) return events.status();
    node->events_ = std::move(*events);
  }
  node->events_.Emit(
      "start",
      {{"recovery", options.recovery}, {"repair", options.repair}, {"seed", options.seed}});
  FAULTFS_RETURN_IF_ERROR(node->Recover());
  FAULTFS_RETURN_IF_ERROR(node->Listen());
  node->ScheduleTick();
  node->signals_.async_wait([n = node.get()](asio::error_code ec, int) {
    if (!ec) n->io_.stop();
  });
  std::printf("ready\n");
  std::fflush(stdout);
  node->events_.Emit("ready",
                     {{"peer_port", options.peer_port}, {"client_port", options.client_port}});
  return node;
}

Status NodeRuntime::Recover() {
  auto files = StorageFiles::Open(options_.data);
  if (!files.ok()) return files.status();
  files_ = std::move(*files);
  auto storage = ReadNodeStorage(options_.data);
  if (!storage.ok()) return storage.status();
  const RecoveryMode mode =
      options_.recovery == "truncate" ? RecoveryMode::kTruncate : RecoveryMode::kProtocol;
  const RecoveryPlan plan = PlanRecovery(*storage, mode);
  FAULTFS_RETURN_IF_ERROR(ApplyRecovery(*files_, plan));
  events_.Emit("recovered", {{"torn", plan.torn},
                             {"damaged", plan.damaged},
                             {"truncated", plan.truncated},
                             {"records_rewritten", plan.rewrite_records.size()},
                             {"last_index", plan.log.size()}});
  Wire(plan, *storage);
  return Status::Ok();
}

void NodeRuntime::Wire(const RecoveryPlan& plan, const NodeStorage& storage) {
  disk_ = std::make_unique<DiskWorker>(*files_, io_);
  RaftOptions raft_options;
  raft_options.id = options_.id;
  for (const auto& [peer, address] : options_.peers) raft_options.peers.push_back(peer);
  raft_options.election_timeout_ms = options_.election_timeout_ms;
  raft_options.heartbeat_ms = options_.heartbeat_ms;
  raft_options.seed = options_.seed;
  // Meta copies were written but none survives: the latest vote is unknown.
  const bool meta_lost = !storage.meta && storage.meta_files > 0;
  raft_ = std::make_unique<Raft>(raft_options, *this, plan, storage.meta, meta_lost);
  ctx_ = NodeContext{options_.id,
                     raft_options.peers,
                     options_.repair == "newest",
                     options_.heartbeat_ms,
                     options_.election_timeout_ms,
                     raft_.get(),
                     disk_.get(),
                     &events_,
                     [this](int to, const nlohmann::json& m) { Send(to, m); },
                     [this](std::function<void()> fn) { Defer(std::move(fn)); }};
  fetcher_ = std::make_unique<Fetcher>(ctx_);
  repairer_ = std::make_unique<Repairer>(ctx_, *fetcher_);
  if (options_.scrub) scrubber_ = std::make_unique<Scrubber>(ctx_, *fetcher_);
  reads_ = std::make_unique<ReadCoordinator>(ctx_, *fetcher_, *repairer_);
  clients_ = std::make_unique<ClientServer>(ctx_, *reads_, options_.queue);
  raft_->on_commit = [this](uint64_t commit) { clients_->OnCommit(commit); };
  raft_->on_role = [this](Role role) { clients_->OnRole(role); };
  raft_->on_round_confirmed = [this](uint64_t round) { reads_->OnRoundConfirmed(round); };
}

Status NodeRuntime::Listen() {
  for (const auto& [peer, address] : options_.peers) {
    auto endpoint = ParseEndpoint(address);
    if (!endpoint.ok()) return endpoint.status();
    links_[peer] = std::make_unique<PeerLink>(io_, *endpoint);
    links_[peer]->Start();
  }
  auto peers = Listener::Bind(
      io_, options_.peer_port,
      [this](const std::shared_ptr<Connection>&, const nlohmann::json& m) { OnPeerMessage(m); });
  if (!peers.ok()) return peers.status();
  peer_listener_ = std::move(*peers);
  auto clients =
      Listener::Bind(io_, options_.client_port,
                     [this](const std::shared_ptr<Connection>& c, const nlohmann::json& m) {
                       // Another run's client, on a port its node had: not ours.
                       if (!SameCluster(m, options_.cluster)) return c->Close();
                       clients_->Handle(c, m);
                     });
  if (!clients.ok()) return clients.status();
  client_listener_ = std::move(*clients);
  return Status::Ok();
}

void NodeRuntime::Run() { io_.run(); }

void NodeRuntime::OnPeerMessage(const nlohmann::json& message) {
  // Another run's node (its proxies still aim at a port this node now has): never act on it.
  if (!SameCluster(message, options_.cluster)) return;
  const std::string type = MessageType(message);
  if (type == "vote_req") {
    if (auto m = ParseVoteRequest(message); m && IsPeer(m->from)) raft_->HandleVoteRequest(*m);
  } else if (type == "vote") {
    if (auto m = ParseVoteReply(message); m && IsPeer(m->from)) raft_->HandleVoteReply(*m);
  } else if (type == "append") {
    if (auto m = ParseAppendRequest(message); m && IsPeer(m->from)) raft_->HandleAppend(*m);
  } else if (type == "append_ack") {
    if (auto m = ParseAppendAck(message); m && IsPeer(m->from)) raft_->HandleAppendAck(*m);
  } else if (type == "fetch") {
    if (auto m = ParseFetchRequest(message); m && IsPeer(m->from)) fetcher_->Serve(*m);
  } else if (type == "fetch_reply") {
    if (auto m = ParseFetchReply(message); m && IsPeer(m->from)) fetcher_->HandleReply(*m);
  } else if (type == "repair") {
    if (auto m = ParseRepairRequest(message); m && IsPeer(m->from)) repairer_->HandleRepair(*m);
  }
}

void NodeRuntime::ScheduleTick() {
  const int period_ms = std::max(1, std::min(10, options_.heartbeat_ms / 2));
  tick_.expires_after(std::chrono::milliseconds(period_ms));
  tick_.async_wait([this](asio::error_code ec) {
    if (ec) return;
    raft_->Tick();
    const double now = NowMs();
    repairer_->Tick(now);
    if (scrubber_) scrubber_->Tick(now);
    reads_->Tick(now);
    clients_->Tick(now);
    ScheduleTick();
  });
}

void NodeRuntime::Send(int to, const nlohmann::json& message) {
  const auto it = links_.find(to);
  if (it == links_.end()) return;
  if (options_.cluster == 0) return it->second->Send(EncodeFrame(message));
  nlohmann::json stamped = message;
  stamped["cluster"] = options_.cluster;
  it->second->Send(EncodeFrame(stamped));
}

void NodeRuntime::WriteEntries(std::vector<SlotWrite> writes, std::function<void()> done) {
  disk_->WriteEntries(std::move(writes), std::move(done));
}

void NodeRuntime::CutAfter(uint64_t keep, std::function<void()> done) {
  disk_->CutAfter(keep, std::move(done));
}

void NodeRuntime::WriteMeta(StoredMeta meta, std::function<void()> done) {
  disk_->WriteMeta(meta, std::move(done));
}

void NodeRuntime::Defer(std::function<void()> fn) { asio::post(io_, std::move(fn)); }

void NodeRuntime::Emit(const std::string& event, const nlohmann::json& fields) {
  events_.Emit(event, fields);
}

double NodeRuntime::NowMs() { return MonotonicMs(); }

}  // namespace faultfs::harness::node
