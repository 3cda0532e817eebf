#include "messages.h"

#include <limits>

namespace faultfs::harness::node {
namespace {

using nlohmann::json;

json Bin(const std::string& bytes) {
  return json::binary(std::vector<uint8_t>(bytes.begin(), bytes.end()));
}

// Reads typed fields; any missing or mistyped one makes the whole message invalid.
class Fields {
 public:
  explicit Fields(const json& j) : j_(j) {}
  bool ok() const { return ok_; }

  const json* Find(const char* key) {
    const auto it = j_.find(key);
    if (it == j_.end()) ok_ = false;
    return it == j_.end() ? nullptr : &*it;
  }
  uint64_t U64(const char* key) {
    const json* v = Find(key);
    if (v != nullptr && v->is_number_unsigned()) return v->get<uint64_t>();
    if (v != nullptr && v->is_number_integer() && v->get<int64_t>() >= 0)
      return static_cast<uint64_t>(v->get<int64_t>());
    ok_ = false;
    return 0;
  }
  int64_t I64(const char* key) {
    const json* v = Find(key);
    if (v != nullptr && v->is_number_integer() &&
        (!v->is_number_unsigned() ||
         v->get<uint64_t>() <= static_cast<uint64_t>(std::numeric_limits<int64_t>::max())))
      return v->get<int64_t>();
    ok_ = false;
    return 0;
  }
  int Node(const char* key) {
    const int64_t v = I64(key);
    if (v < -1 || v > std::numeric_limits<int>::max()) ok_ = false;
    return ok_ ? static_cast<int>(v) : 0;
  }
  bool Bool(const char* key) {
    const json* v = Find(key);
    if (v != nullptr && v->is_boolean()) return v->get<bool>();
    ok_ = false;
    return false;
  }
  std::string Bytes(const char* key) {
    const json* v = Find(key);
    if (v != nullptr) {
      if (auto bytes = BytesOf(*v)) return *bytes;
    }
    ok_ = false;
    return {};
  }
  std::vector<std::string> BytesArray(const char* key) {
    std::vector<std::string> out;
    const json* v = Find(key);
    if (v == nullptr || !v->is_array()) {
      ok_ = false;
      return out;
    }
    for (const json& item : *v) {
      auto bytes = BytesOf(item);
      if (!bytes) ok_ = false;
      if (!bytes) return {};
      out.push_back(std::move(*bytes));
    }
    return out;
  }

 private:
  static std::optional<std::string> BytesOf(const json& v) {
    if (v.is_binary()) return std::string(v.get_binary().begin(), v.get_binary().end());
    if (v.is_string()) return v.get<std::string>();
    return std::nullopt;
  }
  const json& j_;
  bool ok_ = true;
};

template <typename T>
std::optional<T> IfValid(Fields& f, T message) {
  if (!f.ok()) return std::nullopt;
  return message;
}

}  // namespace

std::string MessageType(const json& j) {
  const auto it = j.find("t");
  return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}

json ToJson(const VoteRequest& m) {
  return {{"t", "vote_req"},
          {"from", m.from},
          {"term", m.term},
          {"last_index", m.last_index},
          {"last_term", m.last_term}};
}
json ToJson(const VoteReply& m) {
  return {{"t", "vote"}, {"from", m.from}, {"term", m.term}, {"granted", m.granted}};
}
json ToJson(const AppendRequest& m) {
  json entries = json::array();
  for (const auto& e : m.entries) entries.push_back(Bin(e));
  return {{"t", "append"},
          {"from", m.from},
          {"term", m.term},
          {"prev_index", m.prev_index},
          {"prev_term", m.prev_term},
          {"entries", std::move(entries)},
          {"commit", m.commit},
          {"seq", m.seq}};
}
json ToJson(const AppendAck& m) {
  return {{"t", "append_ack"}, {"from", m.from},   {"term", m.term},
          {"ok", m.ok},        {"match", m.match}, {"seq", m.seq}};
}
json ToJson(const FetchRequest& m) {
  return {{"t", "fetch"}, {"from", m.from}, {"id", m.id}, {"index", m.index}};
}
json ToJson(const FetchReply& m) {
  return {{"t", "fetch_reply"},    {"from", m.from},   {"id", m.id},
          {"index", m.index},      {"found", m.found}, {"entry", Bin(m.entry)},
          {"verified", m.verified}};
}
json ToJson(const RepairRequest& m) {
  return {{"t", "repair"},
          {"from", m.from},
          {"term", m.term},
          {"index", m.index},
          {"entry", Bin(m.entry)}};
}
json ToJson(const ClientReply& m) {
  return {{"t", "c_reply"},   {"req", m.req},          {"status", m.status},
          {"index", m.index}, {"value", Bin(m.value)}, {"leader", m.leader}};
}

std::optional<VoteRequest> ParseVoteRequest(const json& j) {
  Fields f(j);
  return IfValid(
      f, VoteRequest{f.Node("from"), f.U64("term"), f.U64("last_index"), f.U64("last_term")});
}
std::optional<VoteReply> ParseVoteReply(const json& j) {
  Fields f(j);
  return IfValid(f, VoteReply{f.Node("from"), f.U64("term"), f.Bool("granted")});
}
std::optional<AppendRequest> ParseAppendRequest(const json& j) {
  Fields f(j);
  AppendRequest m;
  m.from = f.Node("from");
  m.term = f.U64("term");
  m.prev_index = f.U64("prev_index");
  m.prev_term = f.U64("prev_term");
  m.commit = f.U64("commit");
  m.seq = j.contains("seq") ? f.U64("seq") : 0;
  m.entries = f.BytesArray("entries");
  return IfValid(f, std::move(m));
}
std::optional<AppendAck> ParseAppendAck(const json& j) {
  Fields f(j);
  AppendAck m{f.Node("from"), f.U64("term"), f.Bool("ok"), f.U64("match"), 0};
  m.seq = j.contains("seq") ? f.U64("seq") : 0;
  return IfValid(f, m);
}
std::optional<FetchRequest> ParseFetchRequest(const json& j) {
  Fields f(j);
  return IfValid(f, FetchRequest{f.Node("from"), f.U64("id"), f.U64("index")});
}
std::optional<FetchReply> ParseFetchReply(const json& j) {
  Fields f(j);
  FetchReply m;
  m.from = f.Node("from");
  m.id = f.U64("id");
  m.index = f.U64("index");
  m.found = f.Bool("found");
  m.entry = f.Bytes("entry");
  m.verified = f.Bool("verified");
  return IfValid(f, std::move(m));
}
std::optional<RepairRequest> ParseRepairRequest(const json& j) {
  Fields f(j);
  RepairRequest m;
  m.from = f.Node("from");
  m.term = f.U64("term");
  m.index = f.U64("index");
  m.entry = f.Bytes("entry");
  return IfValid(f, std::move(m));
}
std::optional<ClientAppend> ParseClientAppend(const json& j) {
  Fields f(j);
  ClientAppend m;
  m.client = f.I64("client");
  m.req = f.I64("req");
  m.value = f.Bytes("value");
  return IfValid(f, std::move(m));
}
std::optional<ClientRead> ParseClientRead(const json& j) {
  Fields f(j);
  return IfValid(f, ClientRead{f.I64("client"), f.I64("req"), f.U64("index")});
}

}  // namespace faultfs::harness::node
