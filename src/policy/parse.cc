// TOML -> Policy. The parser walks the document once, checks every key and value, and records
// every problem with its position; a policy is returned only when there were none.
// Debian's toml++ is built with exceptions: its parse_error is caught here and becomes an error
// value like the others.
#include "faultfs/policy/parse.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <toml++/toml.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <csignal>
#include <map>
#include <set>
#include <sstream>
#include <tuple>

#include "faultfs/core/errno_names.h"
#include "faultfs/core/unique_fd.h"
#include "faultfs/crash/model.h"
#include "faultfs/policy/glob.h"
#include "faultfs/policy/limits.h"
#include "faultfs/policy/path_regex.h"
#include "suggest.h"

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

// The ops each action can act on; a rule's ops must be among them (empty ops: all of them).
OpSet ApplicableOps(const Action& action) {
  auto set_of = [](std::initializer_list<Op> ops) {
    OpSet s;
    for (Op op : ops) s.set(static_cast<size_t>(op));
    return s;
  };
  struct Visitor {
    decltype(set_of)& of;
    OpSet operator()(const ErrnoAction&) const { return OpSet().set(); }
    OpSet operator()(const DelayAction&) const { return OpSet().set(); }
    OpSet operator()(const BandwidthAction&) const {
      return of({Op::kRead, Op::kWrite, Op::kCopyFileRange});
    }
    OpSet operator()(const StallAction&) const { return OpSet().set(); }
    OpSet operator()(const ShortAction&) const { return of({Op::kRead, Op::kWrite}); }
    OpSet operator()(const TornAction&) const { return of({Op::kWrite}); }
    OpSet operator()(const CorruptAction& c) const {
      return c.on_write ? of({Op::kWrite}) : of({Op::kRead});
    }
    OpSet operator()(const MisdirectAction&) const { return of({Op::kWrite}); }
    OpSet operator()(const StaleReadAction&) const { return of({Op::kRead}); }
    OpSet operator()(const LostWriteAction&) const { return of({Op::kWrite}); }
    OpSet operator()(const LyingFsyncAction&) const {
      return of({Op::kFsync, Op::kFdatasync, Op::kFsyncdir});
    }
    OpSet operator()(const FsyncFailAction&) const { return of({Op::kFsync, Op::kFdatasync}); }
    OpSet operator()(const KillAction&) const { return OpSet().set(); }
    OpSet operator()(const FreezeAction&) const { return OpSet().set(); }
    OpSet operator()(const CrashAction&) const { return OpSet().set(); }
  };
  return std::visit(Visitor{set_of}, action);
}

const std::map<std::string, int, std::less<>>& OpenFlagNames() {
  static const std::map<std::string, int, std::less<>> kFlags = {
      {"O_DIRECT", O_DIRECT}, {"O_SYNC", O_SYNC},   {"O_DSYNC", O_DSYNC}, {"O_APPEND", O_APPEND},
      {"O_TRUNC", O_TRUNC},   {"O_CREAT", O_CREAT}, {"O_EXCL", O_EXCL},   {"O_NOATIME", O_NOATIME},
      {"O_WRONLY", O_WRONLY}, {"O_RDWR", O_RDWR}};
  return kFlags;
}

std::optional<int> SignalFromName(std::string_view name) {
  static const std::map<std::string, int, std::less<>> kSignals = {
      {"SIGKILL", SIGKILL}, {"SIGTERM", SIGTERM}, {"SIGINT", SIGINT}, {"SIGQUIT", SIGQUIT},
      {"SIGABRT", SIGABRT}, {"SIGSTOP", SIGSTOP}, {"SIGHUP", SIGHUP}, {"SIGUSR1", SIGUSR1},
      {"SIGUSR2", SIGUSR2}, {"SIGSEGV", SIGSEGV}, {"SIGBUS", SIGBUS}};
  const auto it = kSignals.find(name);
  return it == kSignals.end() ? std::nullopt : std::optional<int>(it->second);
}

// Linux pids stay below 2^22, but any positive int is a pid_t. (uid_t)-1 means "no id" to the
// kernel: never a caller's.
constexpr uint64_t kMaxPid = INT32_MAX;
constexpr uint64_t kMaxId = UINT32_MAX - 1;
// misdirect.shift: further than any file reaches on ext4 (16 TiB) is pointless, and the bound
// keeps offset + shift far from overflowing.
constexpr int64_t kMaxShift = int64_t{1} << 50;
// errno weights are relative; bounded so that their sum stays finite.
constexpr double kMaxWeight = 1e6;

// Errors in the order of the text (the checks run by concern, not by line); when `capped`, the
// last one ("too many errors") stays last.
void SortByPosition(std::vector<PolicyError>& errors, bool capped) {
  const auto end = capped && !errors.empty() ? errors.end() - 1 : errors.end();
  std::stable_sort(errors.begin(), end, [](const PolicyError& a, const PolicyError& b) {
    return std::tie(a.line, a.column) < std::tie(b.line, b.column);
  });
}

