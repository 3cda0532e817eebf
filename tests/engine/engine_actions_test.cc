// Goal: every action kind fires on exactly the ops and paths its rule targets and passes the
// rest; its decision carries the right action and values (errno, delay bounds, stall, freeze).
#include <gtest/gtest.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <set>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "engine_test_util.h"
#include "faultfs/engine/engine.h"

namespace faultfs::engine {
namespace {

using policy::Op;
using std::chrono::milliseconds;

// A rule "r" on `op` and data/*.db, followed by the action's lines.
std::string DataRule(std::string_view op, std::string_view action) {
  return "[[rule]]\nid = \"r\"\nops = [\"" + std::string(op) + "\"]\npath = \"data/*.db\"\n" +
         std::string(action);
}

// Checks that `op` on other paths and `other_op` on data/x.db pass, then decides `op` on
// data/x.db.
Decision OnTargetOnly(FaultEngine& e, Op op, Op other_op) {
  EXPECT_TRUE(e.Decide(Ctx(op, "data/x.log")).passes()) << "another extension";
  EXPECT_TRUE(e.Decide(Ctx(op, "logs/x.db")).passes()) << "another directory";
  EXPECT_TRUE(e.Decide(Ctx(other_op, "data/x.db")).passes()) << "an untargeted op";
  return e.Decide(Ctx(op, "data/x.db"));
}

// The action of the decision's outcome if it is an `A` and rule "r" alone fired, else null.
template <typename A>
const A* Outcome(const Decision& d) {
  EXPECT_EQ(d.fired.size(), 1U);
  if (d.outcome == nullptr) {
    ADD_FAILURE() << "no outcome";
    return nullptr;
  }
  EXPECT_EQ(d.outcome->id, "r");
  EXPECT_EQ(d.fired.front(), d.outcome);
  if constexpr (!std::is_same_v<A, policy::FsyncFailAction>) {
    EXPECT_EQ(d.err, 0) << "only errno and fsync_fail set an errno";
  }
  return std::get_if<A>(&d.outcome->action);
}

// --- Data faults: the right action, on the targeted op and path only ---

TEST(EngineActions, ShortReadFiresOnlyOnTargetedReads) {
  auto e = Loaded(DataRule("read", "action = \"short\"\nshort = { bytes = 512 }\n"));
  const Decision d = OnTargetOnly(*e, Op::kRead, Op::kWrite);
  const auto* a = Outcome<policy::ShortAction>(d);
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(a->bytes, 512U);
}

TEST(EngineActions, ShortWriteFiresOnlyOnTargetedWrites) {
  auto e = Loaded(DataRule("write", "action = \"short\"\nshort = { fraction = 0.25 }\n"));
  const Decision d = OnTargetOnly(*e, Op::kWrite, Op::kRead);
  const auto* a = Outcome<policy::ShortAction>(d);
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(a->fraction, 0.25);
}

TEST(EngineActions, TornFiresOnlyOnTargetedWrites) {
  auto e =
      Loaded(DataRule("write", "action = \"torn\"\ntorn = { unit = 512, keep = \"first\" }\n"));
  const Decision d = OnTargetOnly(*e, Op::kWrite, Op::kRead);
  const auto* a = Outcome<policy::TornAction>(d);
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(a->unit_bytes, 512U);
  EXPECT_EQ(a->keep, policy::TornAction::Keep::kFirst);
}

TEST(EngineActions, CorruptOnReadFiresOnlyOnTargetedReads) {
  auto e =
      Loaded(DataRule("read", "action = \"corrupt\"\ncorrupt = { mode = \"flip\", bits = 2 }\n"));
  const Decision d = OnTargetOnly(*e, Op::kRead, Op::kWrite);
  const auto* a = Outcome<policy::CorruptAction>(d);
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(a->bits, 2U);
  EXPECT_FALSE(a->on_write);
}

TEST(EngineActions, CorruptOnWriteFiresOnlyOnTargetedWrites) {
  auto e = Loaded(
      DataRule("write", "action = \"corrupt\"\ncorrupt = { mode = \"zero\", on = \"write\" }\n"));
  const Decision d = OnTargetOnly(*e, Op::kWrite, Op::kRead);
  const auto* a = Outcome<policy::CorruptAction>(d);
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(a->mode, policy::CorruptAction::Mode::kZero);
  EXPECT_TRUE(a->on_write);
}

TEST(EngineActions, MisdirectFiresOnlyOnTargetedWrites) {
  auto e = Loaded(DataRule("write", "action = \"misdirect\"\nmisdirect = { shift = -8192 }\n"));
  const Decision d = OnTargetOnly(*e, Op::kWrite, Op::kRead);
  const auto* a = Outcome<policy::MisdirectAction>(d);
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(a->shift_bytes, -8192);
}

TEST(EngineActions, StaleFiresOnlyOnTargetedReads) {
  auto e = Loaded(DataRule("read", "action = \"stale\"\n"));
  EXPECT_NE(Outcome<policy::StaleReadAction>(OnTargetOnly(*e, Op::kRead, Op::kWrite)), nullptr);
}

TEST(EngineActions, LostWriteFiresOnlyOnTargetedWrites) {
  auto e = Loaded(DataRule("write", "action = \"lose\"\n"));
  EXPECT_NE(Outcome<policy::LostWriteAction>(OnTargetOnly(*e, Op::kWrite, Op::kRead)), nullptr);
}

TEST(EngineActions, LyingFsyncFiresOnlyOnTargetedFsyncs) {
  auto e = Loaded(DataRule("fsync", "action = \"lie\"\n"));
  EXPECT_NE(Outcome<policy::LyingFsyncAction>(OnTargetOnly(*e, Op::kFsync, Op::kFdatasync)),
            nullptr);
}

TEST(EngineActions, FsyncFailFiresOnlyOnTargetedFsyncs) {
  auto e = Loaded(DataRule("fdatasync", "action = \"fsync_fail\"\n"));
  const Decision d = OnTargetOnly(*e, Op::kFdatasync, Op::kFsync);
  EXPECT_NE(Outcome<policy::FsyncFailAction>(d), nullptr);
  EXPECT_EQ(d.err, EIO) << "EIO unless told";
}

TEST(EngineActions, KillFiresOnlyOnTargetedOps) {
  auto e = Loaded(
      DataRule("unlink", "action = \"kill\"\nkill = { signal = \"SIGTERM\", when = \"after\" }\n"));
  const Decision d = OnTargetOnly(*e, Op::kUnlink, Op::kRename);
  const auto* a = Outcome<policy::KillAction>(d);
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(a->signal, SIGTERM);
  EXPECT_FALSE(a->before);
}

// --- fsync_fail's errno and the write history it needs ---

TEST(EngineActions, FsyncFailUsesTheConfiguredErrno) {
  auto top = Loaded("[[rule]]\nops = [\"fsync\"]\naction = \"fsync_fail\"\nerrno = \"ENOSPC\"\n");
  EXPECT_EQ(Err(*top, Ctx(Op::kFsync)), ENOSPC);
  auto nested = Loaded(
      "[[rule]]\nops = [\"fsync\"]\naction = \"fsync_fail\"\n"
      "fsync_fail = { errno = \"EROFS\", semantics = \"keep\" }\n");
  EXPECT_EQ(Err(*nested, Ctx(Op::kFsync)), EROFS);
  EXPECT_EQ(Err(*nested, Ctx(Op::kWrite)), 0);
}

TEST(EngineActions, WriteHistoryKeptOnlyForStaleAndDroppingFsyncFail) {
  EXPECT_TRUE(Loaded("[[rule]]\naction = \"stale\"\n")->KeepsWriteHistory());
  EXPECT_TRUE(Loaded("[[rule]]\naction = \"fsync_fail\"\n")->KeepsWriteHistory())
      << "linux semantics by default";
  EXPECT_TRUE(Loaded("[[rule]]\naction = \"fsync_fail\"\nfsync_fail = { semantics = \"linux\" }\n")
                  ->KeepsWriteHistory());
  EXPECT_FALSE(Loaded("[[rule]]\naction = \"fsync_fail\"\nfsync_fail = { semantics = \"keep\" }\n")
                   ->KeepsWriteHistory());
  EXPECT_FALSE(Loaded("[[rule]]\naction = \"lose\"\n[[rule]]\naction = \"lie\"\n[[rule]]\n"
                      "action = \"errno\"\nerrno = \"EIO\"\n")
                   ->KeepsWriteHistory());
  EXPECT_FALSE(Loaded("")->KeepsWriteHistory());
  EXPECT_FALSE(Loaded("[[rule]]\nenabled = false\naction = \"stale\"\n")->KeepsWriteHistory())
      << "a disabled rule needs nothing";
}

TEST(EngineActions, WriteHistoryFollowsEnablingTheRule) {
  auto e = Loaded("[[rule]]\nid = \"s\"\naction = \"stale\"\n");
  ASSERT_TRUE(e->SetEnabled("s", false).ok());
  EXPECT_FALSE(e->KeepsWriteHistory());
  ASSERT_TRUE(e->SetEnabled("s", true).ok());
  EXPECT_TRUE(e->KeepsWriteHistory());
}

// --- Delay distributions ---

// The delays of `n` reads.
std::vector<std::chrono::nanoseconds> Delays(FaultEngine& e, int n) {
  std::vector<std::chrono::nanoseconds> out;
  for (int i = 0; i < n; ++i) out.push_back(e.Decide(Ctx(Op::kRead)).delay);
  return out;
}

std::string DelayRule(std::string_view delay) {
  return "[[rule]]\nops = [\"read\"]\naction = \"delay\"\ndelay = " + std::string(delay) + "\n";
}

TEST(EngineActions, FixedDelayIsExactlyItsValue) {
  auto e = Loaded(DelayRule("{ fixed_ms = 7 }"));
  for (const auto d : Delays(*e, 50)) EXPECT_EQ(d, milliseconds(7));
  const Decision d = e->Decide(Ctx(Op::kRead));
  EXPECT_FALSE(d.passes());
  EXPECT_EQ(d.outcome, nullptr) << "a delay does not change the outcome";
  EXPECT_EQ(e->Decide(Ctx(Op::kWrite)).delay.count(), 0) << "untargeted op";
  EXPECT_TRUE(e->Decide(Ctx(Op::kWrite)).passes());
}

// A fixed delay is what it says: raised to min_ms, never cut to the default 60 s bound of random
// draws, and one above an explicit max_ms is a policy error rather than a silent cut.
TEST(EngineActions, FixedDelayIsExactlyWhatItSays) {
  EXPECT_EQ(Delays(*Loaded(DelayRule("{ fixed_ms = 1, min_ms = 5 }")), 1)[0], milliseconds(5));
  EXPECT_EQ(Delays(*Loaded(DelayRule("{ fixed_ms = 90000 }")), 1)[0], milliseconds(90'000))
      << "the default bound is for random draws";
  const auto parsed = policy::ParsePolicy(DelayRule("{ fixed_ms = 500, max_ms = 100 }"), "t.toml");
  ASSERT_FALSE(parsed.ok());
  EXPECT_NE(parsed.errors.front().ToString().find("fixed_ms must not exceed max_ms"),
            std::string::npos);
}

TEST(EngineActions, UniformDelayStaysWithinItsBoundsAndVaries) {
  auto e = Loaded(DelayRule("{ distribution = \"uniform\", min_ms = 2, max_ms = 5 }"));
  const auto delays = Delays(*e, 2000);
  std::set<std::chrono::nanoseconds> distinct(delays.begin(), delays.end());
  EXPECT_GT(distinct.size(), 100U) << "draws vary";
  EXPECT_GE(*distinct.begin(), milliseconds(2));
  EXPECT_LE(*distinct.rbegin(), milliseconds(5));
  EXPECT_LT(*distinct.begin(), milliseconds(2) + milliseconds(1)) << "the range is covered";
  EXPECT_GT(*distinct.rbegin(), milliseconds(4));
}

// Every delay lies in [lo_ms, hi_ms] and both bounds are reached (the draws were clamped).
void ExpectClampedTo(std::string_view delay, int lo_ms, int hi_ms) {
  SCOPED_TRACE(delay);
  auto e = Loaded(DelayRule(delay));
  const auto delays = Delays(*e, 3000);
  const auto [lo, hi] = std::minmax_element(delays.begin(), delays.end());
  EXPECT_EQ(*lo, milliseconds(lo_ms));
  EXPECT_EQ(*hi, milliseconds(hi_ms));
  EXPECT_TRUE(e->Decide(Ctx(Op::kWrite)).passes());
}

TEST(EngineActions, NormalLognormalAndParetoAreClampedToMinAndMax) {
  ExpectClampedTo(
      "{ distribution = \"normal\", mean_ms = 10, stddev_ms = 50, min_ms = 5, max_ms = 20 }", 5,
      20);
  ExpectClampedTo(
      "{ distribution = \"lognormal\", median_ms = 10, sigma = 3, min_ms = 2, max_ms = 40 }", 2,
      40);
  ExpectClampedTo(
      "{ distribution = \"pareto\", scale_ms = 1, shape = 0.5, min_ms = 2, max_ms = 30 }", 2, 30);
}

TEST(EngineActions, BandwidthDelaysOnlyTargetedOpsAndPaths) {
  auto e = Loaded(DataRule(
      "write", "action = \"bandwidth\"\nbandwidth = { bytes_per_s = \"1 MiB\", burst = 4096 }\n"));
  const uint64_t mib = 1 << 20;
  EXPECT_EQ(e->Decide(Ctx(Op::kWrite, "logs/x.db", 0, mib)).delay.count(), 0) << "untargeted path";
  EXPECT_EQ(e->Decide(Ctx(Op::kRead, "data/x.db", 0, mib)).delay.count(), 0) << "untargeted op";
  EXPECT_TRUE(e->Decide(Ctx(Op::kRead, "data/x.db", 0, mib)).passes());
  EXPECT_GT(e->Decide(Ctx(Op::kWrite, "data/x.db", 0, mib)).delay, milliseconds(900));
}

// --- Stall and freeze ---

TEST(EngineActions, StallAndFreezeOnlyOnTheirOps) {
  auto e = Loaded(R"([[rule]]
ops = ["fsync"]
path = "db/**"
action = "stall"
stall = { timeout_s = 2 }
[[rule]]
ops = ["rename"]
action = "freeze"
)");
  for (const OpContext& c : {Ctx(Op::kWrite, "db/x"), Ctx(Op::kFsync, "tmp/x")}) {
    const Decision d = e->Decide(c);
    EXPECT_EQ(d.stall, nullptr);
    EXPECT_FALSE(d.freeze);
  }
  const Decision stalled = e->Decide(Ctx(Op::kFsync, "db/x"));
  ASSERT_NE(stalled.stall, nullptr);
  EXPECT_DOUBLE_EQ(stalled.stall->timeout_s, 2);
  EXPECT_FALSE(stalled.freeze) << "freeze is on rename only";
  EXPECT_EQ(stalled.outcome, nullptr);
  const Decision frozen = e->Decide(Ctx(Op::kRename, "db/x"));
  EXPECT_TRUE(frozen.freeze);
  EXPECT_EQ(frozen.stall, nullptr) << "stall is on fsync only";
  EXPECT_EQ(frozen.outcome, nullptr);
}

// --- Weighted and realistic errnos ---

TEST(EngineActions, WeightedErrnoOnlyOnItsOpAndNeverAZeroWeight) {
  auto e = Loaded(
      "[[rule]]\nops = [\"write\"]\naction = \"errno\"\nerrno = { EIO = 0, ENOSPC = 1, EDQUOT = 1 "
      "}\n");
  std::set<int> seen;
  for (int i = 0; i < 500; ++i) {
    seen.insert(Err(*e, Ctx(Op::kWrite)));
    EXPECT_EQ(Err(*e, Ctx(Op::kRead)), 0) << "untargeted op";
  }
  EXPECT_EQ(seen, (std::set<int>{ENOSPC, EDQUOT}));
}

TEST(EngineActions, RealisticErrnoOnlyOnItsOpsAndFromTheirLists) {
  auto e =
      Loaded("[[rule]]\nops = [\"unlink\", \"read\"]\naction = \"errno\"\nerrno = \"realistic\"\n");
  const std::set<int> remove = {EIO, EBUSY, EACCES, EPERM};
  std::set<int> seen;
  for (int i = 0; i < 500; ++i) {
    const int err = Err(*e, Ctx(Op::kUnlink));
    EXPECT_TRUE(remove.count(err)) << err;
    seen.insert(err);
    EXPECT_EQ(Err(*e, Ctx(Op::kRead)), EIO) << "a read can only fail with EIO";
    EXPECT_EQ(Err(*e, Ctx(Op::kRmdir)), 0) << "untargeted op";
    EXPECT_EQ(Err(*e, Ctx(Op::kWrite)), 0) << "untargeted op";
  }
  EXPECT_EQ(seen, remove) << "every realistic errno comes up";
}

}  // namespace
}  // namespace faultfs::engine
