// Crash states: what a storage stack may have left on disk if power failed at some point of a
// recorded workload, under a named persistence model (docs/persistence-models.md).
//
// A state is described, not stored: the crash point (how many recorded ops had been issued) and
// the list of ops that reached the disk, in the order they are re-applied to the starting
// snapshot, each possibly cut to a piece of its data. Materializing a state (materialize.h)
// rebuilds it byte for byte. The same (ops, model, seed) always gives the same states, with the
// same ids, in the same order.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "faultfs/core/status.h"
#include "faultfs/crash/model.h"
#include "faultfs/record/log.h"
#include "faultfs/record/op.h"

namespace faultfs::crash {

// How an op is re-applied. Each op appears at most once in a state's `applied`.
struct Applied {
  uint32_t op = 0;  // index into the recorded ops (0-based; seq - 1)
  // kWrite only: the bytes [begin, end) of the write's data reached the disk...
  uint64_t begin = 0;
  uint64_t end = UINT64_MAX;
  // ...with this content: the data itself, zeros, or garbage (an append that exposed unwritten
  // blocks). Garbage is derived from the state's seed, so it is reproducible.
  enum class Fill : uint8_t { kData, kZeros, kGarbage } fill = Fill::kData;
  // kRename only: kWhole, or kUnlinkTarget for a rename that reached the disk only halfway (the
  // `weak` model): the destination name (path2) was removed, the source (path) was not moved.
  enum class Part : uint8_t { kWhole, kUnlinkTarget } part = Part::kWhole;
  bool operator==(const Applied&) const = default;
};

// How a state differs from "every op before the crash point persisted" (the vocabulary of
// findings): op `op` was left out although the later op `later` persisted; op `op` was torn;
// op `op` (a directory entry change in `dir`) was lost for want of an fsync of `dir`.
struct Deviation {
  enum class Kind : uint8_t {
    kOmitted,          // "op i must persist before op j"     (later = j)
    kTorn,             // "op i must be atomic"
    kEntryNotDurable,  // "durability of op i needs an fsync of the directory `dir`"
    kDataNotDurable,   // "durability of op i needs an fsync of <op i's path>"
    kReordered,        // "op i must persist before op j"    (j persisted, i did not)
    kLostWith,         // op i is missing because it needs op j (later = j), which is missing
  } kind = Kind::kOmitted;
  uint32_t op = 0;
  uint32_t later = 0;
  std::string dir = {};  // kEntryNotDurable: the directory ("" is the root); `= {}` keeps
                         // designated initializers free of -Wmissing-field-initializers
  bool operator==(const Deviation&) const = default;
};

struct CrashState {
  std::string id;  // stable within (ops, model, seed): "<crash point>" or "<crash point>.<n>"
  // Ops [0, crash_point) had been issued; markers among them were acknowledged.
  uint32_t crash_point = 0;
  std::vector<Applied> applied;
  std::vector<Deviation> deviations;
  std::string summary;  // one line: "crash after op 12 (rename a -> b); omits op 9 (write a ...)"
  bool operator==(const CrashState&) const = default;
};

struct Enumeration {
  std::vector<CrashState> states;  // at most max_states, in a fixed order
  uint64_t total = 0;              // how many the model defines (>= states.size())
  bool sampled = false;            // states were sampled (seeded) because total > max_states
};

// All crash states of `log` under `model`, ordered by crash point, then variant number. When the
// model defines more than `max_states`, `max_states` of them are chosen with `seed`: every crash
// point's plain state first, then variants drawn uniformly from the rest. Ids do not depend on
// the sampling: state "c.n" is the same state whichever states were chosen.
Enumeration Enumerate(const record::ReadLog& log, const Model& model, uint64_t seed,
                      uint64_t max_states);
// The same for ops alone, as if every name they use had existed when recording started (tests).
Enumeration Enumerate(const std::vector<record::Op>& ops, const Model& model, uint64_t seed,
                      uint64_t max_states);

// The states of one crash point alone, without listing the others (a live crash needs only the
// last one): how many `model` defines at `crash_point` (at most ops.size()), and state `index`
// (below that count) of them, with the id and content Enumerate() gives it with `seed`.
uint64_t CountStatesAt(const record::ReadLog& log, const Model& model, uint64_t seed,
                       uint32_t crash_point);
CrashState StateAt(const record::ReadLog& log, const Model& model, uint64_t seed,
                   uint32_t crash_point, uint64_t index);
// The same for ops alone (tests).
CrashState StateAt(const std::vector<record::Op>& ops, const Model& model, uint64_t seed,
                   uint32_t crash_point, uint64_t index);

// For each state, how many of its first applied ops every later state in `states` applies too
// (the same Applied entries, in the same places). A builder taking the states in this order may
// keep those ops applied (StateBuilder::Build's `shared`).
std::vector<size_t> SharedPrefixes(const std::vector<CrashState>& states);

// One line naming op `i` for humans: "op 7 (rename a/x -> a/y)".
std::string DescribeOp(const std::vector<record::Op>& ops, uint32_t i);
// The finding a deviation stands for, in ALICE's words.
std::string FindingText(const std::vector<record::Op>& ops, const Deviation& d);

}  // namespace faultfs::crash
