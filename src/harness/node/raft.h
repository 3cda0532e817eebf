// Raft's core (Ongaro and Ousterhout, "In Search of an Understandable Consensus Algorithm"), as
// docs/harness.md's "Protocol" has it: elections with randomized timeouts in [T, 2T], a vote
// durable before it is sent, a phi-accrual detector on the leader's heartbeats, log replication
// with durable acknowledgements, commit by majority of the current term's entries.
//
// Beyond the contract, as Raft itself requires:
//  * a new leader appends a no-op entry (client kNoopClient, req = term) so that it can commit
//    what earlier terms left (section 5.4.2) and knows its commit index before serving reads;
//  * a node with damaged entries does not stand for election until they are repaired: a leader
//    must hold every committed entry, and its request table must be complete.
//
// Raft holds no sockets, threads or clocks: RaftEnv sends, writes and tells the time, so the
// protocol runs the same under a test's fake environment.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "failure_detector.h"
#include "faultfs/core/random.h"
#include "messages.h"
#include "raft_log.h"
#include "recovery.h"
#include "storage.h"

namespace faultfs::harness::node {

class RaftEnv {
 public:
  virtual ~RaftEnv() = default;
  virtual void Send(int to, const nlohmann::json& message) = 0;
  // Durable writes, in order; `done` runs later on the loop.
  virtual void WriteEntries(std::vector<SlotWrite> writes, std::function<void()> done) = 0;
  virtual void CutAfter(uint64_t keep, std::function<void()> done) = 0;
  virtual void WriteMeta(StoredMeta meta, std::function<void()> done) = 0;
  // Runs `fn` on the loop after the current handler (coalesces work of one burst).
  virtual void Defer(std::function<void()> fn) = 0;
  virtual void Emit(const std::string& event, const nlohmann::json& fields) = 0;
  virtual double NowMs() = 0;
};

struct RaftOptions {
  int id = 0;
  std::vector<int> peers;  // the other nodes
  int election_timeout_ms = 600;
  int heartbeat_ms = 100;
  uint64_t seed = 0;
};

enum class Role { kFollower, kCandidate, kLeader };

inline constexpr double kSuspectPhi = 8.0;

class Raft {
 public:
  Raft(const RaftOptions& options, RaftEnv& env, const RecoveryPlan& recovered,
       const std::optional<StoredMeta>& meta, bool meta_lost);

  void HandleVoteRequest(const VoteRequest& m);
  void HandleVoteReply(const VoteReply& m);
  void HandleAppend(const AppendRequest& m);
  void HandleAppendAck(const AppendAck& m);
  // Timers: elections, heartbeats, resends. Call often (every few ms).
  void Tick();

  // Leader only: appends a client's entry; its index.
  uint64_t Propose(int64_t client, int64_t req, const std::string& value);
  // Leader only: starts a heartbeat round now; its number. The round is confirmed once a majority
  // (this node included) acknowledged an append of that round or a later one, in this term.
  uint64_t StartRound();
  uint64_t confirmed_round() const { return confirmed_round_; }
  // Puts a verified copy of a damaged or differing entry in place (repair); `from` is where it
  // came from (for the `repaired` event, once durable).
  void InstallRepair(uint64_t index, const std::string& encoded, uint64_t term, int from);
  // The slot at `index` read back bad while serving it.
  void MarkDamaged(uint64_t index, uint64_t generation);

  Role role() const { return role_; }
  uint64_t term() const { return term_; }
  int leader() const { return leader_; }
  int id() const { return options_.id; }
  uint64_t commit_index() const { return commit_; }
  const RaftLog& log() const { return log_; }
  size_t cluster_size() const { return options_.peers.size() + 1; }
  size_t majority() const { return cluster_size() / 2 + 1; }

  // Observers (set by the node).
  std::function<void(uint64_t commit)> on_commit;
  std::function<void(Role role)> on_role;
  std::function<void(uint64_t round)> on_round_confirmed;

 private:
  struct Progress {
    uint64_t next = 1;
    uint64_t match = 0;
    uint64_t acked_seq = 0;
    double last_progress_ms = 0;
    double last_heard_ms = 0;  // any acknowledgement of this term, accepted or not
  };

  // raft.cc: terms, votes, elections.
  void LoadRecovered(const RecoveryPlan& recovered);
  double RandomElectionTimeout();
  void ResetElectionDeadline();
  void MaybeStartElection(double now);
  void StartElection();
  void BecomeLeader();
  void StepDown(uint64_t term);
  // Leader: whether a majority (this node included) answered within the election timeout.
  bool HearsAMajority(double now) const;
  // Whether a current leader is known to be alive: then a vote request is a disruption (a
  // node that cannot hear the leader), not a reason to leave this term.
  bool LeaderAlive(double now) const;
  void AcceptLeader(int leader);
  void PersistMeta(std::function<void()> done);
  bool LogUpToDate(uint64_t last_index, uint64_t last_term) const;
  void SetRole(Role role);

  // raft_replication.cc: the leader's side and the follower's side of AppendEntries.
  void BroadcastAppends();
  void SendAppend(int peer);
  void ScheduleReplication();
  void Reject(const AppendRequest& m, uint64_t hint);
  uint64_t AcceptEntries(const AppendRequest& m);
  void SubmitWrites(std::vector<SlotWrite>& writes,
                    std::vector<std::pair<uint64_t, uint64_t>>& gens,
                    std::vector<int>& repaired_from);
  void OnDurable(const std::vector<std::pair<uint64_t, uint64_t>>& written,
                 const std::vector<int>& repaired_from);
  void ScheduleDurableAck();
  void SendDurableAck();
  void MaybeAdvanceCommit();
  void UpdateConfirmedRound();
  LogEntry MakeEntry(const Entry& entry, const std::string& encoded) const;

  RaftOptions options_;
  RaftEnv& env_;
  Rng election_rng_;
  PhiAccrualDetector detector_;

  RaftLog log_;
  uint64_t term_ = 0;
  int voted_for_ = -1;
  uint64_t meta_version_ = 0;
  Role role_ = Role::kFollower;
  int leader_ = -1;
  uint64_t commit_ = 0;
  double election_deadline_ms_ = 0;
  std::set<int> votes_;

  // Follower: how far the log is known to match the current leader, the leader's latest round,
  // the last match acknowledged.
  uint64_t match_leader_ = 0;
  uint64_t leader_seq_ = 0;
  uint64_t acked_match_ = 0;
  double leader_contact_ms_ = -1e18;  // the last append from the current leader
  bool durable_ack_scheduled_ = false;

  // Leader.
  std::map<int, Progress> progress_;
  uint64_t round_ = 0;
  uint64_t confirmed_round_ = 0;
  double next_heartbeat_ms_ = 0;
  bool replication_scheduled_ = false;
};

}  // namespace faultfs::harness::node
