// The persistence models' names: which models exist, how a name is parsed and printed, and
// one line on each (docs/persistence-models.md). A library of its own, below both policy (which
// validates `crash.model`) and the crash library (which enumerates states under a model), so the
// policy parser does not link the whole crash-state machinery for a list of names.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "faultfs/core/status.h"

namespace faultfs::crash {

enum class ModelKind {
  kPrefix,    // every op before the crash point persisted, in order
  kExt4,      // ext4 data=ordered: a metadata prefix since the last commit; synced data
  kPp,        // persistence points; a file's fsync also keeps the entry that names it
  kPpStrict,  // persistence points; only an fsync of the parent directory keeps an entry
  kWeak,      // ALICE-style relaxations between persistence points
  kReorder,   // subsets of at most k unsynced ops of an epoch reach the disk
  kTorn,      // the last unsynced write is torn at sector or page granularity
};

struct Model {
  ModelKind kind = ModelKind::kPp;
  uint32_t k = 2;          // kReorder: largest subset enumerated exhaustively (larger: drawn)
  uint32_t sector = 4096;  // kTorn: 512 or 4096
  // kWeak: whether a rename may also be half done (its destination removed, its source not yet
  // moved). Off by default: no fsync can protect an application from it, and the filesystems
  // databases run on (ext4, xfs, btrfs) rename atomically. "weak-rename" turns it on.
  bool half_renames = false;
  std::string Name() const;  // "prefix", "pp", "pp-strict", "weak", "reorder-2", "torn-512", ...
};

// Parses a model name as printed by Name() ("reorder" alone means k = 2, "torn" 4096).
Result<Model> ParseModel(std::string_view name);
// Every model name with one line on what it means (for --help and errors).
std::string ModelHelp();

}  // namespace faultfs::crash
