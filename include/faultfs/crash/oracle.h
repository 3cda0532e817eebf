// The built-in checker, for crashtest runs without --check (what CrashMonkey's AutoChecker
// checks): whatever the workload made durable before the crash point must be there. A file
// fsynced at op p must, in a state crashed after p, hold exactly what it held at p; a directory
// fsynced at p must still list every name it listed at p. A fact stops being checked once a later
// op (before the crash point) changes that file or directory again, since then the model allows
// either version.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "faultfs/core/status.h"
#include "faultfs/crash/state.h"
#include "faultfs/record/log.h"

namespace faultfs::crash {

class DurabilityOracle {
 public:
  // Replays `log` into `scratch` (created; left behind for inspection) from `snapshot`, noting
  // what each persistence point made durable under `model`.
  static Result<DurabilityOracle> Build(const std::string& snapshot, const record::ReadLog& log,
                                        const Model& model, const std::string& scratch);

  // What `state_dir` (a crash at `crash_point`) lacks; empty when it holds everything durable.
  std::vector<std::string> Check(uint32_t crash_point, const std::string& state_dir) const;

  size_t facts() const { return facts_.size(); }

 private:
  struct Fact {
    uint32_t at = 0;           // the persistence point (op index)
    uint32_t valid_until = 0;  // checked for crash points in (at, valid_until]
    bool is_dir = false;
    std::string path;                // the file or directory, as named at `at`
    bool name_durable = true;        // files: must exist (else: only checked when present)
    std::string content;             // files: content hash at `at`
    std::vector<std::string> names;  // directories: the names listed at `at`
    uint32_t seq = 0;                // for messages
  };
  std::vector<Fact> facts_;
};

}  // namespace faultfs::crash
