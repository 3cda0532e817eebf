// The registry of fault actions: for each alternative of policy::Action, its name in a policy,
// the ops it can act on, whether it takes a parameter table, and whether it changes when an op
// completes (timing) or what it returns (outcome). One entry per action type
// (src/policy/actions.cc, ActionTraits); an action type without one does not compile, nor does one
// without its parser (src/policy/parse_actions.cc), its explanation (explain.cc) or its description
// in the event log (src/fs/data_faults.cc): each is chosen by type over every alternative.
// docs/extending.md walks through adding one.
#pragma once

#include <optional>
#include <span>
#include <string_view>
#include <vector>

#include "faultfs/policy/policy.h"

namespace faultfs::policy {

struct ActionInfo {
  std::string_view name;  // action = "NAME"; its parameters sit under the key NAME
  bool takes_params;      // has a parameter table (or value)
  bool timing;            // delays or holds the op; the op's own result is unchanged
  // A rule's top-level `errno` key configures it (errno, and fsync_fail's shorthand).
  bool reads_errno_key;
};

// In the order of the alternatives of Action.
std::span<const ActionInfo> AllActions();
const ActionInfo& InfoOf(const Action& action);
// The alternative's index for a name, if it names an action.
std::optional<size_t> ActionIndexOf(std::string_view name);
std::vector<std::string_view> ActionNames();
// The ops the action can act on; a rule's ops must be among them (no ops: all of them).
OpSet ApplicableOps(const Action& action);

}  // namespace faultfs::policy
