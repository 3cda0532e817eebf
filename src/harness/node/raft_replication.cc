// Raft: AppendEntries on both sides, durability, commit, heartbeat rounds and repairs.
#include <algorithm>

#include "raft.h"

namespace faultfs::harness::node {
namespace {

// An append carries at most this much, well under the 1 MiB frame limit.
constexpr size_t kMaxAppendEntries = 256;
constexpr size_t kMaxAppendBytes = size_t{256} * 1024;
// Entries sent to a follower beyond what it acknowledged (pipelining window).
constexpr uint64_t kMaxInflightEntries = 2048;

}  // namespace

LogEntry Raft::MakeEntry(const Entry& entry, const std::string& encoded) const {
  LogEntry e;
  e.term = entry.term;
  e.checksum = EntryChecksum(encoded);
  e.encoded = encoded;
  e.client = entry.client;
  e.req = entry.req;
  return e;
}

uint64_t Raft::Propose(int64_t client, int64_t req, const std::string& value) {
  FAULTFS_CHECK(role_ == Role::kLeader) << "Propose on a node that is not leader";
  const Entry entry{log_.last_index() + 1, term_, client, req, value};
  const std::string encoded = EncodeEntry(entry);
  std::vector<SlotWrite> writes{{entry.index, entry.term, encoded}};
  std::vector<std::pair<uint64_t, uint64_t>> gens{
      {entry.index, log_.Append(MakeEntry(entry, encoded))}};
  std::vector<int> repaired_from{-1};
  SubmitWrites(writes, gens, repaired_from);
  ScheduleReplication();
  return entry.index;
}

void Raft::SubmitWrites(std::vector<SlotWrite>& writes,
                        std::vector<std::pair<uint64_t, uint64_t>>& gens,
                        std::vector<int>& repaired_from) {
  if (writes.empty()) return;
  env_.WriteEntries(std::move(writes),
                    [this, gens, repaired_from] { OnDurable(gens, repaired_from); });
  writes.clear();
  gens.clear();
  repaired_from.clear();
}

void Raft::OnDurable(const std::vector<std::pair<uint64_t, uint64_t>>& written,
                     const std::vector<int>& repaired_from) {
  for (size_t k = 0; k < written.size(); ++k) {
    const auto [index, generation] = written[k];
    if (log_.MarkDurable(index, generation) && repaired_from[k] >= 0)
      env_.Emit("repaired", {{"index", index}, {"from", repaired_from[k]}});
  }
  if (role_ == Role::kLeader) {
    MaybeAdvanceCommit();
  } else {
    ScheduleDurableAck();
  }
}

void Raft::ScheduleReplication() {
  if (replication_scheduled_) return;
  replication_scheduled_ = true;
  // Proposals of one burst leave in one append per follower.
  env_.Defer([this] {
    replication_scheduled_ = false;
    if (role_ != Role::kLeader) return;
    for (auto& [peer, p] : progress_) {
      if (p.next <= log_.last_index()) SendAppend(peer);
    }
  });
}

void Raft::BroadcastAppends() {
  ++round_;
  for (int peer : options_.peers) SendAppend(peer);
  UpdateConfirmedRound();  // a cluster of one confirms its own rounds
}

uint64_t Raft::StartRound() {
  FAULTFS_CHECK(role_ == Role::kLeader);
  BroadcastAppends();
  return round_;
}

void Raft::SendAppend(int peer) {
  Progress& p = progress_[peer];
  const uint64_t last = log_.last_index();
  p.next = std::clamp<uint64_t>(p.next, p.match + 1, last + 1);
  AppendRequest m;
  m.from = options_.id;
  m.term = term_;
  m.prev_index = p.next - 1;
  m.prev_term = log_.TermAt(m.prev_index);
  m.commit = commit_;
  m.seq = round_;
  size_t bytes = 0;
  const bool window_open = m.prev_index - p.match < kMaxInflightEntries;
  for (uint64_t i = p.next; window_open && i <= last; ++i) {
    const LogEntry* e = log_.At(i);
    if (!e->bytes_known() || m.entries.size() >= kMaxAppendEntries || bytes >= kMaxAppendBytes)
      break;
    bytes += e->encoded.size();
    m.entries.push_back(e->encoded);
  }
  p.next = m.prev_index + 1 + m.entries.size();  // optimistic: the next append follows this one
  env_.Send(peer, ToJson(m));
}

void Raft::HandleAppendAck(const AppendAck& m) {
  if (m.term > term_) {
    StepDown(m.term);
    return;
  }
  if (role_ != Role::kLeader || m.term != term_) return;
  const auto it = progress_.find(m.from);
  if (it == progress_.end()) return;
  Progress& p = it->second;
  p.last_heard_ms = env_.NowMs();
  if (m.seq > p.acked_seq) {
    p.acked_seq = m.seq;
    UpdateConfirmedRound();
  }
  if (m.ok) {
    const uint64_t match = std::min(m.match, log_.last_index());
    if (match > p.match) {
      p.match = match;
      p.last_progress_ms = env_.NowMs();
      MaybeAdvanceCommit();
    }
    p.next = std::max(p.next, p.match + 1);
    if (p.next <= log_.last_index()) SendAppend(m.from);
    return;
  }
  // Rejected: resume where the follower says its log may still match.
  p.next = std::max(p.match + 1, std::min(p.next, m.match + 1));
  SendAppend(m.from);
}

void Raft::MaybeAdvanceCommit() {
  std::vector<uint64_t> matches{log_.durable_prefix()};
  for (const auto& [peer, p] : progress_) matches.push_back(p.match);
  std::sort(matches.begin(), matches.end(), std::greater<>());
  const uint64_t n = matches[majority() - 1];
  // Only an entry of this term is committed by counting (Raft, section 5.4.2).
  if (n > commit_ && log_.TermAt(n) == term_) {
    commit_ = n;
    if (on_commit) on_commit(commit_);
  }
}

void Raft::UpdateConfirmedRound() {
  std::vector<uint64_t> seqs{round_};
  for (const auto& [peer, p] : progress_) seqs.push_back(p.acked_seq);
  std::sort(seqs.begin(), seqs.end(), std::greater<>());
  const uint64_t confirmed = seqs[majority() - 1];
  if (confirmed <= confirmed_round_) return;
  confirmed_round_ = confirmed;
  if (on_round_confirmed) on_round_confirmed(confirmed_round_);
}

void Raft::HandleAppend(const AppendRequest& m) {
  if (m.term < term_) {
    env_.Send(m.from, ToJson(AppendAck{options_.id, term_, false, 0, m.seq}));
    return;
  }
  if (m.term == term_ && role_ == Role::kLeader) return;  // two leaders in one term: impossible
  if (m.term > term_ || role_ != Role::kFollower) StepDown(m.term);
  AcceptLeader(m.from);
  leader_contact_ms_ = env_.NowMs();
  detector_.Heartbeat(env_.NowMs());
  ResetElectionDeadline();
  leader_seq_ = std::max(leader_seq_, m.seq);
  if (m.prev_index > log_.last_index()) {
    Reject(m, log_.last_index());
    return;
  }
  if (m.prev_index > 0 &&
      (!log_.TermKnown(m.prev_index) || log_.TermAt(m.prev_index) != m.prev_term)) {
    // Skip the whole run of the conflicting term, but never below what is committed (which
    // every leader holds).
    uint64_t hint = m.prev_index - 1;
    if (log_.TermKnown(m.prev_index))
      hint = std::min(hint, log_.FirstIndexOfTerm(m.prev_index) - 1);
    Reject(m, std::max(hint, std::min(commit_, m.prev_index - 1)));
    return;
  }
  match_leader_ = std::max(match_leader_, AcceptEntries(m));
  if (m.commit > commit_) commit_ = std::max(commit_, std::min(m.commit, match_leader_));
  const uint64_t match = std::min(log_.durable_prefix(), match_leader_);
  acked_match_ = std::max(acked_match_, match);
  env_.Send(m.from, ToJson(AppendAck{options_.id, term_, true, match, leader_seq_}));
}

void Raft::Reject(const AppendRequest& m, uint64_t hint) {
  env_.Send(m.from, ToJson(AppendAck{options_.id, term_, false, hint, leader_seq_}));
}

uint64_t Raft::AcceptEntries(const AppendRequest& m) {
  std::vector<SlotWrite> writes;
  std::vector<std::pair<uint64_t, uint64_t>> gens;
  std::vector<int> repaired_from;
  uint64_t index = m.prev_index;
  for (const std::string& bytes : m.entries) {
    const auto entry = DecodeEntry(bytes);
    if (!entry || entry->index != index + 1) break;  // malformed: keep what came before
    ++index;
    const LogEntry* local = log_.At(index);
    if (local != nullptr && !local->damaged && local->term == entry->term) continue;  // held
    if (local != nullptr && local->damaged &&
        (!local->checksum_known || local->term == entry->term)) {
      // The leader's copy of an entry held damaged: same index and term, so the same entry.
      gens.push_back({index, log_.Replace(index, MakeEntry(*entry, bytes))});
      writes.push_back({index, entry->term, bytes});
      repaired_from.push_back(m.from);
      continue;
    }
    if (local != nullptr) {
      // A conflict: this entry and all after it go (Raft, figure 2). Writes before the cut first.
      SubmitWrites(writes, gens, repaired_from);
      log_.TruncateAfter(index - 1);
      env_.CutAfter(index - 1, [] {});
    }
    gens.push_back({index, log_.Append(MakeEntry(*entry, bytes))});
    writes.push_back({index, entry->term, bytes});
    repaired_from.push_back(-1);
  }
  SubmitWrites(writes, gens, repaired_from);
  return index;
}

void Raft::ScheduleDurableAck() {
  if (durable_ack_scheduled_) return;
  durable_ack_scheduled_ = true;
  env_.Defer([this] {
    durable_ack_scheduled_ = false;
    SendDurableAck();
  });
}

void Raft::SendDurableAck() {
  if (role_ != Role::kFollower || leader_ < 0) return;
  const uint64_t match = std::min(log_.durable_prefix(), match_leader_);
  if (match <= acked_match_) return;
  acked_match_ = match;
  env_.Send(leader_, ToJson(AppendAck{options_.id, term_, true, match, leader_seq_}));
}

void Raft::InstallRepair(uint64_t index, const std::string& encoded, uint64_t term, int from) {
  const LogEntry* local = log_.At(index);
  const auto entry = DecodeEntry(encoded);
  if (local == nullptr || !entry || encoded.size() > kSlotBytes - kSlotHeaderBytes) return;
  LogEntry e = MakeEntry(*entry, encoded);
  e.term = term;
  const uint64_t generation = log_.Replace(index, std::move(e));
  env_.WriteEntries({{index, term, encoded}}, [this, index, generation, from] {
    OnDurable({{index, generation}}, {from});
  });
}

void Raft::MarkDamaged(uint64_t index, uint64_t generation) { log_.MarkDamaged(index, generation); }

}  // namespace faultfs::harness::node
