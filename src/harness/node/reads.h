// Reads (docs/harness.md, "Reads"): the leader checks that it is still leader (a heartbeat round
// acknowledged by a majority, sent after the read arrived), that the index is committed, then
// fetches the index from every node, itself included, and decides once all answered, or at a
// deadline with a majority of answers.
//  * verified: returns a copy that verifies on its node and whose checksum is the one the
//    leader's log holds for the index; sends `repair` to every node whose copy is damaged or
//    different.
//  * newest (the naive baseline): the copy with the highest term, verified or not (ties: the
//    leader's own, then the lowest node id), returned and spread to every node that differs.
// A node that does not hold the index at all (it lags) gets no repair: a slot past the end of its
// log cannot be written without breaking Raft's log matching, and replication brings it anyway.
// A read decided at its deadline keeps listening for a while: a copy that answers late (the
// leader's own included) is repaired like one that answered in time.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <set>
#include <string>

#include "context.h"
#include "repair.h"

namespace faultfs::harness::node {

class ReadCoordinator {
 public:
  using Reply =
      std::function<void(const std::string& status, uint64_t index, const std::string& value)>;
  ReadCoordinator(NodeContext& ctx, Fetcher& fetcher, Repairer& repairer)
      : ctx_(ctx), fetcher_(fetcher), repairer_(repairer) {}

  // Leader only.
  void Start(uint64_t index, Reply reply);
  void OnRoundConfirmed(uint64_t round);
  // Every read in progress is answered not_leader.
  void OnLostLeadership();
  void Tick(double now_ms);
  size_t in_flight() const { return reads_.size(); }

 private:
  struct Read {
    uint64_t index = 0;
    Reply reply;
    uint64_t round = 0;     // the heartbeat round that must be confirmed (0: not started yet)
    uint64_t fetch_id = 0;  // 0 until fetching
    std::map<int, FetchReply> answers;
    double deadline_ms = 0;
  };
  // A read answered before every node did: the copy it chose, for the late answers.
  struct Decided {
    uint64_t index = 0;
    uint64_t fetch_id = 0;
    uint64_t term = 0;  // the leader's term when it decided
    std::string entry;
    std::set<int> waiting;  // the nodes yet to answer
    double until_ms = 0;
  };
  void StartRoundSoon();
  void BeginFetch(uint64_t id);
  void OnAnswer(uint64_t id, const FetchReply& reply);
  void Decide(uint64_t id);
  void Finish(uint64_t id, const std::string& status, const std::string& value = "",
              bool keep_fetch = false);
  void OnLateAnswer(uint64_t id, const FetchReply& reply);
  void ForgetDecided();
  const FetchReply* ChooseVerified(const Read& read) const;
  const FetchReply* ChooseNewest(const Read& read) const;
  void RepairReplicas(const Read& read, const FetchReply& chosen);
  // Sends `repair` (carrying `entry`) to `node` when its answer shows a damaged or different copy.
  void RepairReplica(uint64_t index, int node, const FetchReply& answer, const std::string& entry);

  NodeContext& ctx_;
  Fetcher& fetcher_;
  Repairer& repairer_;
  std::map<uint64_t, Read> reads_;
  std::map<uint64_t, Decided> decided_;  // by read id
  uint64_t next_id_ = 1;
  bool round_requested_ = false;
};

}  // namespace faultfs::harness::node
