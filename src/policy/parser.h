// The policy parser's insides, shared by its files: parse.cc (the document, rules, ops against
// the action), parse_values.cc (typed values with positions in errors), parse_match.cc (what a
// rule matches, and [capacity]) and parse_actions.cc (each action's parameters).
#pragma once

#include <toml++/toml.h>

#include <array>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include "faultfs/policy/limits.h"
#include "faultfs/policy/parse.h"
#include "faultfs/policy/policy.h"

namespace faultfs::policy {

// Linux pids stay below 2^22, but any positive int is a pid_t. (uid_t)-1 means "no id" to the
// kernel: never a caller's.
inline constexpr uint64_t kMaxPid = INT32_MAX;
inline constexpr uint64_t kMaxId = UINT32_MAX - 1;

// Where an action is being parsed: its parameters (the value under its name, if any), the
// `action` key, and the whole rule.
struct ActionSite {
  const toml::node* params;
  const toml::node& action;
  const toml::table& rule;
};
template <class A>
using Is = std::type_identity<A>;

class Parser {
 public:
  explicit Parser(std::string_view name) : name_(name) {}
  ParseOutcome Run(std::string_view text);

 private:
  ParseOutcome Finish(std::optional<Policy> policy);
  // Past kMaxErrors, one last error says so: a hostile text must not make a list (or a control
  // reply) that grows with every line of it.
  void Error(const toml::source_region& where, std::string message);
  void Error(const toml::node& at, std::string message) { Error(at.source(), std::move(message)); }
  void CheckKeys(const toml::table& table, const std::vector<std::string_view>& allowed,
                 const std::string& where);
  const toml::table* Table(const toml::node& node, const std::string& what);
  // A finite number. Integers too, even those a double cannot hold exactly (2^63-1): the checks
  // that follow are about range, and nan or inf would pass every comparison they make.
  std::optional<double> Number(const toml::node& node, const std::string& what);
  // A number in [0, max].
  std::optional<double> AtMost(const toml::node& node, const std::string& what, double max,
                               const std::string& max_in_words);
  std::optional<double> NonNegative(const toml::node& node, const std::string& what);
  std::optional<uint64_t> Count(const toml::node& node, const std::string& what);
  std::optional<uint64_t> Positive(const toml::node& node, const std::string& what);
  std::optional<uint64_t> Bytes(const toml::node& node, const std::string& what);
  std::optional<std::string> String(const toml::node& node, const std::string& what);
  // A string or an array of strings.
  std::vector<std::pair<std::string, const toml::node*>> Strings(const toml::node& node,
                                                                 const std::string& what);
  // Ids of type T, each at most `max`: a larger one would wrap around when stored (2^32 + 1 is
  // not pid 1).
  template <typename T>
  std::vector<T> Ids(const toml::node& node, const std::string& what, uint64_t max) {
    std::vector<T> out;
    const auto* arr = node.as_array();
    if (arr == nullptr && !node.is_integer()) {
      Error(node, what + " must be a number or an array of numbers");
      return out;
    }
    auto add = [&](const toml::node& n) {
      const auto v = Count(n, what);
      if (v && *v > max) {
        Error(n, what + ": " + std::to_string(*v) + " is out of range (at most " +
                     std::to_string(max) + ")");
      } else if (v) {
        out.push_back(static_cast<T>(*v));
      }
    };
    if (arr == nullptr) {
      add(node);
    } else {
      for (const auto& item : *arr) add(item);
    }
    return out;
  }
  std::optional<Range> RangeOf(const toml::node& node, const std::string& what, bool bytes);
  std::optional<int> ErrnoOf(const toml::node& node, const std::string& what);
  static std::string FormatNumber(double v);
  std::optional<Capacity> ParseCapacity(const toml::node& node);
  void ParseRules(const toml::node& node, std::vector<Rule>& rules);
  bool ParseRule(const toml::table& t, Rule& rule);
  void ParseMatch(const toml::table& t, Match& m);
  void ParseOps(const toml::table& t, Match& m);
  void ParsePaths(const toml::table& t, Match& m);
  void ParseFileTypes(const toml::table& t, Match& m);
  void ParseOpenFlags(const toml::table& t, Match& m);
  void ParseCounters(const toml::table& t, Match& m);
  void ParseWindow(const toml::node& n, Match& m);
  void ParseFlakey(const toml::node& n, Match& m);
  // The action and its parameters, which sit under a key named like the action
  // (parse_actions.cc).
  void ParseAction(const toml::table& t, Rule& rule);
  // One parser per action type, chosen by type (a type without one does not compile).
  template <class A>
  Action ParseAs(const ActionSite& site);
  // ParseAs for every alternative of Action, in its order (the registry's).
  template <class... As>
  static constexpr std::array<Action (Parser::*)(const ActionSite&), sizeof...(As)> ParsersFor(
      const std::variant<As...>*);
  ErrnoAction ParseOne(Is<ErrnoAction>, const ActionSite& s);
  DelayAction ParseOne(Is<DelayAction>, const ActionSite& s);
  BandwidthAction ParseOne(Is<BandwidthAction>, const ActionSite& s);
  StallAction ParseOne(Is<StallAction>, const ActionSite& s);
  ShortAction ParseOne(Is<ShortAction>, const ActionSite& s);
  TornAction ParseOne(Is<TornAction>, const ActionSite& s);
  CorruptAction ParseOne(Is<CorruptAction>, const ActionSite& s);
  MisdirectAction ParseOne(Is<MisdirectAction>, const ActionSite& s);
  StaleReadAction ParseOne(Is<StaleReadAction>, const ActionSite& s);
  LostWriteAction ParseOne(Is<LostWriteAction>, const ActionSite& s);
  LyingFsyncAction ParseOne(Is<LyingFsyncAction>, const ActionSite& s);
  FsyncFailAction ParseOne(Is<FsyncFailAction>, const ActionSite& s);
  KillAction ParseOne(Is<KillAction>, const ActionSite& s);
  FreezeAction ParseOne(Is<FreezeAction>, const ActionSite& s);
  CrashAction ParseOne(Is<CrashAction>, const ActionSite& s);
  ErrnoAction ParseErrnoAction(const toml::node* params, const toml::node& action_node);
  Distribution ParseDistribution(const toml::node* params, const toml::node& action_node);
  BandwidthAction ParseBandwidth(const toml::node* params, const toml::node& action_node);
  StallAction ParseStall(const toml::node* params);
  ShortAction ParseShort(const toml::node* params, const toml::node& action_node);
  TornAction ParseTorn(const toml::node* params);
  CorruptAction ParseCorrupt(const toml::node* params);
  MisdirectAction ParseMisdirect(const toml::node* params);
  FsyncFailAction ParseFsyncFail(const toml::node* params, const toml::node* errno_node);
  KillAction ParseKill(const toml::node* params);
  CrashAction ParseCrash(const toml::node* params);
  // "caller", "group", "none", or the command names of the processes to kill.
  void ParseCrashKill(const toml::node& n, CrashAction& c);
  void CheckOpsFitAction(const toml::table& t, Rule& rule);
  void CheckRuleReferences(const std::vector<Rule>& rules);
  static constexpr size_t kMaxErrors = 100;
  std::string_view name_;
  std::vector<PolicyError> errors_;
  PatternBudget budget_;
  std::map<std::string, toml::source_region> after_rule_at_;  // rule id -> its after_rule key
};

}  // namespace faultfs::policy
