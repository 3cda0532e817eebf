#include "failure_detector.h"

#include <algorithm>
#include <cmath>

namespace faultfs::harness::node {

PhiAccrualDetector::PhiAccrualDetector(double expected_interval_ms, double min_stddev_ms,
                                       size_t window)
    : expected_ms_(expected_interval_ms),
      min_stddev_ms_(min_stddev_ms),
      window_(std::max<size_t>(window, 2)) {}

void PhiAccrualDetector::Reset() {
  gaps_.clear();
  sum_ = sum_squares_ = 0;
  has_last_ = false;
}

void PhiAccrualDetector::Heartbeat(double now_ms) {
  if (!has_last_) {
    // Seed the window as Akka does: two gaps around the expected interval give a mean of
    // `expected` and a deviation of expected / 4 before anything has been measured.
    for (const double gap : {expected_ms_ - expected_ms_ / 4, expected_ms_ + expected_ms_ / 4}) {
      gaps_.push_back(gap);
      sum_ += gap;
      sum_squares_ += gap * gap;
    }
  } else {
    const double gap = std::max(0.0, now_ms - last_ms_);
    gaps_.push_back(gap);
    sum_ += gap;
    sum_squares_ += gap * gap;
    while (gaps_.size() > window_) {
      sum_ -= gaps_.front();
      sum_squares_ -= gaps_.front() * gaps_.front();
      gaps_.pop_front();
    }
  }
  last_ms_ = now_ms;
  has_last_ = true;
}

double PhiAccrualDetector::mean_ms() const {
  return gaps_.empty() ? expected_ms_ : sum_ / static_cast<double>(gaps_.size());
}

double PhiAccrualDetector::stddev_ms() const {
  if (gaps_.empty()) return min_stddev_ms_;
  const double n = static_cast<double>(gaps_.size());
  const double mean = sum_ / n;
  const double variance = std::max(0.0, sum_squares_ / n - mean * mean);
  return std::max(min_stddev_ms_, std::sqrt(variance));
}

double PhiAccrualDetector::Phi(double now_ms) const {
  if (!has_last_) return 0;
  const double y = (std::max(0.0, now_ms - last_ms_) - mean_ms()) / stddev_ms();
  // The normal tail by the logistic approximation Akka uses: P(later) = e / (1 + e) with
  // e = exp(-z), z = y (1.5976 + 0.070566 y^2). Then phi = -log10 P = log10(1 + exp(z)),
  // computed without overflow (a long silence gives a large, finite phi).
  const double z = y * (1.5976 + 0.070566 * y * y);
  const double softplus = z > 0 ? z + std::log1p(std::exp(-z)) : std::log1p(std::exp(z));
  return softplus / std::log(10.0);
}

}  // namespace faultfs::harness::node
