// The persistence models of docs/persistence-models.md, written from the document alone and by
// brute force: for each kept crash point, every state the model's rules allow (trying every subset
// where the document says "any"), as lists of applied ops for the interpreter.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

#include "faultfs/core/status.h"
#include "faultfs/crash/state.h"
#include "reference/history.h"
#include "reference/needs.h"

namespace faultfs::crash::reference {

struct RefModel {
  enum class Kind { kPrefix, kExt4, kPp, kPpStrict, kWeak, kReorder, kTorn } kind = Kind::kPrefix;
  uint32_t k = 2;             // reorder-K
  uint64_t sector = 4096;     // torn-512, torn-4096
  bool half_renames = false;  // weak-rename
};

// The names the document gives ("reorder" is reorder-2, "torn" torn-4096); nullopt otherwise.
std::optional<RefModel> ParseRefModel(std::string_view name);

// The states of one crash point.
struct PointStates {
  uint32_t crash_point = 0;
  std::vector<Applied> plain;  // the state "c"
  // The states the model lists, the plain one among them: a builder must give exactly these
  // trees.
  std::vector<std::vector<Applied>> exact;
  // reorder-K: the sets larger than K when there are more than 8 (the builder draws 8 of them,
  // which cannot be predicted): each drawn state must be one of these.
  std::vector<std::vector<Applied>> drawn_from;
};

// The crash points the model keeps (see "Ids and order").
std::vector<uint32_t> KeptCrashPoints(const History& history, const RefModel& model);

// Every kept crash point's states. Fails when a crash point has more than `max_free` ops that
// vary independently (brute force would take too long), saying where.
Result<std::vector<PointStates>> ModelStates(const History& history, const Needs& needs,
                                             const RefModel& model, size_t max_free = 14);

// `weak`'s split of a write of `size` bytes at `offset`: where it is cut (offsets in its data,
// strictly inside), per "cut into 2 or 3 pieces at 4 KiB-aligned file offsets near its thirds".
std::vector<uint64_t> WeakCuts(uint64_t offset, uint64_t size);

}  // namespace faultfs::crash::reference
