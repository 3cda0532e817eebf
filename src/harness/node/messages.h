// The node's messages (docs/harness.md, "Wire format"), typed. Parsing checks every field's
// presence and type: a message that does not parse is dropped, never half-used. Entries and
// values travel as MessagePack bin (a string is accepted too, for values).
//
// Beyond the contract's fields: `append` and `append_ack` carry `seq` (the leader's heartbeat
// round, echoed back, so a leader can tell which round an acknowledgement answers: a read's
// "still leader" check needs acknowledgements of a round sent after the read arrived).
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

namespace faultfs::harness::node {

struct VoteRequest {
  int from = 0;
  uint64_t term = 0, last_index = 0, last_term = 0;
};
struct VoteReply {
  int from = 0;
  uint64_t term = 0;
  bool granted = false;
};
struct AppendRequest {
  int from = 0;
  uint64_t term = 0, prev_index = 0, prev_term = 0, commit = 0, seq = 0;
  std::vector<std::string> entries;  // encoded entries prev_index + 1, ...
};
struct AppendAck {
  int from = 0;
  uint64_t term = 0;
  bool ok = false;
  uint64_t match = 0;  // ok: last durable index known to match the leader; else where to resume
  uint64_t seq = 0;
};
struct FetchRequest {
  int from = 0;
  uint64_t id = 0, index = 0;
};
struct FetchReply {
  int from = 0;
  uint64_t id = 0, index = 0;
  bool found = false;
  std::string entry;  // the encoded entry as the slot holds it, verified or not
  bool verified = false;
};
struct RepairRequest {
  int from = 0;
  uint64_t term = 0, index = 0;
  std::string entry;
};
struct ClientAppend {
  int64_t client = 0, req = 0;
  std::string value;
};
struct ClientRead {
  int64_t client = 0, req = 0;
  uint64_t index = 0;
};
struct ClientReply {
  int64_t req = 0;
  std::string status;  // ok, busy, not_leader, not_committed, error
  uint64_t index = 0;
  std::string value;
  int leader = -1;  // the leader's node id when known, else -1
};

nlohmann::json ToJson(const VoteRequest& m);
nlohmann::json ToJson(const VoteReply& m);
nlohmann::json ToJson(const AppendRequest& m);
nlohmann::json ToJson(const AppendAck& m);
nlohmann::json ToJson(const FetchRequest& m);
nlohmann::json ToJson(const FetchReply& m);
nlohmann::json ToJson(const RepairRequest& m);
nlohmann::json ToJson(const ClientReply& m);

std::optional<VoteRequest> ParseVoteRequest(const nlohmann::json& j);
std::optional<VoteReply> ParseVoteReply(const nlohmann::json& j);
std::optional<AppendRequest> ParseAppendRequest(const nlohmann::json& j);
std::optional<AppendAck> ParseAppendAck(const nlohmann::json& j);
std::optional<FetchRequest> ParseFetchRequest(const nlohmann::json& j);
std::optional<FetchReply> ParseFetchReply(const nlohmann::json& j);
std::optional<RepairRequest> ParseRepairRequest(const nlohmann::json& j);
std::optional<ClientAppend> ParseClientAppend(const nlohmann::json& j);
std::optional<ClientRead> ParseClientRead(const nlohmann::json& j);

// The message's "t", or "" when it has none.
std::string MessageType(const nlohmann::json& j);

}  // namespace faultfs::harness::node
