// What data faults do to a transfer, as pure functions of the action, the decision's random bits
// and the transfer's offset and size, so that the event log and the operation always agree.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "faultfs/policy/policy.h"

namespace faultfs::fs {

// Bytes a short read or write transfers (always fewer than `size` when size > 0).
size_t ShortLength(const policy::ShortAction& a, size_t size);

// A torn write: which whole units (by index from the unit containing `offset`) reach the disk.
struct TornPlan {
  uint64_t unit = 0;
  std::vector<bool> keep;  // one flag per unit the write touches; never all kept
};
TornPlan PlanTorn(const policy::TornAction& a, uint64_t draw, uint64_t offset, size_t size);

// Corrupts `data` (the transfer) in place.
void Corrupt(const policy::CorruptAction& a, uint64_t draw, char* data, size_t size);

// One line for the event log's "result" field.
std::string DescribeOutcome(const policy::Action& a, uint64_t draw, int err, uint64_t offset,
                            size_t size);

}  // namespace faultfs::fs
