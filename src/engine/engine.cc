#include "faultfs/engine/engine.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <fstream>
#include <map>
#include <mutex>
#include <set>
#include <unordered_map>

#include "faultfs/core/check.h"
#include "faultfs/core/random.h"
#include "faultfs/policy/actions.h"
#include "faultfs/policy/glob.h"
#include "faultfs/policy/limits.h"
#include "faultfs/policy/path_regex.h"
#include "realistic_errnos.h"

namespace faultfs::engine {

namespace {

using Clock = std::chrono::steady_clock;

// A rule's counters and stream position. Shared between successive compiled policies, so
// adding or disabling another rule does not reset this one.
struct RuleState {
  // `evaluated` is derived from the per-op decision counts: what the rule saw while enabled
  // before (evaluated_before) plus what its ops saw since it was last enabled.
  uint64_t evaluated_before = 0;
  uint64_t decisions_at_enable = 0;
  bool was_enabled = false;
  std::atomic<uint64_t> matched{0};
  std::atomic<uint64_t> fired{0};
  std::atomic<uint64_t> draws{0};
  // Bandwidth rules: a token bucket, in bytes, refilled at bytes_per_s.
  std::mutex bucket_mu;
  double tokens = 0;
  Clock::time_point refilled{};
};

struct CompiledRule {
  size_t index = 0;  // position in the policy: decides which outcome wins
  policy::Rule rule;
  std::vector<policy::Glob> globs;
  std::vector<policy::PathRegex> regexes;
  uint64_t stream_seed = 0;
  std::shared_ptr<RuleState> state;
  const CompiledRule* after = nullptr;  // after_rule, resolved
  bool changes_outcome = false;         // not a pure delay/stall/freeze action
};

bool ChangesOutcome(const policy::Action& a) { return !policy::InfoOf(a).timing; }

bool NeedsPathMatch(const policy::Match& m) {
  return !m.path_globs.empty() || !m.path_regexes.empty();
}

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

}  // namespace

// The enabled rules of one op, indexed by what their paths must look like, so that a decision
// only looks at the rules its path can match (1,000 rules on other directories cost nothing).
struct OpRules {
  std::vector<const CompiledRule*> scan;  // no usable index: always considered
  std::unordered_map<std::string, std::vector<const CompiledRule*>> by_first_segment;
  std::unordered_map<std::string, std::vector<const CompiledRule*>> by_extension;
  bool empty() const { return scan.empty() && by_first_segment.empty() && by_extension.empty(); }
};

// Decisions per op, counted in per-thread shards (each on its own cache line) so that threads on
// different CPUs do not contend for one counter on every operation.
class DecisionCounts {
 public:
  void Add(policy::Op op) {
    thread_local const size_t shard = next_shard_.fetch_add(1, std::memory_order_relaxed) % kShards;
    shards_[shard].n[static_cast<size_t>(op)].fetch_add(1, std::memory_order_relaxed);
  }
  uint64_t Of(size_t op) const {
    uint64_t sum = 0;
    for (const auto& s : shards_) sum += s.n[op].load(std::memory_order_relaxed);
    return sum;
  }

