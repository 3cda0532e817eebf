// Copies of entries between nodes (docs/harness.md, "Recovery" and "Reads"):
//  * Fetcher: asks nodes for their copy of an index (`fetch`; this node's own copy is read
//    locally) and routes the answers (`fetch_reply`) by id; serves other nodes' fetches. Copies
//    are read from disk, not memory, so a slot that went bad on disk is seen (and marked damaged).
//  * Repairer: repairs this node's damaged entries from peers, accepting only a copy whose
//    checksum equals the persistence record's, and applies `repair` messages from a leader's read.
//  * Scrubber: reads the whole log back from disk, a batch at a time, round and round, so that
//    damage nobody reads (a corrupted or lost write) is found and repaired, not left latent.
#pragma once

#include <cstdint>
#include <functional>
#include <map>

#include "context.h"
#include "messages.h"

namespace faultfs::harness::node {

class Fetcher {
 public:
  using OnAnswer = std::function<void(const FetchReply&)>;
  explicit Fetcher(NodeContext& ctx) : ctx_(ctx) {}

  // Asks each of `targets` (this node's id included or not) for `index`; every answer is given to
  // `on_answer` until Forget(id). Returns the id.
  uint64_t Fetch(uint64_t index, const std::vector<int>& targets, OnAnswer on_answer);
  void Forget(uint64_t id) { pending_.erase(id); }
  void HandleReply(const FetchReply& reply);
  void Serve(const FetchRequest& request);
  // This node's copy of `index`, as it would answer a fetch: found when it holds the index
  // durably (an entry whose write is under way is read once that write is durable); verified
  // when the slot read back verifies and matches the persistence record.
  void ReadLocal(uint64_t index, std::function<void(FetchReply)> done);

 private:
  void ReadDurable(uint64_t index, std::function<void(FetchReply)> done);

  NodeContext& ctx_;
  uint64_t next_id_ = 1;
  std::map<uint64_t, OnAnswer> pending_;
};

class Repairer {
 public:
  Repairer(NodeContext& ctx, Fetcher& fetcher) : ctx_(ctx), fetcher_(fetcher) {}
  // Fetches damaged entries (a few at a time; a fetch unanswered for a while is sent again).
  void Tick(double now_ms);
  void HandleRepair(const RepairRequest& m);

 private:
  void OnCopy(uint64_t index, uint64_t generation, const FetchReply& reply);

  struct Outstanding {
    uint64_t fetch_id = 0;
    double sent_ms = 0;
  };
  NodeContext& ctx_;
  Fetcher& fetcher_;
  std::map<uint64_t, Outstanding> outstanding_;  // by index
  double next_round_ms_ = 0;
};

class Scrubber {
 public:
  explicit Scrubber(NodeContext& ctx, Fetcher& fetcher) : ctx_(ctx), fetcher_(fetcher) {}
  // Starts the next batch when the last one is done and a round of ticks has passed.
  void Tick(double now_ms);
  uint64_t slots_read() const { return slots_read_; }

 private:
  NodeContext& ctx_;
  Fetcher& fetcher_;
  uint64_t next_index_ = 1;
  size_t in_flight_ = 0;
  double next_batch_ms_ = 0;
  uint64_t slots_read_ = 0;
};

}  // namespace faultfs::harness::node
