// Goal: the phi-accrual detector suspects a silent sender and not a regular one: phi grows with
// silence, stays low for a normal gap, grows slower for a jittery sender, stays finite, and forgets
// on reset.
#include "failure_detector.h"

#include <gtest/gtest.h>

#include <cmath>

namespace faultfs::harness::node {
namespace {

// Heartbeats every `interval` ms (plus `jitter` alternating), `count` of them from t = 0.
double Feed(PhiAccrualDetector& d, int count, double interval, double jitter = 0) {
  double t = 0;
  for (int i = 0; i < count; ++i) {
    d.Heartbeat(t);
    t += interval + (i % 2 == 0 ? jitter : -jitter);
  }
  return t - interval;  // the last heartbeat's time
}

TEST(PhiAccrual, NothingToSuspectBeforeTheFirstHeartbeat) {
  PhiAccrualDetector d(100, 50);
  EXPECT_FALSE(d.has_heartbeat());
  EXPECT_EQ(d.Phi(1e9), 0);
}

TEST(PhiAccrual, RegularHeartbeatsAreNotSuspectedAndSilenceIs) {
  PhiAccrualDetector d(100, 50);
  const double last = Feed(d, 50, 100);
  EXPECT_NEAR(d.mean_ms(), 100, 1);
  EXPECT_LT(d.Phi(last + 100), 1.0);  // a normal gap
  EXPECT_LT(d.Phi(last + 200), 8.0);  // one heartbeat late: not yet
  EXPECT_GT(d.Phi(last + 600), 8.0);  // six intervals of silence: suspected
  double previous = 0;
  for (double silence = 0; silence <= 2000; silence += 50) {
    const double phi = d.Phi(last + silence);
    EXPECT_GE(phi, previous) << "phi must not fall as silence grows (" << silence << " ms)";
    previous = phi;
  }
}

TEST(PhiAccrual, JitteryHeartbeatsAreSuspectedLater) {
  PhiAccrualDetector steady(100, 10);
  PhiAccrualDetector jittery(100, 10);
  const double a = Feed(steady, 100, 100);
  const double b = Feed(jittery, 100, 100, 60);
  EXPECT_GT(jittery.stddev_ms(), steady.stddev_ms());
  EXPECT_GT(steady.Phi(a + 300), jittery.Phi(b + 300));
}

TEST(PhiAccrual, LongSilenceGivesALargeFiniteValue) {
  PhiAccrualDetector d(100, 50);
  const double last = Feed(d, 10, 100);
  const double phi = d.Phi(last + 1e7);
  EXPECT_TRUE(std::isfinite(phi));
  EXPECT_GT(phi, 1000);
}

TEST(PhiAccrual, MinimumDeviationKeepsPerfectHeartbeatsFromHairTrigger) {
  PhiAccrualDetector d(100, 50);
  const double last = Feed(d, 100, 100);  // zero measured deviation
  EXPECT_NEAR(d.stddev_ms(), 50, 1e-9);
  EXPECT_LT(d.Phi(last + 150), 3.0);  // half an interval late is not an alarm
}

TEST(PhiAccrual, WindowForgetsOldGapsAndResetForgetsAll) {
  PhiAccrualDetector d(100, 1, /*window=*/10);
  double t = Feed(d, 20, 1000);                             // slow sender...
  for (int i = 1; i <= 20; ++i) d.Heartbeat(t + 10.0 * i);  // ...now fast
  t += 200;
  EXPECT_NEAR(d.mean_ms(), 10, 1);
  EXPECT_GT(d.Phi(t + 500), 8.0);
  d.Reset();
  EXPECT_FALSE(d.has_heartbeat());
  EXPECT_EQ(d.Phi(t + 500), 0);
}

}  // namespace
}  // namespace faultfs::harness::node
