#include "reads.h"

#include <algorithm>
#include <vector>

namespace faultfs::harness::node {
namespace {

// How long the answers of the fetch may take once the round is confirmed.
double FetchWindowMs(const NodeContext& ctx) { return std::max(250.0, 4.0 * ctx.heartbeat_ms); }
// How long a read decided without every answer waits for the others, to repair them too.
double LateWindowMs(const NodeContext& ctx) {
  return std::max(1000.0, 2.0 * ctx.election_timeout_ms);
}

}  // namespace

void ReadCoordinator::Start(uint64_t index, Reply reply) {
  const uint64_t id = next_id_++;
  Read& read = reads_[id];
  read.index = index;
  read.reply = std::move(reply);
  read.deadline_ms = MonotonicMs() + ctx_.election_timeout_ms;
  StartRoundSoon();
}

void ReadCoordinator::StartRoundSoon() {
  if (round_requested_) return;
  round_requested_ = true;
  // The reads that arrive in one burst share one heartbeat round.
  ctx_.defer([this] {
    round_requested_ = false;
    if (ctx_.raft->role() != Role::kLeader) return;
    const uint64_t round = ctx_.raft->StartRound();
    for (auto& [id, read] : reads_) {
      if (read.round == 0) read.round = round;
    }
    OnRoundConfirmed(ctx_.raft->confirmed_round());
  });
}

void ReadCoordinator::OnRoundConfirmed(uint64_t round) {
  std::vector<uint64_t> ready;
  for (const auto& [id, read] : reads_) {
    if (read.round != 0 && read.round <= round && read.fetch_id == 0) ready.push_back(id);
  }
  for (const uint64_t id : ready) {
    const Read& read = reads_.at(id);
    if (read.index == 0) {
      Finish(id, "error");
    } else if (read.index > ctx_.raft->commit_index()) {
      Finish(id, "not_committed");
    } else {
      BeginFetch(id);
    }
  }
}

void ReadCoordinator::BeginFetch(uint64_t id) {
  std::vector<int> targets = ctx_.peers;
  targets.push_back(ctx_.id);
  Read& read = reads_.at(id);
  read.deadline_ms = MonotonicMs() + FetchWindowMs(ctx_);
  read.fetch_id =
      fetcher_.Fetch(read.index, targets, [this, id](const FetchReply& r) { OnAnswer(id, r); });
}

void ReadCoordinator::OnAnswer(uint64_t id, const FetchReply& reply) {
  const auto it = reads_.find(id);
  if (it == reads_.end()) {
    OnLateAnswer(id, reply);
    return;
  }
  if (reply.index != it->second.index) return;
  it->second.answers[reply.from] = reply;
  if (it->second.answers.size() == ctx_.raft->cluster_size()) Decide(id);
}

void ReadCoordinator::OnLateAnswer(uint64_t id, const FetchReply& reply) {
  const auto it = decided_.find(id);
  if (it == decided_.end() || reply.index != it->second.index) return;
  Decided& d = it->second;
  if (d.waiting.erase(reply.from) == 0) return;
  if (ctx_.raft->role() == Role::kLeader && ctx_.raft->term() == d.term)
    RepairReplica(d.index, reply.from, reply, d.entry);
  if (d.waiting.empty()) {
    fetcher_.Forget(d.fetch_id);
    decided_.erase(it);
  }
}

void ReadCoordinator::ForgetDecided() {
  for (const auto& [id, d] : decided_) fetcher_.Forget(d.fetch_id);
  decided_.clear();
}

void ReadCoordinator::Tick(double now_ms) {
  std::erase_if(decided_, [this, now_ms](const auto& item) {
    if (now_ms < item.second.until_ms) return false;
    fetcher_.Forget(item.second.fetch_id);
    return true;
  });
  std::vector<uint64_t> late;
  for (const auto& [id, read] : reads_) {
    if (now_ms >= read.deadline_ms) late.push_back(id);
  }
  for (const uint64_t id : late) {
    const Read& read = reads_.at(id);
    if (read.fetch_id == 0) {
      Finish(id, "not_leader");  // no majority acknowledged a round: maybe deposed
    } else if (read.answers.size() >= ctx_.raft->majority()) {
      Decide(id);
    } else {
      Finish(id, "error");
    }
  }
}

void ReadCoordinator::OnLostLeadership() {
  std::vector<uint64_t> ids;
  for (const auto& [id, read] : reads_) ids.push_back(id);
  for (const uint64_t id : ids) Finish(id, "not_leader");
  ForgetDecided();
}

void ReadCoordinator::Finish(uint64_t id, const std::string& status, const std::string& value,
                             bool keep_fetch) {
  auto node = reads_.extract(id);
  if (node.empty()) return;
  if (!keep_fetch) fetcher_.Forget(node.mapped().fetch_id);
  node.mapped().reply(status, node.mapped().index, value);
}

void ReadCoordinator::Decide(uint64_t id) {
  if (ctx_.raft->role() != Role::kLeader) {
    Finish(id, "not_leader");
    return;
  }
  const Read& read = reads_.at(id);
  const FetchReply* chosen = ctx_.repair_newest ? ChooseNewest(read) : ChooseVerified(read);
  if (chosen == nullptr) {
    Finish(id, "error");  // no copy good enough among the answers
    return;
  }
  const FetchReply copy = *chosen;
  RepairReplicas(read, copy);
  const bool all_answered = read.answers.size() == ctx_.raft->cluster_size();
  if (!all_answered) {
    Decided& d = decided_[id];
    d.index = read.index;
    d.fetch_id = read.fetch_id;
    d.term = ctx_.raft->term();
    d.entry = copy.entry;
    for (int node : ctx_.peers) {
      if (read.answers.count(node) == 0) d.waiting.insert(node);
    }
    if (read.answers.count(ctx_.id) == 0) d.waiting.insert(ctx_.id);
    d.until_ms = MonotonicMs() + LateWindowMs(ctx_);
  }
  Finish(id, "ok", DecodeEntry(copy.entry)->value, /*keep_fetch=*/!all_answered);
}

const FetchReply* ReadCoordinator::ChooseVerified(const Read& read) const {
  const LogEntry* mine = ctx_.raft->log().At(read.index);
  for (const auto& [node, answer] : read.answers) {
    if (!answer.found || !answer.verified) continue;
    if (mine != nullptr && mine->checksum_known && EntryChecksum(answer.entry) != mine->checksum)
      continue;
    const auto entry = DecodeEntry(answer.entry);
    if (entry && entry->index == read.index) return &answer;
  }
  return nullptr;
}

const FetchReply* ReadCoordinator::ChooseNewest(const Read& read) const {
  const FetchReply* best = nullptr;
  uint64_t best_term = 0;
  for (const auto& [node, answer] : read.answers) {  // by ascending node id
    if (!answer.found) continue;
    const auto entry = DecodeEntry(answer.entry);
    if (!entry || entry->index != read.index) continue;
    const bool newer =
        best == nullptr || entry->term > best_term || (entry->term == best_term && node == ctx_.id);
    if (newer) {
      best = &answer;
      best_term = entry->term;
    }
  }
  return best;
}

void ReadCoordinator::RepairReplicas(const Read& read, const FetchReply& chosen) {
  for (const auto& [node, answer] : read.answers)
    RepairReplica(read.index, node, answer, chosen.entry);
}

void ReadCoordinator::RepairReplica(uint64_t index, int node, const FetchReply& answer,
                                    const std::string& entry) {
  if (!answer.found) return;  // lags: replication brings the entry
  if (answer.verified && answer.entry == entry) return;
  const RepairRequest repair{ctx_.id, ctx_.raft->term(), index, entry};
  if (node == ctx_.id) {
    repairer_.HandleRepair(repair);
  } else {
    ctx_.send(node, ToJson(repair));
  }
  ctx_.events->Emit("read_repair", {{"index", index}, {"to", node}});
}

}  // namespace faultfs::harness::node
