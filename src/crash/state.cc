// Enumerate(): lists each model's crash points and states, and samples them (seeded) when the
// model defines more than the caller wants.
#include "faultfs/crash/state.h"

#include <algorithm>
#include <unordered_set>

#include "faultfs/core/random.h"
#include "models.h"

namespace faultfs::crash {
namespace {

using models::ModelPlan;

struct Point {
  uint32_t crash_point = 0;
  uint64_t count = 0;  // states, the plain one included
};

struct Pick {
  size_t point = 0;
  uint64_t index = 0;
  bool operator<(const Pick& o) const {
    return point != o.point ? point < o.point : index < o.index;
  }
};

// Crash points 0 and n always; the others when they may add a state.
std::vector<Point> ListPoints(const ModelPlan& plan, uint32_t n) {
  std::vector<Point> points;
  for (uint32_t c = 0; c <= n; ++c) {
    if (c == 0 || c == n || plan.KeepsPoint(c)) points.push_back(Point{c, plan.Count(c)});
  }
  return points;
}

std::vector<Pick> AllPicks(const std::vector<Point>& points) {
  std::vector<Pick> picks;
  for (size_t p = 0; p < points.size(); ++p) {
    for (uint64_t i = 0; i < points[p].count; ++i) picks.push_back(Pick{p, i});
  }
  return picks;
}

// `want` distinct values of [0, range), want <= range (Floyd's algorithm: `want` draws).
std::vector<uint64_t> SampleDistinct(uint64_t range, uint64_t want, Rng& rng) {
  std::unordered_set<uint64_t> chosen;
  for (uint64_t j = range - want; j < range; ++j) {
    const uint64_t t = rng.Below(j + 1);
    if (!chosen.insert(t).second) chosen.insert(j);
  }
  std::vector<uint64_t> sorted(chosen.begin(), chosen.end());
  std::sort(sorted.begin(), sorted.end());
  return sorted;
}

// Every crash point's plain state, then variants drawn uniformly from all the others. With fewer
// slots than crash points, a uniform sample of the plain states.
std::vector<Pick> SampledPicks(const std::vector<Point>& points, uint64_t max_states,
                               uint64_t seed) {
  Rng rng(DeriveSeed(seed, "crash.sample"));
  std::vector<Pick> picks;
  if (points.size() >= max_states) {
    for (uint64_t p : SampleDistinct(points.size(), max_states, rng)) picks.push_back(Pick{p, 0});
    return picks;
  }
  std::vector<uint64_t> first_variant;  // per point: its first variant's number among all variants
  uint64_t variants = 0;
  for (size_t p = 0; p < points.size(); ++p) {
    picks.push_back(Pick{p, 0});
    first_variant.push_back(variants);
    variants += points[p].count - 1;
  }
  const uint64_t want = std::min(max_states - points.size(), variants);
  for (uint64_t v : SampleDistinct(variants, want, rng)) {
    const auto next = std::upper_bound(first_variant.begin(), first_variant.end(), v);
    const auto p = static_cast<size_t>(next - first_variant.begin() - 1);
    picks.push_back(Pick{p, v - first_variant[p] + 1});
  }
  std::sort(picks.begin(), picks.end());
  return picks;
}

CrashState Build(const std::vector<record::Op>& ops, const ModelPlan& plan, uint32_t c,
                 uint64_t index) {
  CrashState state = plan.Make(c, index);
  state.id = index == 0 ? std::to_string(c) : std::to_string(c) + "." + std::to_string(index);
  state.crash_point = c;
  state.summary = models::Summary(ops, state);
  return state;
}

}  // namespace

namespace models {

std::unique_ptr<ModelPlan> MakePlan(const std::vector<record::Op>& ops, const History& history,
                                    const Model& model, uint64_t seed) {
  switch (model.kind) {
    case ModelKind::kPrefix:
      return MakePrefixPlan(ops);
    case ModelKind::kExt4:
      return MakeExt4Plan(ops, history);
    case ModelKind::kPp:
      return MakePpPlan(ops, history, /*strict=*/false);
    case ModelKind::kPpStrict:
      return MakePpPlan(ops, history, /*strict=*/true);
    case ModelKind::kWeak:
      return MakeWeakPlan(ops, history, model.half_renames);
    case ModelKind::kReorder:
      return MakeReorderPlan(ops, history, std::max<uint32_t>(model.k, 1), seed);
    case ModelKind::kTorn:
      return MakeTornPlan(ops, model.sector == 512 ? 512 : 4096);
  }
  return MakePrefixPlan(ops);
}

}  // namespace models

namespace {

Enumeration EnumerateResolved(const std::vector<record::Op>& ops, const InodeNames& start,
                              const Model& model, uint64_t seed, uint64_t max_states) {
  FAULTFS_CHECK(ops.size() < UINT32_MAX) << "a log of " << ops.size() << " ops";
  const History history = History::Of(ops, start);
  const auto plan = models::MakePlan(ops, history, model, seed);
  const std::vector<Point> points = ListPoints(*plan, static_cast<uint32_t>(ops.size()));
  Enumeration out;
  for (const Point& p : points) out.total = models::SaturatingAdd(out.total, p.count);
  out.sampled = out.total > max_states;
  const std::vector<Pick> picks =
      out.sampled ? SampledPicks(points, max_states, seed) : AllPicks(points);
  out.states.reserve(picks.size());
  for (const Pick& pick : picks) {
    out.states.push_back(Build(ops, *plan, points[pick.point].crash_point, pick.index));
  }
  return out;
}

CrashState StateAtResolved(const std::vector<record::Op>& ops, const InodeNames& start,
                           const Model& model, uint64_t seed, uint32_t crash_point,
                           uint64_t index) {
  FAULTFS_CHECK(crash_point <= ops.size()) << "crash point " << crash_point << " of " << ops.size();
  const History history = History::Of(ops, start);
  const auto plan = models::MakePlan(ops, history, model, seed);
  FAULTFS_CHECK(index < plan->Count(crash_point))
      << "state " << index << " of crash point " << crash_point;
  return Build(ops, *plan, crash_point, index);
}

}  // namespace

Enumeration Enumerate(const record::ReadLog& log, const Model& model, uint64_t seed,
                      uint64_t max_states) {
  return EnumerateResolved(log.ops, log.header.inodes, model, seed, max_states);
}

Enumeration Enumerate(const std::vector<record::Op>& ops, const Model& model, uint64_t seed,
                      uint64_t max_states) {
  return EnumerateResolved(ops, {}, model, seed, max_states);
}

uint64_t CountStatesAt(const record::ReadLog& log, const Model& model, uint64_t seed,
                       uint32_t crash_point) {
  FAULTFS_CHECK(crash_point <= log.ops.size())
      << "crash point " << crash_point << " of " << log.ops.size();
  const History history = History::Of(log.ops, log.header.inodes);
  return models::MakePlan(log.ops, history, model, seed)->Count(crash_point);
}

CrashState StateAt(const record::ReadLog& log, const Model& model, uint64_t seed,
                   uint32_t crash_point, uint64_t index) {
  return StateAtResolved(log.ops, log.header.inodes, model, seed, crash_point, index);
}

CrashState StateAt(const std::vector<record::Op>& ops, const Model& model, uint64_t seed,
                   uint32_t crash_point, uint64_t index) {
  return StateAtResolved(ops, {}, model, seed, crash_point, index);
}

std::vector<size_t> SharedPrefixes(const std::vector<CrashState>& states) {
  // The prefix all of a set shares is the smallest that neighbours share.
  std::vector<size_t> shared(states.size());
  for (size_t i = states.size(); i-- > 0;) {
    const std::vector<Applied>& a = states[i].applied;
    if (i + 1 == states.size()) {
      shared[i] = a.size();
      continue;
    }
    const std::vector<Applied>& b = states[i + 1].applied;
    const size_t limit = std::min({a.size(), b.size(), shared[i + 1]});
    size_t n = 0;
    while (n < limit && a[n] == b[n]) ++n;
    shared[i] = n;
  }
  return shared;
}

}  // namespace faultfs::crash
