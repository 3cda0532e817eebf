// The node's log in memory: per index the entry's term and checksum, its bytes, whether its slot
// and record are durable, whether its slot on disk is damaged; the durable prefix (what a node
// may acknowledge: durable and undamaged, 1..n), and the (client, req) table that keeps a request
// from being appended twice.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

namespace faultfs::harness::node {

struct LogEntry {
  uint64_t term = 0;
  uint64_t checksum = 0;
  bool checksum_known = true;  // false: damaged at recovery without slot or record
  bool damaged = false;        // the slot on disk is bad: not served, not counted as held
  bool durable = false;        // this version's slot and record are fsynced
  uint64_t generation = 0;     // which write of the index this is (set by the log)
  std::string encoded;         // the entry's bytes; empty when unknown (damaged at recovery)
  int64_t client = 0;
  int64_t req = 0;
  bool bytes_known() const { return !encoded.empty(); }
};

class RaftLog {
 public:
  uint64_t last_index() const { return entries_.size(); }
  uint64_t last_term() const { return TermAt(last_index()); }
  const LogEntry* At(uint64_t index) const;
  // The term at `index` (0 at index 0). Callers check TermKnown for damaged entries.
  uint64_t TermAt(uint64_t index) const;
  bool TermKnown(uint64_t index) const;
  // The first index of the run of entries sharing `index`'s term.
  uint64_t FirstIndexOfTerm(uint64_t index) const;

  // Adds an entry at last_index() + 1; returns its generation.
  uint64_t Append(LogEntry entry);
  // Puts a new version of the entry at `index` (1..last_index()); returns its generation.
  uint64_t Replace(uint64_t index, LogEntry entry);
  // Drops the entries after `keep`.
  void TruncateAfter(uint64_t keep);
  // The write of (index, generation) is durable; false when that version is gone.
  bool MarkDurable(uint64_t index, uint64_t generation);
  // The slot at `index` read back bad (generation guards against a newer version).
  void MarkDamaged(uint64_t index, uint64_t generation);

  uint64_t durable_prefix() const { return durable_prefix_; }
  std::optional<uint64_t> FindRequest(int64_t client, int64_t req) const;
  const std::set<uint64_t>& damaged() const { return damaged_; }
  // True while some entry's (client, req) is unknown: the request table is incomplete.
  bool requests_incomplete() const { return unknown_requests_ > 0; }

 private:
  void Forget(uint64_t index);    // removes index's bookkeeping (table, damaged set)
  void Remember(uint64_t index);  // adds it
  void AdvanceDurablePrefix();

  std::vector<LogEntry> entries_;  // entries_[i - 1] is index i
  std::map<std::pair<int64_t, int64_t>, uint64_t> requests_;
  std::set<uint64_t> damaged_;
  uint64_t unknown_requests_ = 0;
  uint64_t durable_prefix_ = 0;
  uint64_t next_generation_ = 1;
};

}  // namespace faultfs::harness::node
