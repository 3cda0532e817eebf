// ns per FaultEngine::Decide() with 0, 10 and 1000 rules that do not match the operation (the
// cost every operation pays while a policy is loaded), and with one matching rule.
#include <benchmark/benchmark.h>
#include <sys/stat.h>

#include <cstdlib>

#include "faultfs/engine/engine.h"

namespace {

using faultfs::engine::FaultEngine;
using faultfs::engine::OpContext;
using faultfs::policy::Op;

// `rules` errno rules on reads and writes of paths that the benchmarked op never touches.
faultfs::policy::Policy NonMatching(int rules) {
  faultfs::policy::Policy p;
  p.seed = 1;
  for (int i = 0; i < rules; ++i) {
    faultfs::policy::Rule r;
    r.id = "r" + std::to_string(i);
    r.match.ops.set(static_cast<size_t>(Op::kRead));
    r.match.ops.set(static_cast<size_t>(Op::kWrite));
    r.match.path_globs = {"dir-" + std::to_string(i) + "/**/*.wal"};
    r.action = faultfs::policy::ErrnoAction{{{5, 1.0}}, false};
    p.rules.push_back(r);
  }
  return p;
}

OpContext ReadOf(std::string_view path) {
  OpContext c;
  c.op = Op::kRead;
  c.path = path;
  c.mode = S_IFREG;
  c.size = 4096;
  return c;
}

void BM_DecideNonMatching(benchmark::State& state) {
  FaultEngine engine(1);
  if (!engine.Load(NonMatching(static_cast<int>(state.range(0)))).ok())
    state.SkipWithError("load failed");
  const OpContext ctx = ReadOf("data/tables/000123.sst");
  for (auto _ : state) benchmark::DoNotOptimize(engine.Decide(ctx));
  state.SetLabel(std::to_string(state.range(0)) + " rules, none matching");
}
BENCHMARK(BM_DecideNonMatching)->Arg(0)->Arg(10)->Arg(1000);

// Two threads deciding on one engine, as the daemon's threads on two CPUs do: nothing shared may
// be written per decision, or the cache line bouncing between CPUs costs more than the decision.
void BM_DecideTwoThreads(benchmark::State& state) {
  static FaultEngine* engine = [] {
    auto* e = new FaultEngine(1);  // NOLINT(cppcoreguidelines-owning-memory): lives for the run
    if (!e->Load(NonMatching(1000)).ok()) std::abort();
    return e;
  }();
  const OpContext ctx = ReadOf("data/tables/000123.sst");
  for (auto _ : state) benchmark::DoNotOptimize(engine->Decide(ctx));
  state.SetLabel("1000 rules, none matching, per thread");
}
BENCHMARK(BM_DecideTwoThreads)->Threads(2);

void BM_DecideOtherOp(benchmark::State& state) {
  FaultEngine engine(1);
  if (!engine.Load(NonMatching(static_cast<int>(state.range(0)))).ok())
    state.SkipWithError("load failed");
  OpContext ctx = ReadOf("data/x");
  ctx.op = Op::kLookup;  // no rule targets lookups
  for (auto _ : state) benchmark::DoNotOptimize(engine.Decide(ctx));
  state.SetLabel(std::to_string(state.range(0)) + " rules on other ops");
}
BENCHMARK(BM_DecideOtherOp)->Arg(0)->Arg(10)->Arg(1000);

// `rules` regex rules on reads: "shard-N/..." (a literal first segment: indexed like a glob), or
// ".*shard-N.*" (no literal start or end: the worst case, every decision on reads tries each one).
faultfs::policy::Policy RegexRules(int rules, bool literal_start) {
  auto p = NonMatching(rules);
  for (size_t i = 0; i < p.rules.size(); ++i) {
    p.rules[i].match.path_globs.clear();
    const std::string n = std::to_string(i);
    p.rules[i].match.path_regexes = {literal_start ? "shard-" + n + "/.*\\.wal"
                                                   : ".*shard-" + n + ".*"};
  }
  return p;
}

void BM_DecideRegex(benchmark::State& state) {
  FaultEngine engine(1);
  if (!engine.Load(RegexRules(static_cast<int>(state.range(0)), true)).ok())
    state.SkipWithError("load failed");
  const OpContext ctx = ReadOf("data/tables/000123.sst");
  for (auto _ : state) benchmark::DoNotOptimize(engine.Decide(ctx));
  state.SetLabel(std::to_string(state.range(0)) +
                 " regex rules with a literal start, none matching");
}
BENCHMARK(BM_DecideRegex)->Arg(10)->Arg(1000);

void BM_DecideUnindexed(benchmark::State& state) {
  FaultEngine engine(1);
  if (!engine.Load(RegexRules(static_cast<int>(state.range(0)), false)).ok())
    state.SkipWithError("load failed");
  const OpContext ctx = ReadOf("data/tables/000123.sst");
  for (auto _ : state) benchmark::DoNotOptimize(engine.Decide(ctx));
  state.SetLabel(std::to_string(state.range(0)) + " regex rules like .*x.*, none matching");
}
BENCHMARK(BM_DecideUnindexed)->Arg(10)->Arg(1000);

void BM_DecideMatching(benchmark::State& state) {
  FaultEngine engine(1);
  auto p = NonMatching(static_cast<int>(state.range(0)));
  p.rules.back().match.path_globs = {"**/*.sst"};
  p.rules.back().match.probability = 0.5;
  if (!engine.Load(p).ok()) state.SkipWithError("load failed");
  const OpContext ctx = ReadOf("data/tables/000123.sst");
  for (auto _ : state) benchmark::DoNotOptimize(engine.Decide(ctx));
  state.SetLabel(std::to_string(state.range(0)) + " rules, the last matching");
}
BENCHMARK(BM_DecideMatching)->Arg(1)->Arg(10)->Arg(1000);

}  // namespace

BENCHMARK_MAIN();
