#include "recovery.h"

namespace faultfs::harness::node {
namespace {

RecoveredEntry FromGoodSlot(const StoredEntry& stored) {
  RecoveredEntry e;
  e.term = stored.entry.term;
  e.checksum = stored.checksum;
  e.encoded = stored.encoded;
  e.entry = stored.entry;
  return e;
}

// The entry a bad slot leaves: its record's term and checksum, or (no record) unknown, with the
// term of the entry before it standing in as a lower bound.
RecoveredEntry Damaged(const StoredEntry& stored, uint64_t previous_term) {
  RecoveredEntry e;
  e.damaged = true;
  if (stored.has_record) {
    e.term = stored.record_term;
    e.checksum = stored.record_checksum;
  } else {
    e.term = previous_term;
    e.checksum_known = false;
  }
  return e;
}

}  // namespace

RecoveryPlan PlanRecovery(const NodeStorage& storage, RecoveryMode mode) {
  RecoveryPlan plan;
  const std::vector<StoredEntry>& entries = storage.entries;
  // ReadNodeStorage ends the list at the last good slot or record: what lies past it is torn.
  const uint64_t listed = entries.size();
  plan.torn = storage.slots_in_file > listed ? storage.slots_in_file - listed : 0;
  uint64_t keep = listed;
  if (mode == RecoveryMode::kTruncate) {
    for (uint64_t i = 0; i < listed; ++i) {
      if (!entries[i].slot_verifies) {
        keep = i;
        break;
      }
    }
    plan.truncated = listed - keep;
  }
  plan.log.reserve(keep);
  for (uint64_t i = 0; i < keep; ++i) {
    const StoredEntry& stored = entries[i];
    const uint64_t previous_term = plan.log.empty() ? 0 : plan.log.back().term;
    if (!stored.slot_verifies) {
      plan.log.push_back(Damaged(stored, previous_term));
      ++plan.damaged;
      continue;
    }
    plan.log.push_back(FromGoodSlot(stored));
    if (!stored.record_matches())
      plan.rewrite_records.push_back({stored.index, stored.entry.term, stored.checksum});
  }
  plan.cut_files = storage.slots_in_file > keep || storage.records_in_file > keep;
  return plan;
}

Status ApplyRecovery(StorageFiles& files, const RecoveryPlan& plan) {
  if (plan.cut_files) FAULTFS_RETURN_IF_ERROR(files.CutAfter(plan.log.size()));
  return files.WriteRecords(plan.rewrite_records);
}

}  // namespace faultfs::harness::node
