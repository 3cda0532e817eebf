// The reference interpreter of one crash state: the starting snapshot with the state's `applied`
// ops re-applied, at the level of objects and entries. It also checks what the doc promises of
// every state: each applied entry op meets the entries holding the same objects as when it was
// recorded (so it is never applied against something else, nor silently skipped).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "faultfs/crash/state.h"
#include "reference/history.h"

namespace faultfs::crash::reference {

struct Interpretation {
  Fs fs;                                // the state's objects and entries
  std::vector<std::string> violations;  // what the state does that no state may do
};

Interpretation Interpret(const History& history, const std::vector<Applied>& applied,
                         uint64_t seed);

// Bytes [begin, end) of a write's garbage fill (the `weak` section's derivation): byte k of the
// write's range is the low byte of the k-th Next() of Rng(DeriveSeed(seed, "garbage/" + seq)).
std::string GarbageBytes(uint64_t seed, uint64_t seq, uint64_t begin, uint64_t end);

}  // namespace faultfs::crash::reference
