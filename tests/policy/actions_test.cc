// Goal: the action registry is the one list of actions: every action in it parses from a policy
// under its name, comes back with that name, is explained, takes a parameter table exactly when
// the registry says so, and is refused on an op it cannot act on; a timing action is one that
// only delays. A new action with no example here fails the test.
#include "faultfs/policy/actions.h"

#include <gtest/gtest.h>

#include <map>
#include <string>
#include <variant>
#include <vector>

#include "faultfs/policy/parse.h"

namespace faultfs::policy {
namespace {

// One small rule per action, its parameters included: what a user would write first.
const std::map<std::string_view, std::string>& Examples() {
  static const std::map<std::string_view, std::string> kExamples = {
      {"errno", "errno = \"EIO\""},
      {"delay", "delay = { fixed_ms = 5 }"},
      {"bandwidth", "bandwidth = { bytes_per_s = \"1 MiB\" }"},
      {"stall", "stall = { timeout_s = 1 }"},
      {"short", "short = { fraction = 0.5 }"},
      {"torn", "torn = { unit = 512 }"},
      {"corrupt", "corrupt = { mode = \"zero\" }"},
      {"misdirect", "misdirect = { shift = 4096 }"},
      {"stale", ""},
      {"lose", ""},
      {"lie", ""},
      {"fsync_fail", "fsync_fail = { semantics = \"keep\" }"},
      {"kill", "kill = { signal = \"SIGTERM\" }"},
      {"freeze", ""},
      {"crash", "crash = { model = \"prefix\" }"},
  };
  return kExamples;
}

std::string RuleFor(const ActionInfo& a) {
  const auto example = Examples().find(a.name);
  return "[[rule]]\nid = \"r\"\naction = \"" + std::string(a.name) + "\"\n" +
         (example == Examples().end() ? "" : example->second) + "\n";
}

TEST(Actions, EveryActionParsesUnderItsNameAndIsExplained) {
  ASSERT_EQ(AllActions().size(), std::variant_size_v<Action>);
  for (const ActionInfo& a : AllActions()) {
    SCOPED_TRACE(std::string(a.name));
    ASSERT_TRUE(Examples().contains(a.name)) << "no example rule for a new action: add one here";
    const auto parsed = ParsePolicy(RuleFor(a), "example.toml");
    for (const auto& e : parsed.errors) ADD_FAILURE() << e.ToString();
    ASSERT_TRUE(parsed.ok());
    const Action& action = parsed.policy->rules.at(0).action;
    EXPECT_EQ(ActionName(action), a.name);
    EXPECT_EQ(&InfoOf(action), &a);
    EXPECT_EQ(ActionIndexOf(a.name), action.index());
    EXPECT_FALSE(Explain(*parsed.policy).empty());
    EXPECT_TRUE(ApplicableOps(action).any()) << "an action that can act on nothing";
  }
}

TEST(Actions, ParametersAreTakenExactlyWhereTheRegistrySays) {
  // Goal: an action without parameters refuses a table under its name; one with them accepts it
  // (the examples above) and its table is an unknown key for every other action.
  for (const ActionInfo& a : AllActions()) {
    SCOPED_TRACE(std::string(a.name));
    if (a.takes_params) {
      const auto other =
          ParsePolicy("[[rule]]\naction = \"freeze\"\n" + Examples().at(a.name) + "\n", "p.toml");
      EXPECT_FALSE(other.ok()) << "another action's parameters were accepted";
    } else {
      const auto with = ParsePolicy(
          "[[rule]]\naction = \"" + std::string(a.name) + "\"\n" + std::string(a.name) + " = {}\n",
          "p.toml");
      EXPECT_FALSE(with.ok()) << "parameters accepted by an action that takes none";
    }
  }
}

TEST(Actions, AnOpOutsideTheActionsReachIsRefused) {
  // Goal: ops the action cannot act on are an error naming them; its own ops are fine.
  for (const ActionInfo& a : AllActions()) {
    SCOPED_TRACE(std::string(a.name));
    const auto parsed = ParsePolicy(RuleFor(a), "p.toml");
    ASSERT_TRUE(parsed.ok());
    const OpSet ops = ApplicableOps(parsed.policy->rules.at(0).action);
    for (size_t i = 0; i < kOpCount; ++i) {
      const std::string text = "[[rule]]\nops = [\"" + std::string(OpName(static_cast<Op>(i))) +
                               "\"]\naction = \"" + std::string(a.name) + "\"\n" +
                               Examples().at(a.name) + "\n";
      EXPECT_EQ(ParsePolicy(text, "p.toml").ok(), ops.test(i)) << OpName(static_cast<Op>(i));
    }
  }
}

TEST(Actions, TimingActionsAreTheOnesThatOnlyDelay) {
  // Goal: the engine treats exactly these as delays, not outcomes.
  std::vector<std::string_view> timing;
  for (const ActionInfo& a : AllActions()) {
    if (a.timing) timing.push_back(a.name);
  }
  EXPECT_EQ(timing, (std::vector<std::string_view>{"delay", "bandwidth", "stall", "freeze"}));
}

TEST(Actions, AnUnknownActionSuggestsTheNearestName) {
  const auto parsed = ParsePolicy("[[rule]]\naction = \"delya\"\n", "p.toml");
  ASSERT_EQ(parsed.errors.size(), 1u);
  EXPECT_NE(parsed.errors[0].message.find("did you mean 'delay'"), std::string::npos)
      << parsed.errors[0].message;
}

}  // namespace
}  // namespace faultfs::policy
