// TOML -> Policy. The parser walks the document once, checks every key and value, and records
// every problem with its position; a policy is returned only when there were none. This file: the
// document, its rules, whether a rule's ops fit its action, and reading a policy file; the rest
// of the parser is in parse_values.cc, parse_match.cc and parse_actions.cc (parser.h).
// Debian's toml++ is built with exceptions: its parse_error is caught here and becomes an error
// value like the others.
#include "faultfs/policy/parse.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <toml++/toml.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <set>
#include <tuple>

#include "faultfs/core/join.h"
#include "faultfs/core/unique_fd.h"
#include "faultfs/policy/actions.h"
#include "faultfs/policy/limits.h"
#include "parser.h"

namespace faultfs::policy {

std::string PolicyError::ToString() const {
  std::string out = file;
  if (line > 0) out += ":" + std::to_string(line) + ":" + std::to_string(column);
  return out + ": " + message;
}

std::optional<uint64_t> ParseBytes(std::string_view text) {
  static const std::map<std::string, uint64_t, std::less<>> kUnits = {{"", 1},
                                                                      {"B", 1},
                                                                      {"KiB", 1ULL << 10},
                                                                      {"MiB", 1ULL << 20},
                                                                      {"GiB", 1ULL << 30},
                                                                      {"TiB", 1ULL << 40},
                                                                      {"kB", 1000},
                                                                      {"KB", 1000},
                                                                      {"MB", 1000'000},
                                                                      {"GB", 1000'000'000},
                                                                      {"TB", 1000'000'000'000}};
  std::string s(text);
  size_t pos = 0;
  double value = 0;
  try {
    value = std::stod(s, &pos);
  } catch (...) {
    return std::nullopt;
  }
  while (pos < s.size() && s[pos] == ' ') ++pos;
  const auto unit = kUnits.find(s.substr(pos));
  if (unit == kUnits.end() || value < 0 || !std::isfinite(value)) return std::nullopt;
  const double bytes = value * static_cast<double>(unit->second);
  if (bytes > 1.8e19 || bytes != std::floor(bytes)) return std::nullopt;
  return static_cast<uint64_t>(bytes);
}

namespace {

// Errors in the order of the text (the checks run by concern, not by line); when `capped`, the
// last one ("too many errors") stays last.
void SortByPosition(std::vector<PolicyError>& errors, bool capped) {
  const auto end = capped && !errors.empty() ? errors.end() - 1 : errors.end();
  std::stable_sort(errors.begin(), end, [](const PolicyError& a, const PolicyError& b) {
    return std::tie(a.line, a.column) < std::tie(b.line, b.column);
  });
}

// The keys of a [[rule]]: its own, what it matches, and each action's parameter table.
const std::vector<std::string_view>& RuleKeys() {
  static const std::vector<std::string_view> kKeys = [] {
    std::vector<std::string_view> keys = {
        "id",    "enabled",   "ops",    "path",   "path_regex", "file_type",   "offset", "size",
        "flags", "pid",       "uid",    "gid",    "process",    "probability", "nth",    "every",
        "after", "max_times", "window", "flakey", "after_rule", "action"};
    for (const ActionInfo& a : AllActions()) {
      if (a.takes_params) keys.push_back(a.name);
    }
    return keys;
  }();
  return kKeys;
}

}  // namespace

ParseOutcome Parser::Run(std::string_view text) {
  toml::table root;
  try {
    root = toml::parse(text, std::string(name_));
  } catch (const toml::parse_error& err) {
    Error(err.source(), std::string(err.description()));
    return Finish(std::nullopt);
  }
  Policy policy;
  CheckKeys(root, {"seed", "capacity", "rule"}, "the policy");
  if (const auto* seed = root.get("seed")) policy.seed = Count(*seed, "seed");
  if (const auto* capacity = root.get("capacity")) policy.capacity = ParseCapacity(*capacity);
  if (const auto* rules = root.get("rule")) ParseRules(*rules, policy.rules);
  CheckRuleReferences(policy.rules);
  return Finish(std::move(policy));
}

ParseOutcome Parser::Finish(std::optional<Policy> policy) {
  ParseOutcome out;
  SortByPosition(errors_, errors_.size() > kMaxErrors);
  out.errors = std::move(errors_);
  if (out.errors.empty()) out.policy = std::move(policy);
  return out;
}

void Parser::ParseRules(const toml::node& node, std::vector<Rule>& rules) {
  const auto* arr = node.as_array();
  if (arr == nullptr || !arr->is_array_of_tables()) {
    Error(node, "rules are written as [[rule]] tables");
    return;
  }
  std::map<std::string, uint32_t> ids;  // id -> the line that gave it first
  for (size_t i = 0; i < arr->size(); ++i) {
    const auto* t = arr->get(i)->as_table();
    if (Status fits = budget_.AddRule(); !fits.ok()) {
      Error(*t, fits.ToString());
      return;
    }
    Rule rule;
    rule.id = "rule-" + std::to_string(i + 1);
    const bool parsed = ParseRule(*t, rule);
    // A duplicate id is reported with the rule's other errors, not once they are fixed.
    const toml::node& id_at = t->get("id") != nullptr ? *t->get("id") : *t;
    const auto [first, fresh] = ids.emplace(rule.id, id_at.source().begin.line);
    if (!fresh && !rule.id.empty()) {
      Error(id_at, "duplicate rule id '" + rule.id + "' (first at line " +
                       std::to_string(first->second) + ")");
      continue;
    }
    if (parsed) rules.push_back(std::move(rule));
  }
}

bool Parser::ParseRule(const toml::table& t, Rule& rule) {
  const size_t errors_before = errors_.size();
  CheckKeys(t, RuleKeys(), "a [[rule]]");
  if (const auto* n = t.get("id")) {
    if (auto id = String(*n, "id")) {
      if (id->empty()) Error(*n, "id must not be empty");
      rule.id = *id;
    }
  }
  if (const auto* n = t.get("enabled")) {
    if (const auto b = n->value<bool>()) {
      rule.enabled = *b;
    } else {
      Error(*n, "enabled must be true or false");
    }
  }
  ParseMatch(t, rule.match);
  if (const auto* n = t.get("after_rule")) after_rule_at_[rule.id] = n->source();
  ParseAction(t, rule);
  CheckOpsFitAction(t, rule);
  return errors_.size() == errors_before;
}

void Parser::CheckOpsFitAction(const toml::table& t, Rule& rule) {
  const OpSet applicable = ApplicableOps(rule.action);
  if (rule.match.ops.none()) {
    rule.match.ops = applicable;  // "no ops": every op the action can act on
    return;
  }
  const OpSet misfit = rule.match.ops & ~applicable;
  if (misfit.none()) return;
  std::vector<std::string_view> names;
  std::vector<std::string_view> allowed;
  for (size_t i = 0; i < kOpCount; ++i) {
    if (misfit.test(i)) names.push_back(OpName(static_cast<Op>(i)));
    if (applicable.test(i)) allowed.push_back(OpName(static_cast<Op>(i)));
  }
  Error(*t.get("ops"), "action '" + std::string(ActionName(rule.action)) + "' cannot act on " +
                           Join(names) + " (it applies to: " + Join(allowed) + ")");
}

void Parser::CheckRuleReferences(const std::vector<Rule>& rules) {
  std::set<std::string> ids;
  for (const auto& r : rules) ids.insert(r.id);
  for (const auto& r : rules) {
    if (!r.match.after_rule) continue;
    const toml::source_region& at = after_rule_at_[r.id];
    if (ids.count(*r.match.after_rule) == 0) {
      Error(at,
            "after_rule names '" + *r.match.after_rule + "', which is not a rule of this policy");
    } else if (*r.match.after_rule == r.id) {
      Error(at, "rule '" + r.id + "' cannot come after itself");
    }
  }
}

ParseOutcome ParsePolicy(std::string_view text, std::string_view source_name) {
  if (text.size() > kMaxPolicyBytes) {
    ParseOutcome out;
    out.errors.push_back({std::string(source_name), 0, 0,
                          "the policy is larger than " + std::to_string(kMaxPolicyBytes >> 20) +
                              " MiB (" + std::to_string(text.size()) + " bytes)"});
    return out;
  }
  return Parser(source_name).Run(text);
}

namespace {

// A policy is read from a regular file only: a FIFO would block the reader, and a device or a
// special file can be endless (/dev/zero) or slow (/dev/urandom).
Status CheckPolicyFile(const struct stat& st) {
  if (S_ISREG(st.st_mode)) return Status::Ok();
  const char* kind = S_ISDIR(st.st_mode)    ? "a directory"
                     : S_ISFIFO(st.st_mode) ? "a FIFO"
                     : S_ISCHR(st.st_mode)  ? "a character device"
                     : S_ISBLK(st.st_mode)  ? "a block device"
                     : S_ISSOCK(st.st_mode) ? "a socket"
                                            : "not a regular file";
  return Status::Invalid(std::string("cannot read the policy: it is ") + kind +
                         "; a policy must be a regular file");
}

Status TooLarge(uint64_t size) {
  return Status::Invalid("cannot read the policy: larger than " +
                         std::to_string(kMaxPolicyBytes >> 20) + " MiB" +
                         (size > 0 ? " (" + std::to_string(size) + " bytes)" : std::string()));
}

}  // namespace

Result<std::string> ReadPolicyText(const std::string& path) {
  struct stat st {};
  // Checked before opening as well: merely opening a device can do something (a tape rewinds).
  if (stat(path.c_str(), &st) != 0) return Status::FromErrno(errno, "cannot read the policy");
  FAULTFS_RETURN_IF_ERROR(CheckPolicyFile(st));
  // O_NONBLOCK: if the path was swapped for a FIFO meanwhile, opening it does not wait for a
  // writer; fstat then tells what was really opened.
  UniqueFd fd(open(path.c_str(), O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC));
  if (!fd) return Status::FromErrno(errno, "cannot read the policy");
  if (fstat(fd.get(), &st) != 0) return Status::FromErrno(errno, "cannot read the policy");
  FAULTFS_RETURN_IF_ERROR(CheckPolicyFile(st));
  if (static_cast<uint64_t>(st.st_size) > kMaxPolicyBytes) {
    return TooLarge(static_cast<uint64_t>(st.st_size));
  }
  // The size can be wrong (a /proc file says 0) or grow while read: the cap holds on what is read.
  std::string text;
  char chunk[64 << 10];
  for (;;) {
    const ssize_t n = read(fd.get(), chunk, sizeof(chunk));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Status::FromErrno(errno, "cannot read the policy");
    if (n == 0) return text;
    text.append(chunk, static_cast<size_t>(n));
    if (text.size() > kMaxPolicyBytes) return TooLarge(0);
  }
}

ParseOutcome ParsePolicyFile(const std::string& path) {
  auto text = ReadPolicyText(path);
  if (!text.ok()) {
    ParseOutcome out;
    out.errors.push_back({path, 0, 0, text.status().ToString()});
    return out;
  }
  return ParsePolicy(*text, path);
}

}  // namespace faultfs::policy
