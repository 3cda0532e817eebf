// The phi-accrual failure detector (Hayashibara et al., "The phi accrual failure detector",
// SRDS 2004), as Akka and Cassandra build it: the gaps between heartbeats are taken as normally
// distributed (mean and deviation of a sliding window); phi is -log10 of the probability that a
// heartbeat still comes after a silence this long. phi 8 means such a silence would happen about
// once in 10^8 gaps. Times are injected, so it is tested without clocks.
#pragma once

#include <cstddef>
#include <deque>

namespace faultfs::harness::node {

class PhiAccrualDetector {
 public:
  // `expected_interval_ms` seeds the window (a detector that has heard one heartbeat already has
  // an opinion); `min_stddev_ms` keeps perfectly regular heartbeats from making phi explode at
  // the first late one.
  PhiAccrualDetector(double expected_interval_ms, double min_stddev_ms, size_t window = 100);

  void Heartbeat(double now_ms);
  // Forgets every heartbeat (a new leader is a new sender).
  void Reset();
  bool has_heartbeat() const { return has_last_; }
  // phi at `now_ms`; 0 before the first heartbeat (nothing to suspect yet).
  double Phi(double now_ms) const;
  double mean_ms() const;
  double stddev_ms() const;

 private:
  double expected_ms_;
  double min_stddev_ms_;
  size_t window_;
  std::deque<double> gaps_;
  double sum_ = 0;
  double sum_squares_ = 0;
  double last_ms_ = 0;
  bool has_last_ = false;
};

}  // namespace faultfs::harness::node
