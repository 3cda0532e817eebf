// Raft: state, terms, votes and elections (replication is in raft_replication.cc).
#include "raft.h"

#include <algorithm>

namespace faultfs::harness::node {

Raft::Raft(const RaftOptions& options, RaftEnv& env, const RecoveryPlan& recovered,
           const std::optional<StoredMeta>& meta, bool meta_lost)
    : options_(options),
      env_(env),
      election_rng_(
          DeriveSeed(options.seed, "election-timeout/node-" + std::to_string(options.id))),
      detector_(options.heartbeat_ms, options.heartbeat_ms / 2.0) {
  LoadRecovered(recovered);
  if (meta) {
    term_ = meta->term;
    voted_for_ = meta->voted_for;
    meta_version_ = meta->version;
  } else if (meta_lost) {
    // Both copies are gone: this node may have voted in its latest term, so it will not vote
    // in it again (-2 is nobody's id).
    voted_for_ = -2;
  }
  if (log_.last_term() > term_) {
    term_ = log_.last_term();
    voted_for_ = -2;
  }
  ResetElectionDeadline();
}

void Raft::LoadRecovered(const RecoveryPlan& recovered) {
  for (const RecoveredEntry& r : recovered.log) {
    LogEntry e;
    e.term = r.term;
    e.checksum = r.checksum;
    e.checksum_known = r.checksum_known;
    e.damaged = r.damaged;
    e.durable = true;  // recovery made its records durable before the node started
    e.encoded = r.encoded;
    e.client = r.entry.client;
    e.req = r.entry.req;
    log_.Append(std::move(e));
  }
}

double Raft::RandomElectionTimeout() {
  const uint64_t t = static_cast<uint64_t>(options_.election_timeout_ms);
  return static_cast<double>(t + election_rng_.Below(t + 1));
}

void Raft::ResetElectionDeadline() {
  election_deadline_ms_ = env_.NowMs() + RandomElectionTimeout();
}

void Raft::Tick() {
  const double now = env_.NowMs();
  if (role_ == Role::kLeader) {
    if (now < next_heartbeat_ms_) return;
    next_heartbeat_ms_ = now + options_.heartbeat_ms;
    if (!HearsAMajority(now)) {
      // A leader that can send but not hear (a one-way partition) would hold its followers
      // with heartbeats while it commits nothing: it steps down so that they elect another.
      env_.Emit("stepped-down", {{"term", term_}});
      leader_ = -1;
      SetRole(Role::kFollower);
      ResetElectionDeadline();
      return;
    }
    for (auto& [peer, p] : progress_) {
      // Nothing acknowledged for a while: what was sent may be lost (a broken link drops its
      // queue), so send again from what is known to match.
      if (p.match < log_.last_index() && now - p.last_progress_ms > 4.0 * options_.heartbeat_ms) {
        p.next = p.match + 1;
        p.last_progress_ms = now;
      }
    }
    BroadcastAppends();
    return;
  }
  if (now >= election_deadline_ms_) MaybeStartElection(now);
}

void Raft::MaybeStartElection(double now) {
  if (!log_.damaged().empty()) {
    ResetElectionDeadline();  // repair first: a leader must hold every committed entry
    return;
  }
  if (role_ == Role::kFollower && leader_ >= 0) {
    const double phi = detector_.Phi(now);
    if (phi <= kSuspectPhi) return;  // late but not yet suspicious: look again at the next tick
    env_.Emit("suspect", {{"of", leader_}, {"phi", std::min(phi, 1e6)}});
  }
  StartElection();
}

void Raft::StartElection() {
  ++term_;
  voted_for_ = options_.id;
  leader_ = -1;
  votes_ = {options_.id};
  detector_.Reset();
  SetRole(Role::kCandidate);
  ResetElectionDeadline();
  env_.Emit("election", {{"term", term_}});
  const uint64_t term = term_;
  PersistMeta([this, term] {
    if (role_ != Role::kCandidate || term_ != term) return;
    const VoteRequest request{options_.id, term, log_.last_index(), log_.last_term()};
    for (int peer : options_.peers) env_.Send(peer, ToJson(request));
    if (votes_.size() >= majority()) BecomeLeader();
  });
}

void Raft::BecomeLeader() {
  leader_ = options_.id;
  SetRole(Role::kLeader);
  env_.Emit("leader", {{"term", term_}});
  const double now = env_.NowMs();
  progress_.clear();
  // Every peer counts as heard at the start: the votes just came in.
  for (int peer : options_.peers) progress_[peer] = Progress{log_.last_index() + 1, 0, 0, now, now};
  confirmed_round_ = 0;
  Propose(kNoopClient, static_cast<int64_t>(term_), "");
  BroadcastAppends();
  next_heartbeat_ms_ = now + options_.heartbeat_ms;
}

bool Raft::HearsAMajority(double now) const {
  size_t heard = 1;  // this node
  for (const auto& [peer, p] : progress_) {
    if (now - p.last_heard_ms <= options_.election_timeout_ms) ++heard;
  }
  return heard >= majority();
}

void Raft::StepDown(uint64_t term) {
  if (term > term_) {
    term_ = term;
    voted_for_ = -1;
    leader_ = -1;
    PersistMeta(nullptr);
  }
  if (role_ != Role::kFollower) SetRole(Role::kFollower);
}

void Raft::AcceptLeader(int leader) {
  if (leader_ == leader) return;
  leader_ = leader;
  match_leader_ = 0;
  leader_seq_ = 0;
  acked_match_ = 0;
  detector_.Reset();
  env_.Emit("follower", {{"term", term_}, {"leader", leader}});
}

void Raft::SetRole(Role role) {
  role_ = role;
  if (on_role) on_role(role);
}

void Raft::PersistMeta(std::function<void()> done) {
  ++meta_version_;
  env_.WriteMeta(
      StoredMeta{meta_version_, term_, voted_for_}, done ? std::move(done) : [] {});
}

bool Raft::LogUpToDate(uint64_t last_index, uint64_t last_term) const {
  return last_term > log_.last_term() ||
         (last_term == log_.last_term() && last_index >= log_.last_index());
}

bool Raft::LeaderAlive(double now) const {
  if (role_ == Role::kLeader) return HearsAMajority(now);
  return role_ == Role::kFollower && leader_ >= 0 &&
         now - leader_contact_ms_ < options_.election_timeout_ms;
}

void Raft::HandleVoteRequest(const VoteRequest& m) {
  // Ignored, not even answered: the candidate's higher term must not depose a leader that a
  // majority still hears (Raft's "leader stickiness").
  if (m.term > term_ && LeaderAlive(env_.NowMs())) return;
  if (m.term > term_) StepDown(m.term);
  const bool grant = m.term == term_ && (voted_for_ == -1 || voted_for_ == m.from) &&
                     LogUpToDate(m.last_index, m.last_term);
  if (!grant) {
    env_.Send(m.from, ToJson(VoteReply{options_.id, term_, false}));
    return;
  }
  voted_for_ = m.from;
  ResetElectionDeadline();
  const uint64_t term = term_;
  const int candidate = m.from;
  // The vote is durable before it is sent: a restart must not let this node vote twice.
  PersistMeta([this, term, candidate] {
    if (term_ == term && voted_for_ == candidate)
      env_.Send(candidate, ToJson(VoteReply{options_.id, term, true}));
  });
}

void Raft::HandleVoteReply(const VoteReply& m) {
  if (m.term > term_) {
    StepDown(m.term);
    return;
  }
  if (role_ != Role::kCandidate || m.term != term_ || !m.granted) return;
  votes_.insert(m.from);
  if (votes_.size() >= majority()) BecomeLeader();
}

}  // namespace faultfs::harness::node