class Parser {
 public:
  explicit Parser(std::string_view name) : name_(name) {}

  ParseOutcome Run(std::string_view text) {
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

 private:
  ParseOutcome Finish(std::optional<Policy> policy) {
    ParseOutcome out;
    SortByPosition(errors_, errors_.size() > kMaxErrors);
    out.errors = std::move(errors_);
    if (out.errors.empty()) out.policy = std::move(policy);
    return out;
  }

  // Past kMaxErrors, one last error says so: a hostile text must not make a list (or a control
  // reply) that grows with every line of it.
  void Error(const toml::source_region& where, std::string message) {
    if (errors_.size() > kMaxErrors) return;
    if (errors_.size() == kMaxErrors) message = "too many errors; the rest are not reported";
    errors_.push_back(
        {std::string(name_), where.begin.line, where.begin.column, std::move(message)});
  }
  void Error(const toml::node& at, std::string message) { Error(at.source(), std::move(message)); }

  void CheckKeys(const toml::table& table, std::initializer_list<std::string_view> allowed,
                 const std::string& where) {
    for (const auto& [key, value] : table) {
      bool known = false;
      for (auto a : allowed) known = known || key.str() == a;
      if (known) continue;
      std::string list;
      for (auto a : allowed) list += (list.empty() ? "" : ", ") + std::string(a);
      Error(value, "unknown key '" + std::string(key.str()) + "' in " + where +
                       DidYouMean(key.str(), {allowed.begin(), allowed.end()}) +
                       " (expected one of: " + list + ")");
    }
  }

  const toml::table* Table(const toml::node& node, const std::string& what) {
    if (const auto* t = node.as_table()) return t;
    Error(node, what + " must be a table");
    return nullptr;
  }

  // A finite number. Integers too, even those a double cannot hold exactly (2^63-1): the checks
  // that follow are about range, and nan or inf would pass every comparison they make.
  std::optional<double> Number(const toml::node& node, const std::string& what) {
    std::optional<double> v;
    if (const auto* i = node.as_integer()) {
      v = static_cast<double>(i->get());
    } else if (const auto* f = node.as_floating_point()) {
      v = f->get();
    }
    if (!v) {
      Error(node, what + " must be a number");
    } else if (!std::isfinite(*v)) {
      Error(node, what + " must be a finite number, got " + FormatNumber(*v));
      v.reset();
    }
    return v;
  }

  // A number in [0, max].
  std::optional<double> AtMost(const toml::node& node, const std::string& what, double max,
                               const std::string& max_in_words) {
    const auto v = NonNegative(node, what);
    if (v && *v > max) {
      Error(node, what + " must be at most " + max_in_words + ", got " + FormatNumber(*v));
      return std::nullopt;
    }
    return v;
  }

  std::optional<double> NonNegative(const toml::node& node, const std::string& what) {
    const auto v = Number(node, what);
    if (v && *v < 0) {
      Error(node, what + " must be >= 0, got " + FormatNumber(*v));
      return std::nullopt;
    }
    return v;
  }

  std::optional<uint64_t> Count(const toml::node& node, const std::string& what) {
    const auto* i = node.as_integer();
    if (i == nullptr || i->get() < 0) {
      Error(node, what + " must be a whole number >= 0");
      return std::nullopt;
    }
    return static_cast<uint64_t>(i->get());
  }

  std::optional<uint64_t> Positive(const toml::node& node, const std::string& what) {
    const auto v = Count(node, what);
    if (v && *v == 0) {
      Error(node, what + " must be >= 1");
      return std::nullopt;
    }
    return v;
  }

  std::optional<uint64_t> Bytes(const toml::node& node, const std::string& what) {
    if (node.is_integer()) return Count(node, what);
    if (const auto s = node.value<std::string>()) {
      if (auto b = ParseBytes(*s)) return b;
      Error(node,
            what + ": '" + *s + "' is not a size (write bytes, or e.g. \"64 KiB\", \"1 MiB\")");
      return std::nullopt;
    }
    Error(node, what + " must be a size (bytes, or a string such as \"64 KiB\")");
    return std::nullopt;
  }

  std::optional<std::string> String(const toml::node& node, const std::string& what) {
    if (const auto s = node.value<std::string>()) return *s;
    Error(node, what + " must be a string");
    return std::nullopt;
  }

  // A string or an array of strings.
  std::vector<std::pair<std::string, const toml::node*>> Strings(const toml::node& node,
                                                                 const std::string& what) {
    std::vector<std::pair<std::string, const toml::node*>> out;
    if (const auto s = node.value<std::string>()) {
      out.emplace_back(*s, &node);
    } else if (const auto* arr = node.as_array()) {
      for (const auto& item : *arr) {
        if (const auto s2 = item.value<std::string>()) {
          out.emplace_back(*s2, &item);
        } else {
          Error(item, what + " must hold strings");
        }
      }
    } else {
      Error(node, what + " must be a string or an array of strings");
    }
    return out;
  }

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

  std::optional<Range> RangeOf(const toml::node& node, const std::string& what, bool bytes) {
    const auto* arr = node.as_array();
    if (arr == nullptr || arr->size() != 2) {
      Error(node, what + " must be [low, high] (low inclusive, high exclusive)");
      return std::nullopt;
    }
    const auto lo = bytes ? Bytes(*arr->get(0), what + " low") : Count(*arr->get(0), what + " low");
    const auto hi =
        bytes ? Bytes(*arr->get(1), what + " high") : Count(*arr->get(1), what + " high");
    if (!lo || !hi) return std::nullopt;
    if (*lo >= *hi) {
      Error(node, what + " is empty: low (" + std::to_string(*lo) + ") must be below high (" +
                      std::to_string(*hi) + ")");
      return std::nullopt;
    }
    return Range{*lo, *hi};
  }

  std::optional<int> ErrnoOf(const toml::node& node, const std::string& what) {
    const auto name = String(node, what);
    if (!name) return std::nullopt;
    if (const auto code = ErrnoFromName(*name)) return *code;
    Error(node, what + ": unknown errno '" + *name + "'" + DidYouMean(*name, ErrnoNames()) +
                    " (expected a name such as EIO, ENOSPC)");
    return std::nullopt;
  }

  static std::string FormatNumber(double v) {
    std::ostringstream s;
    s << v;
    return s.str();
  }

  std::optional<Capacity> ParseCapacity(const toml::node& node) {
    const auto* t = Table(node, "[capacity]");
    if (t == nullptr) return std::nullopt;
    CheckKeys(*t, {"bytes", "inodes", "errno"}, "[capacity]");
    Capacity c;
    if (const auto* n = t->get("bytes")) c.bytes = Bytes(*n, "capacity.bytes");
    if (const auto* n = t->get("inodes")) c.inodes = Count(*n, "capacity.inodes");
    if (const auto* n = t->get("errno")) {
      if (const auto e = ErrnoOf(*n, "capacity.errno")) {
        if (*e != ENOSPC && *e != EDQUOT) Error(*n, "capacity.errno must be ENOSPC or EDQUOT");
        c.err = *e;
      }
    }
    if (t->get("bytes") == nullptr && t->get("inodes") == nullptr) {
      Error(node, "[capacity] needs bytes, inodes, or both");
    }
    return c;
  }

  void ParseRules(const toml::node& node, std::vector<Rule>& rules) {
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

  bool ParseRule(const toml::table& t, Rule& rule) {
    const size_t errors_before = errors_.size();
    CheckKeys(t, {"id",         "enabled",     "ops",        "path",   "path_regex", "file_type",
                  "offset",     "size",        "flags",      "pid",    "uid",        "gid",
                  "process",    "probability", "nth",        "every",  "after",      "max_times",
                  "window",     "flakey",      "after_rule", "action", "errno",      "delay",
                  "bandwidth",  "stall",       "short",      "torn",   "corrupt",    "misdirect",
                  "fsync_fail", "kill",        "crash"},
              "a [[rule]]");
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

  void ParseMatch(const toml::table& t, Match& m) {
    if (const auto* n = t.get("ops")) {
      for (const auto& [name, at] : Strings(*n, "ops")) {
        if (const auto op = OpFromName(name)) {
          m.ops.set(static_cast<size_t>(*op));
        } else if (const auto group = OpGroupFromName(name)) {
          m.ops |= *group;
        } else {
          Error(*at, "unknown op '" + name + "'" + DidYouMean(name, OpWords()) +
                         " (expected an op such as read, write, fsync, "
                         "rename, or a group: xattr, sync, all)");
        }
      }
    }
    if (const auto* n = t.get("path")) {
      for (auto& [glob, at] : Strings(*n, "path")) {
        auto compiled = Glob::Compile(glob);
        Status fits = compiled.ok() ? budget_.AddGlob(*compiled) : compiled.status();
        if (fits.ok()) {
          m.path_globs.push_back(glob);
        } else {
          Error(*at, "path '" + glob + "': " + fits.ToString());
        }
      }
    }
    if (const auto* n = t.get("path_regex")) {
      for (auto& [re, at] : Strings(*n, "path_regex")) {
        if (auto compiled = PathRegex::Compile(re); !compiled.ok()) {
          Error(*at, "path_regex '" + re + "' is not a valid regular expression (RE2 syntax): " +
                         compiled.status().ToString());
        } else if (Status fits = budget_.AddRegex(); !fits.ok()) {
          Error(*at, "path_regex '" + re + "': " + fits.ToString());
        } else {
          m.path_regexes.push_back(re);
        }
      }
    }
    if (const auto* n = t.get("file_type")) {
      for (const auto& [name, at] : Strings(*n, "file_type")) {
        if (const auto ft = FileTypeFromName(name)) {
          m.file_types.push_back(*ft);
        } else {
          Error(*at, "unknown file_type '" + name + "'" + DidYouMean(name, FileTypeWords()) +
                         " (expected regular, directory, symlink, "
                         "fifo, socket, char_device or block_device)");
        }
      }
    }
    if (const auto* n = t.get("offset")) m.offset = RangeOf(*n, "offset", true);
    if (const auto* n = t.get("size")) m.size = RangeOf(*n, "size", true);
    if (const auto* n = t.get("flags")) {
      for (const auto& [name, at] : Strings(*n, "flags")) {
        const auto it = OpenFlagNames().find(name);
        if (it == OpenFlagNames().end()) {
          Error(*at, "unknown open flag '" + name +
                         "' (expected e.g. O_DIRECT, O_SYNC, O_DSYNC, O_APPEND)");
        } else {
          m.open_flags |= it->second;
        }
      }
    }
    if (const auto* n = t.get("pid")) m.pids = Ids<pid_t>(*n, "pid", kMaxPid);
    if (const auto* n = t.get("uid")) m.uids = Ids<uid_t>(*n, "uid", kMaxId);
    if (const auto* n = t.get("gid")) m.gids = Ids<gid_t>(*n, "gid", kMaxId);
    if (const auto* n = t.get("process")) {
      for (auto& [name, at] : Strings(*n, "process")) m.process_names.push_back(name);
    }
    if (const auto* n = t.get("probability")) {
      if (const auto p = Number(*n, "probability")) {
        if (!(*p >= 0 && *p <= 1)) {
          Error(*n, "probability must be between 0 and 1, got " + FormatNumber(*p));
        } else {
          m.probability = *p;
        }
      }
    }
    if (const auto* n = t.get("nth")) m.nth = Positive(*n, "nth");
    if (const auto* n = t.get("every")) m.every = Positive(*n, "every");
    if (const auto* n = t.get("after")) m.after = Count(*n, "after");
    if (const auto* n = t.get("max_times")) m.max_fires = Positive(*n, "max_times");
    if (m.nth && m.every) Error(*t.get("every"), "nth and every contradict each other: use one");
    if (m.nth && m.max_fires)
      Error(*t.get("max_times"), "nth already fires once: max_times is redundant");
    if (const auto* n = t.get("window")) ParseWindow(*n, m);
    if (const auto* n = t.get("flakey")) ParseFlakey(*n, m);
    if (const auto* n = t.get("after_rule")) m.after_rule = String(*n, "after_rule");
  }

  void ParseWindow(const toml::node& n, Match& m) {
    const auto* arr = n.as_array();
    if (arr == nullptr || arr->size() != 2) {
      Error(n, "window must be [start_s, end_s] (seconds after mount)");
      return;
    }
    const auto start = NonNegative(*arr->get(0), "window start");
    const auto end = NonNegative(*arr->get(1), "window end");
    if (start && end && *start >= *end) {
      Error(n, "window is empty: start must be before end");
      return;
    }
    m.window_start_s = start;
    m.window_end_s = end;
  }

  void ParseFlakey(const toml::node& n, Match& m) {
    const auto* t = Table(n, "flakey");
    if (t == nullptr) return;
    CheckKeys(*t, {"up_s", "down_s"}, "flakey");
    const auto* up = t->get("up_s");
    const auto* down = t->get("down_s");
    if (up == nullptr || down == nullptr) {
      Error(n, "flakey needs both up_s and down_s");
      return;
    }
    m.flakey_up_s = NonNegative(*up, "flakey.up_s");
    m.flakey_down_s = NonNegative(*down, "flakey.down_s");
    if (m.flakey_down_s && *m.flakey_down_s == 0) Error(*down, "flakey.down_s must be > 0");
  }

  // The action and its parameters, which sit under a key named like the action.
  void ParseAction(const toml::table& t, Rule& rule) {
    static const std::vector<std::string> kActions = {
        "errno", "delay", "bandwidth", "stall",      "short", "torn",   "corrupt", "misdirect",
        "stale", "lose",  "lie",       "fsync_fail", "kill",  "freeze", "crash"};
    const auto* n = t.get("action");
    if (n == nullptr) {
      Error(t,
            "rule '" + rule.id +
                "' has no action (expected action = one of: errno, delay, "
                "bandwidth, stall, short, torn, corrupt, misdirect, stale, lose, lie, fsync_fail, "
                "kill, freeze, crash)");
      return;
    }
    const auto name = String(*n, "action");
    if (!name) return;
    // Parameter tables for other actions than this one are mistakes, not extras.
    for (const auto& a : kActions) {
      if (a != *name && a != "errno" && t.get(a) != nullptr) {
        Error(*t.get(a), "'" + a + "' configures action '" + a + "', but this rule's action is '" +
                             *name + "'");
      }
    }
    if (*name != "errno" && *name != "fsync_fail" && t.get("errno") != nullptr) {
      Error(*t.get("errno"),
            "'errno' configures actions errno and fsync_fail, not '" + *name + "'");
    }
    const toml::node* params = t.get(*name);
    if (*name == "errno") {
      rule.action = ParseErrnoAction(params, *n);
    } else if (*name == "delay") {
      rule.action = DelayAction{ParseDistribution(params, *n)};
    } else if (*name == "bandwidth") {
      rule.action = ParseBandwidth(params, *n);
    } else if (*name == "stall") {
      rule.action = ParseStall(params);
    } else if (*name == "short") {
      rule.action = ParseShort(params, *n);
    } else if (*name == "torn") {
      rule.action = ParseTorn(params);
    } else if (*name == "corrupt") {
      rule.action = ParseCorrupt(params);
    } else if (*name == "misdirect") {
      rule.action = ParseMisdirect(params);
    } else if (*name == "stale") {
      rule.action = StaleReadAction{};
    } else if (*name == "lose") {
      rule.action = LostWriteAction{};
    } else if (*name == "lie") {
      rule.action = LyingFsyncAction{};
    } else if (*name == "fsync_fail") {
      rule.action = ParseFsyncFail(params, t.get("errno"));
    } else if (*name == "kill") {
      rule.action = ParseKill(params);
    } else if (*name == "freeze") {
      rule.action = FreezeAction{};
    } else if (*name == "crash") {
      rule.action = ParseCrash(params);
    } else {
      const std::vector<std::string_view> actions = {
          "errno", "delay", "bandwidth", "stall", "short", "torn",   "corrupt", "misdirect",
          "stale", "lose",  "lie",       "fsync_fail", "kill", "freeze", "crash"};
      std::string list;
      for (auto a : actions) list += (list.empty() ? "" : ", ") + std::string(a);
      Error(*n, "unknown action '" + *name + "'" + DidYouMean(*name, actions) +
                    " (expected one of: " + list + ")");
      return;
    }
    const bool takes_params =
        *name != "stale" && *name != "lose" && *name != "lie" && *name != "freeze";
    if (!takes_params && params != nullptr)
      Error(*params, "action '" + *name + "' takes no parameters");
  }

  ErrnoAction ParseErrnoAction(const toml::node* params, const toml::node& action_node) {
    ErrnoAction a;
    if (params == nullptr) {
      Error(action_node,
            "action 'errno' needs errno = \"EIO\", [\"EIO\", \"ENOSPC\"], "
            "{ EIO = 3, ENOSPC = 1 } or \"realistic\"");
      return a;
    }
    if (const auto s = params->value<std::string>(); s && *s == "realistic") {
      a.realistic = true;
    } else if (const auto* weights = params->as_table()) {
      for (const auto& [key, value] : *weights) {
        const auto code = ErrnoFromName(key.str());
        if (!code)
          Error(value, "unknown errno '" + std::string(key.str()) + "'" +
                           DidYouMean(key.str(), ErrnoNames()));
        const auto w = AtMost(value, "weight of " + std::string(key.str()), kMaxWeight, "1000000");
        if (code && w) a.choices.emplace_back(*code, *w);
      }
      double total = 0;
      for (const auto& c : a.choices) total += c.second;
      if (!a.choices.empty() && total <= 0) Error(*params, "errno weights must not all be 0");
    } else {
      for (const auto& [name, at] : Strings(*params, "errno")) {
        if (const auto code = ErrnoFromName(name)) {
          a.choices.emplace_back(*code, 1.0);
        } else {
          Error(*at, "unknown errno '" + name + "'" + DidYouMean(name, ErrnoNames()) +
                         " (expected a name such as EIO, ENOSPC, or \"realistic\")");
        }
      }
    }
    return a;
  }

  Distribution ParseDistribution(const toml::node* params, const toml::node& action_node) {
    Distribution d;
    const auto* t = params == nullptr ? nullptr : Table(*params, "delay");
    if (t == nullptr) {
      if (params == nullptr) {
        Error(action_node,
              "action 'delay' needs delay = { fixed_ms = 100 } or a distribution, "
              "e.g. { distribution = \"lognormal\", median_ms = 5, sigma = 1 }");
      }
      return d;
    }
    CheckKeys(*t,
              {"fixed_ms", "distribution", "min_ms", "max_ms", "mean_ms", "stddev_ms", "median_ms",
               "sigma", "scale_ms", "shape"},
              "delay");
    // Every *_ms value is a duration, capped like the delay itself; sigma and shape are not.
    auto get = [&](const char* key) -> std::optional<double> {
      const auto* n = t->get(key);
      if (n == nullptr) return std::nullopt;
      const std::string what = std::string("delay.") + key;
      if (!what.ends_with("_ms")) return NonNegative(*n, what);
      return AtMost(*n, what, kMaxDelayMs, "3600000 (one hour)");
    };
    auto require = [&](const char* key) -> double {
      const auto v = get(key);
      if (!t->get(key)) Error(*t, std::string("delay needs ") + key + " for this distribution");
      return v.value_or(0);
    };
    std::string kind = t->get("fixed_ms") != nullptr ? "fixed" : "";
    if (const auto* n = t->get("distribution"))
      kind = String(*n, "delay.distribution").value_or("");
    if (kind == "fixed") {
      d.kind = Distribution::Kind::kFixed;
      d.a_ms = require("fixed_ms");
    } else if (kind == "uniform") {
      d.kind = Distribution::Kind::kUniform;
      d.a_ms = require("min_ms");
      d.b_ms = require("max_ms");
      if (d.a_ms > d.b_ms) Error(*t, "delay: min_ms must not exceed max_ms");
    } else if (kind == "normal") {
      d.kind = Distribution::Kind::kNormal;
      d.a_ms = require("mean_ms");
      d.b_ms = require("stddev_ms");
    } else if (kind == "lognormal") {
      d.kind = Distribution::Kind::kLognormal;
      d.a_ms = require("median_ms");
      d.b_ms = require("sigma");
    } else if (kind == "pareto") {
      d.kind = Distribution::Kind::kPareto;
      d.a_ms = require("scale_ms");
      d.b_ms = require("shape");
      if (d.b_ms <= 0) Error(*t, "delay: pareto shape must be > 0");
    } else {
      Error(t->get("distribution") ? *t->get("distribution") : static_cast<const toml::node&>(*t),
            "delay: unknown distribution '" + kind +
                "' (expected fixed_ms, or distribution = "
                "uniform, normal, lognormal or pareto)");
    }
    if (kind != "uniform") {
      if (const auto v = get("min_ms")) d.min_ms = *v;
      if (const auto v = get("max_ms")) d.max_ms = *v;
    } else {
      d.min_ms = d.a_ms;
      d.max_ms = d.b_ms;
    }
    // The default max_ms bounds random draws; a fixed delay is what it says (at most one hour),
    // and one above an explicit max_ms is a contradiction, not something to cut silently.
    if (kind == "fixed" && t->get("max_ms") == nullptr) d.max_ms = std::max(d.max_ms, d.a_ms);
    if (kind == "fixed" && d.a_ms > d.max_ms) Error(*t, "delay: fixed_ms must not exceed max_ms");
    if (d.min_ms > d.max_ms) Error(*t, "delay: min_ms must not exceed max_ms");
    return d;
  }

  BandwidthAction ParseBandwidth(const toml::node* params, const toml::node& action_node) {
    BandwidthAction b;
    const auto* t = params == nullptr ? nullptr : Table(*params, "bandwidth");
    if (t == nullptr) {
      if (params == nullptr)
        Error(action_node, "action 'bandwidth' needs bandwidth = { bytes_per_s = \"1 MiB\" }");
      return b;
    }
    CheckKeys(*t, {"bytes_per_s", "burst"}, "bandwidth");
    if (const auto* n = t->get("bytes_per_s")) {
      b.bytes_per_s = Bytes(*n, "bandwidth.bytes_per_s").value_or(0);
      if (b.bytes_per_s == 0) Error(*n, "bandwidth.bytes_per_s must be > 0");
    } else {
      Error(*t, "bandwidth needs bytes_per_s");
    }
    b.burst_bytes = b.bytes_per_s;  // one second's worth unless told
    if (const auto* n = t->get("burst"))
      b.burst_bytes = Bytes(*n, "bandwidth.burst").value_or(b.burst_bytes);
    return b;
  }

  StallAction ParseStall(const toml::node* params) {
    StallAction s;
    const auto* t = params == nullptr ? nullptr : Table(*params, "stall");
    if (t == nullptr) return s;
    CheckKeys(*t, {"timeout_s"}, "stall");
    if (const auto* n = t->get("timeout_s")) {
      s.timeout_s = AtMost(*n, "stall.timeout_s", kMaxDelayMs / 1000, "3600 (one hour)")
                        .value_or(s.timeout_s);
    }
    return s;
  }

  ShortAction ParseShort(const toml::node* params, const toml::node& action_node) {
    ShortAction s;
    const auto* t = params == nullptr ? nullptr : Table(*params, "short");
    if (t == nullptr) {
      if (params == nullptr)
        Error(action_node, "action 'short' needs short = { bytes = 512 } or { fraction = 0.5 }");
      return s;
    }
    CheckKeys(*t, {"bytes", "fraction"}, "short");
    if (const auto* n = t->get("bytes")) s.bytes = Bytes(*n, "short.bytes");
    if (const auto* n = t->get("fraction")) {
      const auto f = Number(*n, "short.fraction");
      if (f && !(*f >= 0 && *f < 1)) Error(*n, "short.fraction must be in [0, 1)");
      s.fraction = f;
    }
    if (s.bytes.has_value() == s.fraction.has_value())
      Error(*t, "short needs exactly one of bytes and fraction");
    return s;
  }

  TornAction ParseTorn(const toml::node* params) {
    TornAction a;
    const auto* t = params == nullptr ? nullptr : Table(*params, "torn");
    if (t == nullptr) return a;
    CheckKeys(*t, {"unit", "keep"}, "torn");
    if (const auto* n = t->get("unit")) {
      const auto unit = Bytes(*n, "torn.unit");
      if (unit && (*unit == 0 || *unit > (64u << 20))) {
        Error(*n, "torn.unit must be between 1 byte and 64 MiB");
      } else if (unit) {
        a.unit_bytes = static_cast<uint32_t>(*unit);
      }
    }
    if (const auto* n = t->get("keep")) {
      const auto keep = String(*n, "torn.keep").value_or("");
      if (keep == "first") {
        a.keep = TornAction::Keep::kFirst;
      } else if (keep == "last") {
        a.keep = TornAction::Keep::kLast;
      } else if (keep == "random") {
        a.keep = TornAction::Keep::kRandom;
      } else {
        Error(*n, "torn.keep must be first, last or random");
      }
    }
    return a;
  }

  CorruptAction ParseCorrupt(const toml::node* params) {
    CorruptAction c;
    const auto* t = params == nullptr ? nullptr : Table(*params, "corrupt");
    if (t == nullptr) return c;
    CheckKeys(*t, {"mode", "bits", "range", "on"}, "corrupt");
    if (const auto* n = t->get("mode")) {
      const auto mode = String(*n, "corrupt.mode").value_or("");
      if (mode == "flip") {
        c.mode = CorruptAction::Mode::kFlipBits;
      } else if (mode == "zero") {
        c.mode = CorruptAction::Mode::kZero;
      } else if (mode == "random") {
        c.mode = CorruptAction::Mode::kRandom;
      } else {
        Error(*n, "corrupt.mode must be flip, zero or random");
      }
    }
    if (const auto* n = t->get("bits")) {
      const auto bits = Positive(*n, "corrupt.bits");
      if (bits && *bits > UINT32_MAX) {
        Error(*n, "corrupt.bits must be at most " + std::to_string(UINT32_MAX) + ", got " +
                      std::to_string(*bits));
      } else if (bits) {
        c.bits = static_cast<uint32_t>(*bits);
      }
      if (c.mode != CorruptAction::Mode::kFlipBits)
        Error(*n, "corrupt.bits is for mode = \"flip\"");
    }
    if (const auto* n = t->get("range")) c.range = RangeOf(*n, "corrupt.range", true);
    if (const auto* n = t->get("on")) {
      const auto on = String(*n, "corrupt.on").value_or("");
      if (on == "write") {
        c.on_write = true;
      } else if (on != "read") {
        Error(*n,
              "corrupt.on must be read (the reader sees it, the disk is unchanged) or write "
              "(the corruption is stored)");
      }
    }
    return c;
  }

  MisdirectAction ParseMisdirect(const toml::node* params) {
    MisdirectAction m;
    const auto* t = params == nullptr ? nullptr : Table(*params, "misdirect");
    if (t == nullptr) return m;
    CheckKeys(*t, {"shift"}, "misdirect");
    if (const auto* n = t->get("shift")) {
      const auto* v = n->as_integer();
      if (v == nullptr || v->get() == 0) {
        Error(*n, "misdirect.shift must be a non-zero whole number of bytes (negative: earlier)");
      } else if (v->get() > kMaxShift || v->get() < -kMaxShift) {
        Error(*n, "misdirect.shift must be within 1 PiB (" + std::to_string(kMaxShift) +
                      " bytes) either way, got " + std::to_string(v->get()));
      } else {
        m.shift_bytes = v->get();
      }
    }
    return m;
  }

  FsyncFailAction ParseFsyncFail(const toml::node* params, const toml::node* errno_node) {
    FsyncFailAction f;
    if (errno_node != nullptr) f.err = ErrnoOf(*errno_node, "errno").value_or(f.err);
    const auto* t = params == nullptr ? nullptr : Table(*params, "fsync_fail");
    if (t == nullptr) return f;
    CheckKeys(*t, {"errno", "semantics"}, "fsync_fail");
    if (const auto* n = t->get("errno")) f.err = ErrnoOf(*n, "fsync_fail.errno").value_or(f.err);
    if (const auto* n = t->get("semantics")) {
      const auto s = String(*n, "fsync_fail.semantics").value_or("");
      if (s == "linux") {
        f.drop_dirty = true;
      } else if (s == "keep") {
        f.drop_dirty = false;
      } else {
        Error(*n,
              "fsync_fail.semantics must be linux (unsynced data is dropped, later fsyncs "
              "succeed: ext4, xfs) or keep (unsynced data stays dirty: btrfs)");
      }
    }
    return f;
  }

  KillAction ParseKill(const toml::node* params) {
    KillAction k;
    const auto* t = params == nullptr ? nullptr : Table(*params, "kill");
    if (t == nullptr) return k;
    CheckKeys(*t, {"signal", "target", "pids", "when"}, "kill");
    if (const auto* n = t->get("signal")) {
      const auto name = String(*n, "kill.signal").value_or("");
      if (const auto sig = SignalFromName(name)) {
        k.signal = *sig;
      } else {
        Error(*n, "kill.signal: unknown signal '" + name +
                      "' (expected e.g. SIGKILL, SIGTERM, SIGSTOP)");
      }
    }
    if (const auto* n = t->get("target")) {
      const auto target = String(*n, "kill.target").value_or("");
      if (target == "caller") {
        k.target = KillAction::Target::kCaller;
      } else if (target == "group") {
        k.target = KillAction::Target::kCallerGroup;
      } else if (target == "pids") {
        k.target = KillAction::Target::kPids;
      } else {
        Error(*n, "kill.target must be caller, group or pids");
      }
    }
    if (const auto* n = t->get("pids")) {
      k.pids = Ids<pid_t>(*n, "kill.pids", kMaxPid);
      for (pid_t p : k.pids) {
        if (p <= 1) Error(*n, "kill.pids: pid " + std::to_string(p) + " is never killed");
      }
    }
    if (k.target == KillAction::Target::kPids && k.pids.empty())
      Error(*t, "kill.target = \"pids\" needs pids");
    if (k.target != KillAction::Target::kPids && !k.pids.empty())
      Error(*t, "kill.pids needs target = \"pids\"");
    if (const auto* n = t->get("when")) {
      const auto when = String(*n, "kill.when").value_or("");
      if (when == "after") {
        k.before = false;
      } else if (when != "before") {
        Error(*n, "kill.when must be before (the op does not run) or after");
      }
    }
    return k;
  }

  CrashAction ParseCrash(const toml::node* params) {
    CrashAction c;
    const auto* t = params == nullptr ? nullptr : Table(*params, "crash");
    if (t == nullptr) return c;
    CheckKeys(*t, {"model", "kill"}, "crash");
    if (const auto* n = t->get("model")) {
      c.model = String(*n, "crash.model").value_or(c.model);
      if (auto model = crash::ParseModel(c.model); !model.ok()) {
        // The model list of ParseModel's message spans lines; a policy error is one line.
        const std::string& why = model.status().message();
        Error(*n, "crash.model: " + why.substr(0, why.find(';')) +
                      " (expected prefix, pp, pp-strict, weak, weak-rename, reorder-K or torn-N; "
                      "see docs/persistence-models.md)");
      }
    }
    if (const auto* n = t->get("kill")) ParseCrashKill(*n, c);
    return c;
  }

  // "caller", "group", "none", or the command names of the processes to kill.
  void ParseCrashKill(const toml::node& n, CrashAction& c) {
    if (const auto s = n.value<std::string>()) {
      if (*s == "caller") {
        c.kill = CrashAction::Kill::kCaller;
      } else if (*s == "group") {
        c.kill = CrashAction::Kill::kGroup;
      } else if (*s == "none") {
        c.kill = CrashAction::Kill::kNone;
      } else {
        Error(n,
              "crash.kill must be \"caller\", \"group\", \"none\" or an array of process "
              "names (e.g. [\"postgres\"]), got '" +
                  *s + "'");
      }
      return;
    }
    if (n.as_array() == nullptr) {
      Error(n, "crash.kill must be \"caller\", \"group\", \"none\" or an array of process names");
      return;
    }
    c.kill = CrashAction::Kill::kNamed;
    for (auto& [name, at] : Strings(n, "crash.kill")) {
      if (name.empty() || name.size() > 15) {
        Error(*at, "crash.kill: '" + name +
                       "' is not a command name (1 to 15 characters, as in "
                       "/proc/PID/comm)");
      }
      c.process_names.push_back(name);
    }
    if (c.process_names.empty()) Error(n, "crash.kill: an empty list kills no one; write \"none\"");
  }

  void CheckOpsFitAction(const toml::table& t, Rule& rule) {
    const OpSet applicable = ApplicableOps(rule.action);
    if (rule.match.ops.none()) {
      rule.match.ops = applicable;  // "no ops": every op the action can act on
      return;
    }
    const OpSet misfit = rule.match.ops & ~applicable;
    if (misfit.none()) return;
    std::string names;
    std::string allowed;
    for (size_t i = 0; i < kOpCount; ++i) {
      if (misfit.test(i))
        names += (names.empty() ? "" : ", ") + std::string(OpName(static_cast<Op>(i)));
      if (applicable.test(i))
        allowed += (allowed.empty() ? "" : ", ") + std::string(OpName(static_cast<Op>(i)));
    }
    Error(*t.get("ops"), "action '" + std::string(ActionName(rule.action)) + "' cannot act on " +
                             names + " (it applies to: " + allowed + ")");
  }

  void CheckRuleReferences(const std::vector<Rule>& rules) {
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

  static constexpr size_t kMaxErrors = 100;
  std::string_view name_;
  std::vector<PolicyError> errors_;
  PatternBudget budget_;
  std::map<std::string, toml::source_region> after_rule_at_;  // rule id -> its after_rule key
};

}  // namespace

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
