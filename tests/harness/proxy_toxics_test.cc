// Goal: what toxics decide is a pure function of the toxics, the time and the frame's number:
// start_after defers a toxic, each toxic draws from its own seeded stream, and a toxic's clock on
// a connection starts when both exist.
#include <gtest/gtest.h>

#include <set>

#include "toxics.h"

namespace faultfs::harness::proxy {
namespace {

using std::chrono::milliseconds;

TEST(ProxyToxics, StartAfterDefersEveryEffect) {
  const auto t0 = Clock::now();
  std::vector<ActiveToxic> toxics = {{Toxic::Down("d").After(100), t0, 1},
                                     {Toxic::Drop("x", 1.0).After(100), t0, 2}};
  const ConnectionEffects before = EvaluateConnection(toxics, t0 + milliseconds(99), t0);
  EXPECT_FALSE(before.down);
  EXPECT_EQ(before.next_activation, t0 + milliseconds(100));
  EXPECT_FALSE(PlanFrame(toxics, t0 + milliseconds(99), 0, 10).drop);
  EXPECT_TRUE(EvaluateConnection(toxics, t0 + milliseconds(100), t0).down);
  EXPECT_TRUE(PlanFrame(toxics, t0 + milliseconds(100), 0, 10).drop);
}

TEST(ProxyToxics, TimersStartWhenTheToxicMeetsTheConnection) {
  const auto t0 = Clock::now();
  std::vector<ActiveToxic> toxics = {{Toxic::Timeout("t", 50), t0, 1},
                                     {Toxic::ResetPeer("r", 80), t0, 2}};
  const ConnectionEffects old_conn = EvaluateConnection(toxics, t0, t0 - milliseconds(1000));
  EXPECT_TRUE(old_conn.hold);
  EXPECT_EQ(old_conn.close_at, t0 + milliseconds(50));
  EXPECT_EQ(old_conn.reset_at, t0 + milliseconds(80));
  const ConnectionEffects new_conn =
      EvaluateConnection(toxics, t0 + milliseconds(500), t0 + milliseconds(400));
  EXPECT_EQ(new_conn.close_at, t0 + milliseconds(450));
}

TEST(ProxyToxics, DrawsAreSeededPerToxicAndFrame) {
  const auto t0 = Clock::now();
  std::vector<ActiveToxic> one = {{Toxic::Latency("l", 100, 50), t0, 42}};
  std::vector<ActiveToxic> two = {{Toxic::Drop("other", 0.5), t0, 9},
                                  {Toxic::Latency("l", 100, 50), t0, 42}};
  std::set<int64_t> delays;
  for (uint64_t seq = 0; seq < 200; ++seq) {
    const FramePlan a = PlanFrame(one, t0, seq, 10);
    EXPECT_EQ(a.delay, PlanFrame(two, t0, seq, 10).delay) << "another toxic moved this one's draws";
    EXPECT_GE(a.delay, milliseconds(50));
    EXPECT_LE(a.delay, milliseconds(150));
    delays.insert(a.delay.count());
  }
  EXPECT_GT(delays.size(), 100u);  // jitter spreads
}

TEST(ProxyToxics, SlicesCoverTheFrameWithinTheirBounds) {
  std::vector<ActiveToxic> toxics = {{Toxic::Slicer("s", 100, 20, 5), Clock::now(), 3}};
  const FramePlan plan = PlanFrame(toxics, Clock::now(), 7, 1000);
  size_t total = 0;
  for (size_t i = 0; i < plan.slices.size(); ++i) {
    total += plan.slices[i];
    if (i + 1 < plan.slices.size()) {
      EXPECT_GE(plan.slices[i], 80u);
      EXPECT_LE(plan.slices[i], 120u);
    }
  }
  EXPECT_EQ(total, 1000u);
  EXPECT_EQ(plan.slice_delay, std::chrono::microseconds(5));
}

TEST(ProxyToxics, TransmitTimeFollowsTheRate) {
  EXPECT_EQ(TransmitTime(1024, 1), std::chrono::seconds(1));
  EXPECT_EQ(TransmitTime(512, 1024), std::chrono::nanoseconds(488281));  // 0.48828125 ms, truncated
}

}  // namespace
}  // namespace faultfs::harness::proxy
