// Recovery at start (docs/harness.md, "Recovery"), after Alagappan et al., "Protocol-Aware
// Recovery for Consensus-Based Storage" (FAST 2018): a persistence record tells a slot that was
// durable, and so possibly acknowledged, from one a crash cut before it was acknowledged.
//
//  protocol: a good slot is kept (its record rewritten if missing, bad or naming another entry);
//            a bad slot with a record is corruption: kept as damaged, everything after it kept,
//            repaired later from a peer copy whose checksum equals the record's; bad slots
//            without records at the end are a torn tail, discarded.
//  truncate: the naive baseline: everything from the first bad slot on is discarded.
//
// A bad slot without a record that is followed by a good slot or a record (two faults at once:
// the slot and its record lost, yet something after it proves it was durable) is kept as damaged
// with an unknown checksum: only the leader's own copy may replace it.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "faultfs/harness/node_storage.h"
#include "format.h"
#include "storage.h"

namespace faultfs::harness::node {

enum class RecoveryMode { kProtocol, kTruncate };

struct RecoveredEntry {
  uint64_t term = 0;
  uint64_t checksum = 0;
  bool checksum_known = true;  // false: damaged, with neither a good slot nor a record
  bool damaged = false;        // the slot on disk is bad; the entry's bytes are unknown
  std::string encoded;         // when not damaged
  Entry entry;                 // when not damaged
};

struct RecoveryPlan {
  std::vector<RecoveredEntry> log;      // indexes 1..log.size()
  std::vector<Record> rewrite_records;  // good slots whose record is missing, bad or different
  bool cut_files = false;               // the files hold more than log.size() entries
  uint64_t torn = 0;                    // bad slots of the tail, without records
  uint64_t damaged = 0;
  uint64_t truncated = 0;  // entries discarded by --recovery truncate (torn excluded)
};

RecoveryPlan PlanRecovery(const NodeStorage& storage, RecoveryMode mode);

// Carries the plan out on disk, durably: cuts the files after the last entry kept, rewrites
// records.
Status ApplyRecovery(StorageFiles& files, const RecoveryPlan& plan);

}  // namespace faultfs::harness::node
