// Each action's parameters. ParseAction finds the action by name in the registry
// (faultfs/policy/actions.h) and calls its parser, chosen by type: an action type without a
// ParseOne overload does not compile (ParsersFor instantiates one per alternative of Action).
#include <csignal>
#include <map>
#include <variant>

#include "faultfs/core/errno_names.h"
#include "faultfs/core/join.h"
#include "faultfs/crash/model.h"
#include "faultfs/policy/actions.h"
#include "parser.h"
#include "suggest.h"

namespace faultfs::policy {

namespace {

// misdirect.shift: further than any file reaches on ext4 (16 TiB) is pointless, and the bound
// keeps offset + shift far from overflowing.
constexpr int64_t kMaxShift = int64_t{1} << 50;
// errno weights are relative; bounded so that their sum stays finite.
constexpr double kMaxWeight = 1e6;
// The rule key that configures errno, and fsync_fail's error too.
constexpr std::string_view kErrnoKey = "errno";

std::optional<int> SignalFromName(std::string_view name) {
  static const std::map<std::string, int, std::less<>> kSignals = {
      {"SIGKILL", SIGKILL}, {"SIGTERM", SIGTERM}, {"SIGINT", SIGINT}, {"SIGQUIT", SIGQUIT},
      {"SIGABRT", SIGABRT}, {"SIGSTOP", SIGSTOP}, {"SIGHUP", SIGHUP}, {"SIGUSR1", SIGUSR1},
      {"SIGUSR2", SIGUSR2}, {"SIGSEGV", SIGSEGV}, {"SIGBUS", SIGBUS}};
  const auto it = kSignals.find(name);
  return it == kSignals.end() ? std::nullopt : std::optional<int>(it->second);
}

}  // namespace

template <class A>
Action Parser::ParseAs(const ActionSite& site) {
  return ParseOne(Is<A>{}, site);
}

template <class... As>
constexpr std::array<Action (Parser::*)(const ActionSite&), sizeof...(As)> Parser::ParsersFor(
    const std::variant<As...>*) {
  return {&Parser::ParseAs<As>...};
}

void Parser::ParseAction(const toml::table& t, Rule& rule) {
  const std::vector<std::string_view> names = ActionNames();
  const auto* n = t.get("action");
  if (n == nullptr) {
    Error(t,
          "rule '" + rule.id + "' has no action (expected action = one of: " + Join(names) + ")");
    return;
  }
  const auto name = String(*n, "action");
  if (!name) return;
  const auto index = ActionIndexOf(*name);
  if (!index) {
    Error(*n, "unknown action '" + *name + "'" + DidYouMean(*name, names) +
                  " (expected one of: " + Join(names) + ")");
    return;
  }
  const ActionInfo& info = AllActions()[*index];
  // Parameter tables for other actions than this one are mistakes, not extras.
  for (const ActionInfo& other : AllActions()) {
    if (other.name == info.name || other.name == kErrnoKey || t.get(other.name) == nullptr)
      continue;
    Error(*t.get(other.name), "'" + std::string(other.name) + "' configures action '" +
                                  std::string(other.name) + "', but this rule's action is '" +
                                  *name + "'");
  }
  if (!info.reads_errno_key && t.get(kErrnoKey) != nullptr) {
    std::vector<std::string_view> readers;
    for (const ActionInfo& a : AllActions()) {
      if (a.reads_errno_key) readers.push_back(a.name);
    }
    Error(*t.get(kErrnoKey),
          "'errno' configures actions " + Join(readers, " and ") + ", not '" + *name + "'");
  }
  const toml::node* params = t.get(info.name);
  if (!info.takes_params && params != nullptr)
    Error(*params, "action '" + *name + "' takes no parameters");
  const ActionSite site{info.takes_params ? params : nullptr, *n, t};
  static constexpr auto kParsers = ParsersFor(static_cast<const Action*>(nullptr));
  rule.action = (this->*kParsers[*index])(site);
}

ErrnoAction Parser::ParseOne(Is<ErrnoAction>, const ActionSite& s) {
  return ParseErrnoAction(s.params, s.action);
}
DelayAction Parser::ParseOne(Is<DelayAction>, const ActionSite& s) {
  return DelayAction{ParseDistribution(s.params, s.action)};
}
BandwidthAction Parser::ParseOne(Is<BandwidthAction>, const ActionSite& s) {
  return ParseBandwidth(s.params, s.action);
}
StallAction Parser::ParseOne(Is<StallAction>, const ActionSite& s) { return ParseStall(s.params); }
ShortAction Parser::ParseOne(Is<ShortAction>, const ActionSite& s) {
  return ParseShort(s.params, s.action);
}
TornAction Parser::ParseOne(Is<TornAction>, const ActionSite& s) { return ParseTorn(s.params); }
CorruptAction Parser::ParseOne(Is<CorruptAction>, const ActionSite& s) {
  return ParseCorrupt(s.params);
}
MisdirectAction Parser::ParseOne(Is<MisdirectAction>, const ActionSite& s) {
  return ParseMisdirect(s.params);
}
StaleReadAction Parser::ParseOne(Is<StaleReadAction>, const ActionSite&) { return {}; }
LostWriteAction Parser::ParseOne(Is<LostWriteAction>, const ActionSite&) { return {}; }
LyingFsyncAction Parser::ParseOne(Is<LyingFsyncAction>, const ActionSite&) { return {}; }
FsyncFailAction Parser::ParseOne(Is<FsyncFailAction>, const ActionSite& s) {
  return ParseFsyncFail(s.params, s.rule.get(kErrnoKey));
}
KillAction Parser::ParseOne(Is<KillAction>, const ActionSite& s) { return ParseKill(s.params); }
FreezeAction Parser::ParseOne(Is<FreezeAction>, const ActionSite&) { return {}; }
CrashAction Parser::ParseOne(Is<CrashAction>, const ActionSite& s) { return ParseCrash(s.params); }

ErrnoAction Parser::ParseErrnoAction(const toml::node* params, const toml::node& action_node) {
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

namespace {

// Each distribution of a delay and the keys that give its two parameters.
struct DelayShape {
  const char* name;
  Distribution::Kind kind;
  const char* a;
  const char* b;  // nullptr: one parameter
};
constexpr DelayShape kDelayShapes[] = {
    {"fixed", Distribution::Kind::kFixed, "fixed_ms", nullptr},
    {"uniform", Distribution::Kind::kUniform, "min_ms", "max_ms"},
    {"normal", Distribution::Kind::kNormal, "mean_ms", "stddev_ms"},
    {"lognormal", Distribution::Kind::kLognormal, "median_ms", "sigma"},
    {"pareto", Distribution::Kind::kPareto, "scale_ms", "shape"}};

}  // namespace

Distribution Parser::ParseDistribution(const toml::node* params, const toml::node& action_node) {
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
  if (const auto* n = t->get("distribution")) kind = String(*n, "delay.distribution").value_or("");
  const DelayShape* shape = nullptr;
  for (const DelayShape& candidate : kDelayShapes) {
    if (kind == candidate.name) shape = &candidate;
  }
  if (shape == nullptr) {
    Error(t->get("distribution") ? *t->get("distribution") : static_cast<const toml::node&>(*t),
          "delay: unknown distribution '" + kind +
              "' (expected fixed_ms, or distribution = "
              "uniform, normal, lognormal or pareto)");
  } else {
    d.kind = shape->kind;
    d.a_ms = require(shape->a);
    if (shape->b != nullptr) d.b_ms = require(shape->b);
  }
  if (kind == "uniform" && d.a_ms > d.b_ms) Error(*t, "delay: min_ms must not exceed max_ms");
  if (kind == "pareto" && d.b_ms <= 0) Error(*t, "delay: pareto shape must be > 0");
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

BandwidthAction Parser::ParseBandwidth(const toml::node* params, const toml::node& action_node) {
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

StallAction Parser::ParseStall(const toml::node* params) {
  StallAction s;
  const auto* t = params == nullptr ? nullptr : Table(*params, "stall");
  if (t == nullptr) return s;
  CheckKeys(*t, {"timeout_s"}, "stall");
  if (const auto* n = t->get("timeout_s")) {
    s.timeout_s =
        AtMost(*n, "stall.timeout_s", kMaxDelayMs / 1000, "3600 (one hour)").value_or(s.timeout_s);
  }
  return s;
}

ShortAction Parser::ParseShort(const toml::node* params, const toml::node& action_node) {
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

TornAction Parser::ParseTorn(const toml::node* params) {
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

CorruptAction Parser::ParseCorrupt(const toml::node* params) {
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
    if (c.mode != CorruptAction::Mode::kFlipBits) Error(*n, "corrupt.bits is for mode = \"flip\"");
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

MisdirectAction Parser::ParseMisdirect(const toml::node* params) {
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

FsyncFailAction Parser::ParseFsyncFail(const toml::node* params, const toml::node* errno_node) {
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

KillAction Parser::ParseKill(const toml::node* params) {
  KillAction k;
  const auto* t = params == nullptr ? nullptr : Table(*params, "kill");
  if (t == nullptr) return k;
  CheckKeys(*t, {"signal", "target", "pids", "when"}, "kill");
  if (const auto* n = t->get("signal")) {
    const auto name = String(*n, "kill.signal").value_or("");
    if (const auto sig = SignalFromName(name)) {
      k.signal = *sig;
    } else {
      Error(*n,
            "kill.signal: unknown signal '" + name + "' (expected e.g. SIGKILL, SIGTERM, SIGSTOP)");
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

CrashAction Parser::ParseCrash(const toml::node* params) {
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
void Parser::ParseCrashKill(const toml::node& n, CrashAction& c) {
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

}  // namespace faultfs::policy
