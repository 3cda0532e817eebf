#include "faultfs/policy/limits.h"

#include "faultfs/policy/glob.h"

namespace faultfs::policy {

namespace {

Status Over(size_t limit, const std::string& what) {
  return Status::Invalid("the policy would have more than " + std::to_string(limit) + " " + what);
}

}  // namespace

Status PatternBudget::AddRule() {
  if (++rules_ > kMaxRules) return Over(kMaxRules, "rules");
  return Status::Ok();
}

Status PatternBudget::AddGlob(const Glob& glob) {
  glob_alternatives_ += glob.alternatives();
  glob_bytes_ += glob.expanded_bytes();
  if (glob_alternatives_ > kMaxPolicyGlobAlternatives) {
    return Over(kMaxPolicyGlobAlternatives, "glob patterns, once their {..} are expanded");
  }
  if (glob_bytes_ > kMaxPolicyGlobBytes) {
    return Over(kMaxPolicyGlobBytes >> 20, "MiB of glob patterns, once their {..} are expanded");
  }
  return Status::Ok();
}

Status PatternBudget::AddRegex() {
  if (++regexes_ > kMaxRegexes) return Over(kMaxRegexes, "path_regex patterns");
  return Status::Ok();
}

}  // namespace faultfs::policy
