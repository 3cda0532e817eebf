#include "repair.h"

#include "format.h"

namespace faultfs::harness::node {
namespace {

constexpr size_t kRepairFetchesPerRound = 16;
constexpr double kRefetchAfterMs = 1000;
// The scrubber's pace: a batch of slots every few heartbeats (about 600 slots/s at the default
// 100 ms heartbeat), a small share of what the disk does for the clients.
constexpr uint64_t kScrubBatch = 64;
constexpr double kScrubEveryHeartbeats = 1.0;

}  // namespace

uint64_t Fetcher::Fetch(uint64_t index, const std::vector<int>& targets, OnAnswer on_answer) {
  const uint64_t id = next_id_++;
  pending_[id] = std::move(on_answer);
  for (int target : targets) {
    if (target == ctx_.id) {
      ReadLocal(index, [this, id](FetchReply r) {
        r.from = ctx_.id;
        r.id = id;
        HandleReply(r);
      });
    } else {
      ctx_.send(target, ToJson(FetchRequest{ctx_.id, id, index}));
    }
  }
  return id;
}

void Fetcher::HandleReply(const FetchReply& reply) {
  const auto it = pending_.find(reply.id);
  if (it == pending_.end()) return;
  const OnAnswer on_answer = it->second;  // the callback may Forget(id)
  on_answer(reply);
}

void Fetcher::Serve(const FetchRequest& request) {
  ReadLocal(request.index, [this, to = request.from, id = request.id](FetchReply r) {
    r.from = ctx_.id;
    r.id = id;
    ctx_.send(to, ToJson(r));
  });
}

void Fetcher::ReadLocal(uint64_t index, std::function<void(FetchReply)> done) {
  const LogEntry* e = ctx_.raft->log().At(index);
  if (e != nullptr && !e->durable) {
    // Held, its write still under way: answer once it is durable, from what the disk then holds.
    // Answering "not held" would leave the slot unread: damaged between its write and the end of
    // its fsync (the leader acknowledges on a majority of followers, before its own fsync), it
    // would be neither returned nor marked damaged, and so never repaired.
    ctx_.disk->AfterWrites([this, index, done = std::move(done)]() mutable {
      const LogEntry* now = ctx_.raft->log().At(index);
      if (now == nullptr || !now->durable) {  // cut, or written again meanwhile
        FetchReply absent;
        absent.index = index;
        done(absent);
        return;
      }
      ReadDurable(index, std::move(done));
    });
    return;
  }
  if (e == nullptr) {  // beyond the log
    FetchReply absent;
    absent.index = index;
    // Answers always come later, never inside the caller (which may still be setting up).
    ctx_.defer([done = std::move(done), absent] { done(absent); });
    return;
  }
  ReadDurable(index, std::move(done));
}

void Fetcher::ReadDurable(uint64_t index, std::function<void(FetchReply)> done) {
  const LogEntry* e = ctx_.raft->log().At(index);
  const uint64_t generation = e->generation;
  const uint64_t expected = e->checksum;
  const bool known = e->checksum_known;
  ctx_.disk->ReadSlot(index, [this, index, generation, expected, known,
                              done = std::move(done)](Result<std::string> bytes) {
    FetchReply r;
    r.index = index;
    const LogEntry* now = ctx_.raft->log().At(index);
    if (now == nullptr || now->generation != generation) {  // replaced or cut meanwhile
      done(r);
      return;
    }
    r.found = true;
    if (bytes.ok()) {
      ParsedSlot slot = ParseSlot(*bytes, index);
      r.verified = slot.verifies && known && slot.stored_checksum == expected;
      r.entry = std::move(slot.raw);
    }
    // A slot that reads back bad (or not at all) is damaged, whatever memory holds: it is what a
    // restart would find.
    if (!r.verified) ctx_.raft->MarkDamaged(index, generation);
    done(std::move(r));
  });
}

void Repairer::Tick(double now_ms) {
  if (now_ms < next_round_ms_) return;
  next_round_ms_ = now_ms + 2.0 * ctx_.heartbeat_ms;
  const RaftLog& log = ctx_.raft->log();
  for (auto it = outstanding_.begin(); it != outstanding_.end();) {
    if (log.damaged().count(it->first) == 0 || now_ms - it->second.sent_ms > kRefetchAfterMs) {
      fetcher_.Forget(it->second.fetch_id);
      it = outstanding_.erase(it);
    } else {
      ++it;
    }
  }
  size_t started = 0;
  for (const uint64_t index : log.damaged()) {
    if (started == kRepairFetchesPerRound) break;
    const LogEntry* e = log.At(index);
    if (outstanding_.count(index) != 0 || !e->checksum_known)
      continue;  // unknown: leader's copy only
    const uint64_t generation = e->generation;
    const uint64_t id = fetcher_.Fetch(
        index, ctx_.peers,
        [this, index, generation](const FetchReply& r) { OnCopy(index, generation, r); });
    outstanding_[index] = Outstanding{id, now_ms};
    ++started;
  }
}

void Repairer::OnCopy(uint64_t index, uint64_t generation, const FetchReply& reply) {
  const LogEntry* e = ctx_.raft->log().At(index);
  if (e == nullptr || e->generation != generation || !e->damaged) return;
  // Only the very entry the persistence record names: its checksum must match the record's.
  if (!reply.found || EntryChecksum(reply.entry) != e->checksum) return;
  const auto entry = DecodeEntry(reply.entry);
  if (!entry || entry->index != index) return;
  if (const auto it = outstanding_.find(index); it != outstanding_.end()) {
    fetcher_.Forget(it->second.fetch_id);
    outstanding_.erase(it);
  }
  ctx_.raft->InstallRepair(index, reply.entry, e->term, reply.from);
}

void Repairer::HandleRepair(const RepairRequest& m) {
  Raft& raft = *ctx_.raft;
  if (m.term < raft.term()) return;
  const LogEntry* e = raft.log().At(m.index);
  if (e == nullptr || !e->durable) return;  // not held (yet): replication brings it
  if (ctx_.repair_newest) {
    // The naive baseline trusts the leader's pick, verified or not.
    if (!e->damaged && e->encoded == m.entry) return;
    raft.InstallRepair(m.index, m.entry, e->term, m.from);
    return;
  }
  if (!e->damaged) return;  // a good copy that differs is Raft's to resolve, not a repair's
  const auto entry = DecodeEntry(m.entry);
  if (!entry || entry->index != m.index) return;
  if (e->checksum_known) {
    if (EntryChecksum(m.entry) == e->checksum)
      raft.InstallRepair(m.index, m.entry, e->term, m.from);
    return;
  }
  if (m.from == raft.leader() && m.term == raft.term())
    raft.InstallRepair(m.index, m.entry, entry->term, m.from);
}

void Scrubber::Tick(double now_ms) {
  if (in_flight_ > 0 || now_ms < next_batch_ms_) return;
  next_batch_ms_ = now_ms + kScrubEveryHeartbeats * ctx_.heartbeat_ms;
  const uint64_t last = ctx_.raft->log().last_index();
  if (last == 0) return;
  for (uint64_t n = 0; n < kScrubBatch && n < last; ++n) {
    if (next_index_ > last) next_index_ = 1;
    ++in_flight_;
    // ReadLocal marks a slot that reads back bad as damaged; the Repairer takes it from there.
    fetcher_.ReadLocal(next_index_++, [this](const FetchReply&) {
      --in_flight_;
      ++slots_read_;
    });
  }
}

}  // namespace faultfs::harness::node
