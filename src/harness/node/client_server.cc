#include "client_server.h"

#include "faultfs/harness/wire.h"

namespace faultfs::harness::node {
namespace {

constexpr double kRequestLifetimeMs = 10'000;

}  // namespace

void ClientServer::Handle(const std::shared_ptr<Connection>& connection,
                          const nlohmann::json& message) {
  const std::string type = MessageType(message);
  if (type == "c_append") {
    if (const auto m = ParseClientAppend(message)) return HandleAppend(connection, *m);
  } else if (type == "c_read") {
    if (const auto m = ParseClientRead(message)) return HandleRead(connection, *m);
  }
  // Not a request this node understands: answer it when it names a req, else ignore it.
  const auto req = message.find("req");
  if (req != message.end() && req->is_number_integer())
    Reply(connection, req->get<int64_t>(), "error");
}

void ClientServer::HandleAppend(const std::shared_ptr<Connection>& connection,
                                const ClientAppend& m) {
  Raft& raft = *ctx_.raft;
  if (m.value.size() > kMaxValueBytes || m.client == kNoopClient) {
    Reply(connection, m.req, "error");
    return;
  }
  if (raft.role() != Role::kLeader) {
    Reply(connection, m.req, "not_leader");
    return;
  }
  if (RefuseWhenFull(connection, m.req)) return;
  const double expires = MonotonicMs() + kRequestLifetimeMs;
  if (const auto index = raft.log().FindRequest(m.client, m.req)) {
    if (*index <= raft.commit_index()) {
      Reply(connection, m.req, "ok", *index);
    } else {
      appends_.emplace(*index, Waiting{connection, m.req, expires});
    }
    return;
  }
  if (raft.log().requests_incomplete()) {
    // A damaged entry's request is unknown until it is repaired: appending now could apply a
    // request twice.
    ctx_.events->Emit("busy", {{"reason", "repairing"}});
    Reply(connection, m.req, "busy");
    return;
  }
  appends_.emplace(raft.Propose(m.client, m.req, m.value), Waiting{connection, m.req, expires});
}

void ClientServer::HandleRead(const std::shared_ptr<Connection>& connection, const ClientRead& m) {
  if (ctx_.raft->role() != Role::kLeader) {
    Reply(connection, m.req, "not_leader");
    return;
  }
  if (RefuseWhenFull(connection, m.req)) return;
  std::weak_ptr<Connection> weak = connection;
  reads_.Start(m.index, [this, weak, req = m.req](const std::string& status, uint64_t index,
                                                  const std::string& value) {
    Reply(weak, req, status, index, value);
  });
}

bool ClientServer::RefuseWhenFull(const std::shared_ptr<Connection>& connection, int64_t req) {
  if (queued() < queue_limit_) return false;
  ctx_.events->Emit("busy", {{"queued", queued()}});
  Reply(connection, req, "busy");
  return true;
}

void ClientServer::OnCommit(uint64_t commit) {
  while (!appends_.empty() && appends_.begin()->first <= commit) {
    const auto node = appends_.extract(appends_.begin());
    Reply(node.mapped().connection, node.mapped().req, "ok", node.key());
  }
}

void ClientServer::OnRole(Role role) {
  if (role == Role::kLeader) return;
  while (!appends_.empty()) {
    const auto node = appends_.extract(appends_.begin());
    Reply(node.mapped().connection, node.mapped().req, "not_leader");
  }
  reads_.OnLostLeadership();
}

void ClientServer::Tick(double now_ms) {
  std::erase_if(appends_, [now_ms](const auto& item) { return item.second.expires_ms <= now_ms; });
}

void ClientServer::Reply(const std::weak_ptr<Connection>& connection, int64_t req,
                         const std::string& status, uint64_t index, const std::string& value) {
  const auto c = connection.lock();
  if (!c || !c->open()) return;
  const int leader = ctx_.raft->role() == Role::kLeader ? ctx_.id : ctx_.raft->leader();
  c->Send(EncodeFrame(ToJson(ClientReply{req, status, index, value, leader})));
}

}  // namespace faultfs::harness::node
