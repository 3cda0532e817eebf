#include "raft_log.h"

#include "faultfs/core/check.h"
#include "faultfs/harness/node_storage.h"

namespace faultfs::harness::node {

const LogEntry* RaftLog::At(uint64_t index) const {
  if (index == 0 || index > entries_.size()) return nullptr;
  return &entries_[index - 1];
}

uint64_t RaftLog::TermAt(uint64_t index) const {
  const LogEntry* e = At(index);
  return e == nullptr ? 0 : e->term;
}

bool RaftLog::TermKnown(uint64_t index) const {
  const LogEntry* e = At(index);
  return index == 0 || (e != nullptr && e->checksum_known);
}

uint64_t RaftLog::FirstIndexOfTerm(uint64_t index) const {
  FAULTFS_CHECK(index >= 1 && index <= entries_.size());
  const uint64_t term = TermAt(index);
  while (index > 1 && TermAt(index - 1) == term) --index;
  return index;
}

uint64_t RaftLog::Append(LogEntry entry) {
  entry.generation = next_generation_++;
  entries_.push_back(std::move(entry));
  Remember(entries_.size());
  AdvanceDurablePrefix();
  return entries_.back().generation;
}

uint64_t RaftLog::Replace(uint64_t index, LogEntry entry) {
  FAULTFS_CHECK(index >= 1 && index <= entries_.size()) << "replacing index " << index;
  Forget(index);
  entry.generation = next_generation_++;
  entries_[index - 1] = std::move(entry);
  Remember(index);
  if (durable_prefix_ >= index) durable_prefix_ = index - 1;
  AdvanceDurablePrefix();
  return entries_[index - 1].generation;
}

void RaftLog::TruncateAfter(uint64_t keep) {
  while (entries_.size() > keep) {
    Forget(entries_.size());
    entries_.pop_back();
  }
  if (durable_prefix_ > keep) durable_prefix_ = keep;
}

bool RaftLog::MarkDurable(uint64_t index, uint64_t generation) {
  if (index == 0 || index > entries_.size()) return false;
  LogEntry& e = entries_[index - 1];
  if (e.generation != generation) return false;
  e.durable = true;
  AdvanceDurablePrefix();
  return true;
}

void RaftLog::MarkDamaged(uint64_t index, uint64_t generation) {
  if (index == 0 || index > entries_.size()) return;
  LogEntry& e = entries_[index - 1];
  if (e.generation != generation || e.damaged) return;
  e.damaged = true;
  damaged_.insert(index);
  if (durable_prefix_ >= index) durable_prefix_ = index - 1;
}

std::optional<uint64_t> RaftLog::FindRequest(int64_t client, int64_t req) const {
  const auto it = requests_.find({client, req});
  if (it == requests_.end()) return std::nullopt;
  return it->second;
}

void RaftLog::Forget(uint64_t index) {
  const LogEntry& e = entries_[index - 1];
  damaged_.erase(index);
  if (!e.bytes_known()) {
    FAULTFS_CHECK(unknown_requests_ > 0);
    --unknown_requests_;
    return;
  }
  const auto it = requests_.find({e.client, e.req});
  if (it != requests_.end() && it->second == index) requests_.erase(it);
}

void RaftLog::Remember(uint64_t index) {
  const LogEntry& e = entries_[index - 1];
  if (e.damaged) damaged_.insert(index);
  if (!e.bytes_known()) {
    ++unknown_requests_;
    return;
  }
  if (e.client == kNoopClient) return;
  requests_.emplace(std::make_pair(e.client, e.req), index);  // the first index stays
}

void RaftLog::AdvanceDurablePrefix() {
  while (durable_prefix_ < entries_.size()) {
    const LogEntry& next = entries_[durable_prefix_];
    if (!next.durable || next.damaged) break;
    ++durable_prefix_;
  }
}

}  // namespace faultfs::harness::node