 private:
  static constexpr size_t kShards = 8;
  struct alignas(64) Shard {
    std::array<std::atomic<uint64_t>, policy::kOpCount> n{};
  };
  std::array<Shard, kShards> shards_;
  static inline std::atomic<size_t> next_shard_{0};
};

struct FaultEngine::Compiled {
  uint64_t seed = 0;
  policy::Policy source;
  std::vector<std::unique_ptr<CompiledRule>> rules;
  std::array<OpRules, policy::kOpCount> by_op;  // enabled rules only
  policy::OpSet targeted;
  policy::OpSet needs_path;
  bool keeps_write_history = false;
  Clock::time_point loaded_at;
  uint64_t version = 0;
  // Decisions per op since this policy's counters began: a rule's `evaluated` is the sum over
  // its ops (every decision for one of its ops considers it, at least logically).
  std::shared_ptr<DecisionCounts> decisions;
};

namespace {

// Where a rule goes in its op's index: all its paths (globs and regexes) must share a kind of
// literal anchor.
void IndexRule(OpRules& index, const CompiledRule* r) {
  if (r->regexes.empty() && r->globs.empty()) {
    index.scan.push_back(r);
    return;
  }
  std::vector<std::string> firsts, exts;
  for (const auto& g : r->globs) {
    for (auto& f : g.FirstSegments()) firsts.push_back(std::move(f));
    for (auto& e : g.Extensions()) exts.push_back(std::move(e));
  }
  for (const auto& re : r->regexes) {
    firsts.push_back(re.FirstSegment());
    exts.push_back(re.Extension());
  }
  const auto all_set = [](const std::vector<std::string>& v) {
    return std::none_of(v.begin(), v.end(), [](const std::string& x) { return x.empty(); });
  };
  if (all_set(firsts)) {
    for (const auto& f : std::set<std::string>(firsts.begin(), firsts.end()))
      index.by_first_segment[f].push_back(r);
  } else if (all_set(exts)) {
    for (const auto& e : std::set<std::string>(exts.begin(), exts.end()))
      index.by_extension[e].push_back(r);
  } else {
    index.scan.push_back(r);
  }
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
  std::lock_guard lock(s.bucket_mu);
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

Status FaultEngine::Install(policy::Policy next, bool keep_counters) {
  auto compiled = std::make_shared<Compiled>();
  const auto previous = current_.load();
  compiled->seed = next.seed.value_or(previous && keep_counters ? previous->seed : default_seed_);
  compiled->loaded_at = previous && keep_counters ? previous->loaded_at : Clock::now();
  std::map<std::string, std::shared_ptr<RuleState>> old_states;
  if (previous && keep_counters) {
    for (const auto& r : previous->rules) old_states[r->rule.id] = r->state;
    compiled->decisions = previous->decisions;
  } else {
    compiled->decisions = std::make_shared<DecisionCounts>();
  }
  std::set<std::string> ids;
  policy::PatternBudget budget;
  for (const auto& rule : next.rules) {
    if (!ids.insert(rule.id).second) return Status::Invalid("duplicate rule id '" + rule.id + "'");
    if (Status fits = budget.AddRule(); !fits.ok()) return fits;
    auto cr = std::make_unique<CompiledRule>();
    cr->index = compiled->rules.size();
    cr->rule = rule;
    for (const auto& g : rule.match.path_globs) {
      auto glob = policy::Glob::Compile(g);
      Status fits = glob.ok() ? budget.AddGlob(*glob) : glob.status();
      if (!fits.ok()) {
        return Status::Invalid("rule '" + rule.id + "': path '" + g + "': " + fits.ToString());
      }
      cr->globs.push_back(std::move(*glob));
    }
    for (const auto& re : rule.match.path_regexes) {
      auto compiled_re = policy::PathRegex::Compile(re);
      Status fits = compiled_re.ok() ? budget.AddRegex() : compiled_re.status();
      if (!fits.ok()) {
        return Status::Invalid("rule '" + rule.id + "': bad path_regex '" + re +
                               "': " + fits.ToString());
      }
      cr->regexes.push_back(std::move(*compiled_re));
    }
    cr->stream_seed = DeriveSeed(compiled->seed, rule.id);
    const auto old = old_states.find(rule.id);
    cr->state = old != old_states.end() ? old->second : std::make_shared<RuleState>();
    cr->changes_outcome = ChangesOutcome(rule.action);
    compiled->rules.push_back(std::move(cr));
  }
  auto decisions_of = [&](const policy::Rule& r) {
    uint64_t n = 0;
    for (size_t op = 0; op < policy::kOpCount; ++op) {
      if (r.match.ops.test(op)) n += compiled->decisions->Of(op);
    }
    return n;
  };
  for (auto& cr : compiled->rules) {
    RuleState& st = *cr->state;
    const bool fresh = old_states.find(cr->rule.id) == old_states.end();
    if (cr->rule.enabled && (fresh || !st.was_enabled))
      st.decisions_at_enable = decisions_of(cr->rule);
    if (!cr->rule.enabled && !fresh && st.was_enabled) {
      st.evaluated_before += decisions_of(cr->rule) - st.decisions_at_enable;
    }
    st.was_enabled = cr->rule.enabled;
  }
  for (auto& cr : compiled->rules) {
    if (const auto& after = cr->rule.match.after_rule) {
      for (const auto& other : compiled->rules) {
        if (other->rule.id == *after) cr->after = other.get();
      }
      if (cr->after == nullptr)
        return Status::Invalid("rule '" + cr->rule.id + "': after_rule '" + *after +
                               "' does not exist");
    }
    if (!cr->rule.enabled) continue;
    const auto* fail = std::get_if<policy::FsyncFailAction>(&cr->rule.action);
    if (std::holds_alternative<policy::StaleReadAction>(cr->rule.action) ||
        (fail != nullptr && fail->drop_dirty)) {
      compiled->keeps_write_history = true;
    }
    for (size_t op = 0; op < policy::kOpCount; ++op) {
      if (!cr->rule.match.ops.test(op)) continue;
      IndexRule(compiled->by_op[op], cr.get());
      compiled->targeted.set(op);
      if (NeedsPathMatch(cr->rule.match)) compiled->needs_path.set(op);
    }
  }
  compiled->source = std::move(next);
  static std::atomic<uint64_t> next_version{1};
  compiled->version = next_version.fetch_add(1, std::memory_order_relaxed);
  const uint64_t version = compiled->version;
  current_.store(std::move(compiled));
  version_.store(version, std::memory_order_release);
  return Status::Ok();
}

Status FaultEngine::Load(policy::Policy policy) {
  std::lock_guard lock(change_mu_);
  return Install(std::move(policy), false);
}

Status FaultEngine::AddRule(policy::Rule rule) {
  std::vector<policy::Rule> one;
  one.push_back(std::move(rule));
  return AddRules(std::move(one));
}

Status FaultEngine::AddRules(std::vector<policy::Rule> rules) {
  std::lock_guard lock(change_mu_);  // changes read, edit and install the source: one at a time
  policy::Policy next = current_.load()->source;
  for (auto& r : rules) next.rules.push_back(std::move(r));
  return Install(std::move(next), true);
}

Status FaultEngine::RemoveRule(std::string_view id) {
  std::lock_guard lock(change_mu_);
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
  std::lock_guard lock(change_mu_);
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
