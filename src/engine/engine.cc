#include "faultfs/engine/engine.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <fstream>
#include <map>
#include <mutex>
#include <set>
#include <unordered_map>

#include "compiled.h"
#include "faultfs/core/check.h"
#include "faultfs/core/mutex.h"
#include "faultfs/core/random.h"
#include "faultfs/policy/actions.h"
#include "faultfs/policy/glob.h"
#include "faultfs/policy/limits.h"
#include "faultfs/policy/path_regex.h"
#include "realistic_errnos.h"

namespace faultfs::engine {

namespace {

template <typename T>
bool AnyOf(const std::vector<T>& v, T x) {
  if (v.empty()) return true;
  for (const T& y : v) {
    if (y == x) return true;
  }
  return false;
}

std::string ProcessName(pid_t pid) {
  std::ifstream comm("/proc/" + std::to_string(pid) + "/comm");
  std::string name;
  std::getline(comm, name);
  return name;
}

std::chrono::nanoseconds MsToNs(double ms) {
  return std::chrono::nanoseconds(static_cast<int64_t>(ms * 1e6));
}

double SampleMs(const policy::Distribution& d, Rng& rng) {
  using Kind = policy::Distribution::Kind;
  double v = 0;
  switch (d.kind) {
    case Kind::kFixed:
      v = d.a_ms;
      break;
    case Kind::kUniform:
      return d.a_ms + (d.b_ms - d.a_ms) * rng.Unit();
    case Kind::kNormal:
    case Kind::kLognormal: {
      // Box-Muller from two uniforms in (0, 1].
      const double u1 = 1.0 - rng.Unit();
      const double u2 = rng.Unit();
      const double z = std::sqrt(-2.0 * std::log(u1)) * std::cos(2 * M_PI * u2);
      v = d.kind == Kind::kNormal ? d.a_ms + d.b_ms * z : d.a_ms * std::exp(d.b_ms * z);
      break;
    }
    case Kind::kPareto:
      v = d.a_ms / std::pow(1.0 - rng.Unit(), 1.0 / d.b_ms);
      break;
  }
  // Extreme parameters can make 0 * inf or 0 / 0 (a lognormal sigma of 1e300); clamp passes nan
  // through, and a nan delay would be no bounded delay at all.
  if (std::isnan(v)) return d.max_ms;
  return std::clamp(v, d.min_ms, d.max_ms);
}

std::string_view FirstSegment(std::string_view path) { return path.substr(0, path.find('/')); }

std::string_view Extension(std::string_view path) {
  const size_t slash = path.rfind('/');
  const std::string_view last = slash == std::string_view::npos ? path : path.substr(slash + 1);
  const size_t dot = last.rfind('.');
  return dot == std::string_view::npos ? std::string_view() : last.substr(dot);
}

// The rules of `index` that `ctx`'s paths can match, in policy order, without duplicates.
void Candidates(const OpRules& index, const OpContext& ctx, std::vector<const CompiledRule*>& out) {
  out.assign(index.scan.begin(), index.scan.end());
  auto add = [&](const auto& map, std::string_view key) {
    if (map.empty() || key.empty()) return;
    const auto it = map.find(std::string(key));
    if (it != map.end()) out.insert(out.end(), it->second.begin(), it->second.end());
  };
  for (std::string_view p : {ctx.path, ctx.path2}) {
    add(index.by_first_segment, FirstSegment(p));
    add(index.by_extension, Extension(p));
  }
  std::sort(out.begin(), out.end(), [](auto* a, auto* b) { return a->index < b->index; });
  out.erase(std::unique(out.begin(), out.end()), out.end());
}

// Whether every targeting key of the rule holds for `ctx` (counters and probability aside).
bool Targets(const CompiledRule& r, const OpContext& ctx, std::string& process_cache) {
  const policy::Match& m = r.rule.match;
  if (!r.globs.empty() || !r.regexes.empty()) {
    bool any = false;
    for (const auto& g : r.globs)
      any = any || g.Matches(ctx.path) || (!ctx.path2.empty() && g.Matches(ctx.path2));
    for (const auto& re : r.regexes)
      any = any || re.Matches(ctx.path) || (!ctx.path2.empty() && re.Matches(ctx.path2));
    if (!any) return false;
  }
  if (!m.file_types.empty()) {
    const auto type = policy::FileTypeFromMode(ctx.mode);
    if (!type || !AnyOf(m.file_types, *type)) return false;
  }
  if (m.offset && !m.offset->Overlaps(ctx.offset, std::max<uint64_t>(ctx.size, 1))) return false;
  if (m.size && !m.size->Contains(ctx.size)) return false;
  if ((ctx.open_flags & m.open_flags) != m.open_flags) return false;
  if (!AnyOf(m.pids, ctx.pid) || !AnyOf(m.uids, ctx.uid) || !AnyOf(m.gids, ctx.gid)) return false;
  if (!m.process_names.empty()) {
    if (process_cache.empty()) process_cache = ProcessName(ctx.pid);
    if (!AnyOf(m.process_names, process_cache)) return false;
  }
  return true;
}

// Time windows and dm-flakey cycles, measured from when the policy was loaded.
bool InTime(const policy::Match& m, double elapsed_s) {
  if (m.window_start_s && (elapsed_s < *m.window_start_s || elapsed_s >= *m.window_end_s))
    return false;
  if (m.flakey_up_s) {
    const double cycle = *m.flakey_up_s + *m.flakey_down_s;
    if (std::fmod(elapsed_s, cycle) < *m.flakey_up_s) return false;  // the healthy part
  }
  return true;
}

// Counting keys for the nth matching call (1-based).
bool CountAllows(const policy::Match& m, uint64_t n) {
  if (m.after && n <= *m.after) return false;
  if (m.nth && n != *m.nth) return false;
  if (m.every && n % *m.every != 0) return false;
  return true;
}

// Claims one firing, respecting max_times across threads.
bool ClaimFire(const policy::Match& m, RuleState& s) {
  if (!m.max_fires) {
    s.fired.fetch_add(1, std::memory_order_relaxed);
    return true;
  }
  uint64_t fired = s.fired.load(std::memory_order_relaxed);
  while (fired < *m.max_fires) {
    if (s.fired.compare_exchange_weak(fired, fired + 1, std::memory_order_relaxed)) return true;
  }
  return false;
}

// Bandwidth: how long the op waits for its bytes in the rule's token bucket.
std::chrono::nanoseconds BandwidthWait(const policy::BandwidthAction& b, RuleState& s,
                                       uint64_t bytes) {
  MutexLock lock(s.bucket_mu);
  const auto now = Clock::now();
  if (s.refilled == Clock::time_point{}) {
    s.tokens = static_cast<double>(b.burst_bytes);
  } else {
    const double seconds = std::chrono::duration<double>(now - s.refilled).count();
    s.tokens = std::min(static_cast<double>(b.burst_bytes),
                        s.tokens + seconds * static_cast<double>(b.bytes_per_s));
  }
  s.refilled = now;
  s.tokens -= static_cast<double>(bytes);
  if (s.tokens >= 0) return std::chrono::nanoseconds(0);
  // 1 byte/s and a 1 GiB write would be 34 years (and, as nanoseconds, past int64): the wait is
  // capped like any other hold.
  const double wait_ms = -s.tokens / static_cast<double>(b.bytes_per_s) * 1e3;
  return MsToNs(std::min(wait_ms, policy::kMaxDelayMs));
}

int ChooseErrno(const policy::ErrnoAction& a, policy::Op op, Rng& rng) {
  if (a.realistic) {
    const auto& choices = RealisticErrnos(op);
    return choices[rng.Below(choices.size())];
  }
  double total = 0;
  for (const auto& c : a.choices) total += c.second;
  double pick = rng.Unit() * total;
  for (const auto& c : a.choices) {
    if (pick < c.second) return c.first;
    pick -= c.second;
  }
  return a.choices.back().first;
}

}  // namespace

FaultEngine::FaultEngine(uint64_t seed) : default_seed_(seed) {
  FAULTFS_CHECK(Install(policy::Policy{}, false).ok()) << "the empty policy must install";
}

FaultEngine::~FaultEngine() = default;

Status FaultEngine::Load(policy::Policy policy) {
  MutexLock lock(change_mu_);
  return Install(std::move(policy), false);
}

Status FaultEngine::AddRule(policy::Rule rule) {
  std::vector<policy::Rule> one;
  one.push_back(std::move(rule));
  return AddRules(std::move(one));
}

Status FaultEngine::AddRules(std::vector<policy::Rule> rules) {
  MutexLock lock(change_mu_);  // changes read, edit and install the source: one at a time
  policy::Policy next = current_.load()->source;
  for (auto& r : rules) next.rules.push_back(std::move(r));
  return Install(std::move(next), true);
}

Status FaultEngine::RemoveRule(std::string_view id) {
  MutexLock lock(change_mu_);
  policy::Policy next = current_.load()->source;
  const auto before = next.rules.size();
  std::erase_if(next.rules, [&](const policy::Rule& r) { return r.id == id; });
  if (next.rules.size() == before) return Status::Invalid("no rule '" + std::string(id) + "'");
  for (const auto& r : next.rules) {
    if (r.match.after_rule == id)
      return Status::Invalid("rule '" + r.id + "' comes after '" + std::string(id) +
                             "': remove it first");
  }
  return Install(std::move(next), true);
}

Status FaultEngine::SetEnabled(std::string_view id, bool enabled) {
  MutexLock lock(change_mu_);
  policy::Policy next = current_.load()->source;
  for (auto& r : next.rules) {
    if (r.id == id) {
      r.enabled = enabled;
      return Install(std::move(next), true);
    }
  }
  return Status::Invalid("no rule '" + std::string(id) + "'");
}

const std::shared_ptr<const FaultEngine::Compiled>& FaultEngine::Current() const {
  struct Seen {
    uint64_t version = 0;
    std::shared_ptr<const Compiled> policy;
  };
  thread_local Seen seen;
  if (seen.version != version_.load(std::memory_order_acquire)) {
    seen.policy = current_.load();
    seen.version = seen.policy->version;
  }
  return seen.policy;
}

bool FaultEngine::Targets(policy::Op op) const {
  return Current()->targeted.test(static_cast<size_t>(op));
}
bool FaultEngine::NeedsPath(policy::Op op) const {
  return Current()->needs_path.test(static_cast<size_t>(op));
}
bool FaultEngine::MayTarget(policy::Op op, std::string_view path, mode_t mode) const {
  const Compiled* c = Current().get();
  const OpRules& index = c->by_op[static_cast<size_t>(op)];
  if (index.empty()) return false;
  OpContext ctx;
  ctx.op = op;
  ctx.path = path;
  ctx.mode = mode;
  std::vector<const CompiledRule*> candidates;
  Candidates(index, ctx, candidates);
  for (const CompiledRule* r : candidates) {
    const policy::Match& m = r->rule.match;
    bool path_ok = r->globs.empty() && r->regexes.empty();
    for (const auto& g : r->globs) path_ok = path_ok || g.Matches(path);
    for (const auto& re : r->regexes) path_ok = path_ok || re.Matches(path);
    if (!path_ok) continue;
    if (!m.file_types.empty()) {
      const auto type = policy::FileTypeFromMode(mode);
      if (!type || !AnyOf(m.file_types, *type)) continue;
    }
    return true;
  }
  return false;
}

bool FaultEngine::KeepsWriteHistory() const { return Current()->keeps_write_history; }
uint64_t FaultEngine::seed() const { return current_.load()->seed; }
policy::Policy FaultEngine::policy() const { return current_.load()->source; }

std::vector<RuleStats> FaultEngine::Stats() const {
  const auto c = current_.load();
  std::vector<RuleStats> out;
  for (const auto& r : c->rules) {
    uint64_t evaluated = r->state->evaluated_before;
    if (r->rule.enabled) {
      uint64_t now = 0;
      for (size_t op = 0; op < policy::kOpCount; ++op) {
        if (r->rule.match.ops.test(op)) now += c->decisions->Of(op);
      }
      evaluated += now - r->state->decisions_at_enable;
    }
    out.push_back({r->rule.id, r->rule.enabled, policy::ActionName(r->rule.action), evaluated,
                   r->state->matched.load(), r->state->fired.load()});
  }
  return out;
}

Decision FaultEngine::Decide(const OpContext& ctx) {
  Decision d;
  const std::shared_ptr<const Compiled>& policy = Current();
  const Compiled* c = policy.get();
  const OpRules& index = c->by_op[static_cast<size_t>(ctx.op)];
  if (index.empty()) return d;
  c->decisions->Add(ctx.op);
  thread_local std::vector<const CompiledRule*> candidates;
  Candidates(index, ctx, candidates);
  if (candidates.empty()) return d;
  const double elapsed_s = std::chrono::duration<double>(Clock::now() - c->loaded_at).count();
  std::string process_cache;
  for (const CompiledRule* r : candidates) {
    RuleState& s = *r->state;
    const policy::Match& m = r->rule.match;
    if (!engine::Targets(*r, ctx, process_cache) || !InTime(m, elapsed_s)) continue;
    if (r->after != nullptr && r->after->state->fired.load(std::memory_order_relaxed) == 0)
      continue;
    const uint64_t n = s.matched.fetch_add(1, std::memory_order_relaxed) + 1;
    if (!CountAllows(m, n)) continue;
    const uint64_t draw =
        StreamDraw(r->stream_seed, s.draws.fetch_add(1, std::memory_order_relaxed));
    if (m.probability < 1.0 && UnitInterval(draw) >= m.probability) continue;
    if (!ClaimFire(m, s)) continue;
    d.fired.push_back(&r->rule);
    Rng rng(draw);
    rng.Next();  // the first value decided the probability; the action's values come after
    const policy::Action& action = r->rule.action;
    if (const auto* delay = std::get_if<policy::DelayAction>(&action)) {
      d.delay += MsToNs(SampleMs(delay->distribution, rng));
    } else if (const auto* bw = std::get_if<policy::BandwidthAction>(&action)) {
      d.delay += BandwidthWait(*bw, s, ctx.size);
    } else if (const auto* stall = std::get_if<policy::StallAction>(&action)) {
      if (d.stall == nullptr) d.stall = stall;
    } else if (std::holds_alternative<policy::FreezeAction>(action)) {
      d.freeze = true;
    } else if (d.outcome == nullptr) {
      d.outcome = &r->rule;
      d.draw = rng.Next();
      if (const auto* e = std::get_if<policy::ErrnoAction>(&action))
        d.err = ChooseErrno(*e, ctx.op, rng);
      if (const auto* f = std::get_if<policy::FsyncFailAction>(&action)) d.err = f->err;
    }
  }
  // Delays of many rules add up; the op is held no longer than one delay may be.
  d.delay = std::min(d.delay, MsToNs(policy::kMaxDelayMs));
  // `d.fired` points into the policy, which must outlive the decision (a live swap may retire it).
  if (!d.fired.empty()) d.policy_ = policy;
  return d;
}

}  // namespace faultfs::engine
