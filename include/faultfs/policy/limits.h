// Hard limits on what a policy may ask for. Policies come from files and from the control socket,
// and whoever writes them may be hostile: each limit bounds the memory or the time a policy can
// make faultfs spend, at load and on every operation. policies/README.md ("Limits") lists them.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "faultfs/core/status.h"

namespace faultfs::policy {

inline constexpr size_t kMaxPolicyBytes = 1 << 20;  // a policy file, or a policy sent to a mount
inline constexpr size_t kMaxRules = 10'000;         // in one policy, and live in one mount
inline constexpr size_t kMaxPatternBytes = 4096;    // one glob or regex, as written
// One glob's {a,b} alternatives, once expanded: how many patterns, and their bytes in all.
inline constexpr size_t kMaxGlobAlternatives = 256;
inline constexpr size_t kMaxGlobExpandedBytes = 64 << 10;
// Every glob of a policy together, expanded.
inline constexpr size_t kMaxPolicyGlobAlternatives = 16'384;
inline constexpr size_t kMaxPolicyGlobBytes = 4 << 20;
// path_regex patterns in one policy, and RE2's memory budget for each: the costliest regex
// within it takes ~40 ms to compile.
inline constexpr size_t kMaxRegexes = 64;
inline constexpr int64_t kRegexMaxMemBytes = 1 << 20;
// The longest an op can be held by one delay, stall or bandwidth wait, and by all of them together.
inline constexpr double kMaxDelayMs = 3'600'000;  // one hour

class Glob;

// What the patterns of one policy cost so far, against the per-policy limits above. The parser
// counts a policy text with it, and the engine the whole policy a mount has (`ctl add` grows it).
class PatternBudget {
 public:
  Status AddRule();
  Status AddGlob(const Glob& glob);
  Status AddRegex();

 private:
  size_t rules_ = 0;
  size_t glob_alternatives_ = 0;
  size_t glob_bytes_ = 0;
  size_t regexes_ = 0;
};

}  // namespace faultfs::policy
