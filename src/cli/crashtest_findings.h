// crashtest, between explaining and reporting: failing states grouped by what would fix them
// (crash::Fix), one entry per fix, each failing state counted once, under the fix that explains
// it; and whether the ext4 model's states fail for the same fix.
#pragma once

#include <cstdint>
#include <set>
#include <string>
#include <vector>

#include "crashtest_check.h"
#include "faultfs/crash/state.h"

namespace faultfs::cli {

struct Finding {
  std::string key;                       // the fix's key (crash::Fix)
  std::string text;                      // the fix in words, from its first state
  bool confirmed = false;                // undoing one cause made the checker accept its states
  std::vector<uint32_t> ops = {};        // the ops it is about, over all its states
  std::vector<size_t> states = {};       // failing states it explains (checked, not duplicates)
  size_t duplicates = 0;                 // failing states with the same content as one of those
  std::set<uint32_t> crash_points = {};  // of all of them
  size_t example = 0;                    // the first of all of them (duplicates too)
  // Whether a failing state of the ext4 model has the same fix.
  enum class Ext4 { kNotChecked, kAlso, kNot } ext4 = Ext4::kNotChecked;
};

// Failing states by fix: confirmed fixes first, then in the order of their first state. A
// duplicate counts for the state it duplicates (resolved through `index`: label -> position).
std::vector<Finding> GroupFindings(const std::vector<crash::CrashState>& states,
                                   const std::vector<StateResult>& results);

// The fix keys of the failing states of a second model (its own findings, and for a state that
// duplicates one of `main_results`, that state's).
std::set<std::string> FailingFixes(const std::vector<StateResult>& results,
                                   const std::vector<crash::CrashState>& main_states,
                                   const std::vector<StateResult>& main_results);

}  // namespace faultfs::cli
