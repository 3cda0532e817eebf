// One log's differential check: the crash states the real builder enumerates and builds for a
// model, against the reference interpreter of docs/persistence-models.md (tests/crash/reference).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "faultfs/crash/head_start.h"
#include "faultfs/crash/state.h"
#include "faultfs/record/log.h"
#include "reference/history.h"
#include "reference/needs.h"

namespace faultfs::crash {

// Something the builder does that the document does not allow (or the other way round).
struct Finding {
  std::string kind;   // "violation", "materialize", "builder", "missing state", ...
  std::string state;  // the state id, or "" for the model or a crash point as a whole
  std::string what;   // a readable account, with tree differences where there are some
};

class DifferentialCheck {
 public:
  // `work`: an empty directory for the states this check builds.
  DifferentialCheck(const record::ReadLog& log, std::string snapshot, std::string work,
                    uint64_t seed, const reference::History& history,
                    const reference::Needs& needs);

  // Every state of `model` (by its documented name): built by Materialize and by one StateBuilder
  // (in order, with checkpoints), against the reference's tree for its applied ops; the trees of
  // each crash point against the reference model's set; the model's promises. Empty: all agree.
  std::vector<Finding> Check(const std::string& model);
  // How many states the last Check enumerated.
  size_t states_checked() const { return states_checked_; }
  // The next Check's StateBuilder gets `dir` (the directory the log's start was copied from,
  // whose inode numbers the log header lists) as its recorded directory (head_start.h): it takes
  // the files no op touches from there. Every builder gets the snapshot's digests.
  void OfferRecorded(std::string dir) { recorded_ = std::move(dir); }
  // How many files builders have taken from a recorded directory so far.
  uint64_t files_adopted() const { return adopted_; }

 private:
  friend class ModelRun;
  // Materialize's tree for the state (cached by applied list: models share states).
  Result<reference::Tree> Materialized(const CrashState& state);

  const record::ReadLog& log_;
  const std::string snapshot_;
  const std::string work_;
  const uint64_t seed_;
  const reference::History& history_;
  const reference::Needs& needs_;
  size_t states_checked_ = 0;
  std::string recorded_;
  uint64_t adopted_ = 0;
  std::optional<SnapshotDigests> digests_;  // made by the first builder
  std::map<std::string, reference::Tree> materialized_;
};

// The log, one line per op.
std::string LogListing(const record::ReadLog& log);

}  // namespace faultfs::crash
