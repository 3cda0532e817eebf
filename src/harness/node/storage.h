// A node's data directory, open for writing (docs/harness.md, "Storage"). Every method is
// synchronous and durable when it returns OK: the disk worker calls them off the event loop.
// The orders below are what recovery relies on:
//  * an entry's persistence record is written only after its slot was fsynced, so a record
//    proves the slot was durable (and may have been acknowledged);
//  * a cut removes records before slots, so a crash in between leaves good slots without records
//    (rewritten at recovery: the entries come back, a state the node had before), never records
//    over missing slots (which recovery would take for corruption).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "faultfs/core/status.h"
#include "faultfs/core/unique_fd.h"
#include "faultfs/harness/node_storage.h"
#include "format.h"

namespace faultfs::harness::node {

struct SlotWrite {
  uint64_t index = 0;
  uint64_t term = 0;    // for the record (the entry's own term, kept even by a naive repair)
  std::string encoded;  // the entry's bytes as they go into the slot
};

class StorageFiles {
 public:
  // Opens (creating what is missing, then fsyncing the directory) DIR's log, persisted, meta.0
  // and meta.1. DIR itself is created if missing.
  static Result<std::unique_ptr<StorageFiles>> Open(const std::string& dir);

  // Slots, fsync, then their records, fsync. Writes of neighbouring slots are coalesced.
  Status WriteEntries(const std::vector<SlotWrite>& writes);
  // Records only (recovery's "a bad record over a good slot is rewritten"), then fsync.
  Status WriteRecords(const std::vector<Record>& records);
  // Keeps entries 1..keep: cuts the records (fsync), then the log (fsync).
  Status CutAfter(uint64_t keep);
  // Writes `meta` to meta.(version % 2), fsync, then to the other copy, fsync. Both copies end
  // with the same version, so losing either one (a write torn by a crash, or a copy corrupted
  // later) loses nothing: a torn first write leaves the previous state, never acted on.
  // (Writing only one copy per update, alternating, would lose the latest vote when the newer
  // copy rots after its fsync, and a node could then vote twice in a term.)
  Status WriteMeta(const StoredMeta& meta);
  // The slot's bytes as the disk returns them (short at the end of the file).
  Result<std::string> ReadSlot(uint64_t index) const;
  const std::string& dir() const { return dir_path_; }

 private:
  StorageFiles() = default;
  std::string dir_path_;
  UniqueFd dir_;
  UniqueFd log_;
  UniqueFd persisted_;
  UniqueFd meta_[2];
};

}  // namespace faultfs::harness::node
