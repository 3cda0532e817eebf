// The client side of a node (docs/harness.md, "Protocol"): c_append and c_read over ordinary
// request/response connections, answered with c_reply.
//  * Requests wait in a bounded queue (appends until committed, reads until decided); a request
//    that finds it full is answered busy at once.
//  * A (client, req) already in the log is not appended again: the reply names the index it
//    already has, once that index is committed.
//  * A node that is not leader answers not_leader with the leader it knows (-1: none); a leader
//    that loses leadership answers its waiting requests not_leader (their entries may still
//    commit: the client's retry finds them through the request table).
//  * A request that waits too long is dropped without an answer (its outcome is unknown; the
//    client times out), freeing its place in the queue.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>

#include "context.h"
#include "net.h"
#include "reads.h"

namespace faultfs::harness::node {

class ClientServer {
 public:
  ClientServer(NodeContext& ctx, ReadCoordinator& reads, size_t queue_limit)
      : ctx_(ctx), reads_(reads), queue_limit_(queue_limit) {}

  void Handle(const std::shared_ptr<Connection>& connection, const nlohmann::json& message);
  void OnCommit(uint64_t commit);
  void OnRole(Role role);
  void Tick(double now_ms);
  size_t queued() const { return appends_.size() + reads_.in_flight(); }

 private:
  struct Waiting {
    std::weak_ptr<Connection> connection;
    int64_t req = 0;
    double expires_ms = 0;
  };
  void HandleAppend(const std::shared_ptr<Connection>& connection, const ClientAppend& m);
  void HandleRead(const std::shared_ptr<Connection>& connection, const ClientRead& m);
  void Reply(const std::weak_ptr<Connection>& connection, int64_t req, const std::string& status,
             uint64_t index = 0, const std::string& value = "");
  // Answers busy (and records the event) when the queue is full.
  bool RefuseWhenFull(const std::shared_ptr<Connection>& connection, int64_t req);

  NodeContext& ctx_;
  ReadCoordinator& reads_;
  size_t queue_limit_;
  std::multimap<uint64_t, Waiting> appends_;  // by log index
};

}  // namespace faultfs::harness::node
