#include "fd_budget.h"

#include <spdlog/spdlog.h>
#include <sys/resource.h>

#include <algorithm>

#include "faultfs/core/mutex.h"
#include "faultfs/core/tree_read.h"

namespace faultfs::fs {

namespace {

// Until serving starts and measures them, the needs are taken to be this.
constexpr size_t kNeedsBeforeMeasuring = 128;
// Open files at or above this share of max_open() are "near the limit" (logged).
constexpr size_t kNearPercent = 90;
constexpr auto kWarnEvery = std::chrono::seconds(10);

size_t ReserveFor(size_t limit, size_t needs) {
  const size_t base = std::min(FdBudget::kMaxReserve, limit / FdBudget::kReserveDivisor);
  return std::min(limit, std::max(base, needs + FdBudget::kCacheFloor));
}

}  // namespace

FdBudget::FdBudget(size_t limit)
    : limit_(limit),
      needs_(kNeedsBeforeMeasuring),
      reserve_(ReserveFor(limit, kNeedsBeforeMeasuring)) {}

void FdBudget::SetNeeds(size_t fixed, size_t requests) {
  const size_t needs = fixed + requests * kPerRequest;
  needs_.store(needs, std::memory_order_relaxed);
  reserve_.store(ReserveFor(limit_, needs), std::memory_order_relaxed);
  spdlog::info(
      "descriptors: limit {}, {} held to serve, {} for requests in flight; up to {} open files "
      "and directories, beyond which opens fail with ENFILE",
      limit_, fixed, requests * kPerRequest, max_open());
}

size_t FdBudget::CacheRoom() const {
  const size_t taken = needs_.load(std::memory_order_relaxed) + open();
  return taken >= limit_ ? 0 : limit_ - taken;
}

bool FdBudget::TakeOpen() {
  size_t now = open_.load(std::memory_order_relaxed);
  do {
    if (now >= max_open()) {
      Warn(true);
      return false;
    }
  } while (!open_.compare_exchange_weak(now, now + 1, std::memory_order_relaxed));
  if ((now + 1) * 100 >= max_open() * kNearPercent) Warn(false);
  return true;
}

void FdBudget::Warn(bool refused) {
  MutexLock lock(warn_mu_);
  refused_since_warning_ += refused ? 1 : 0;
  const auto now = std::chrono::steady_clock::now();
  if (now - last_warning_ < kWarnEvery) return;
  last_warning_ = now;
  spdlog::warn(
      "descriptors: {} files and directories open through the mount, of at most {} (limit {}, "
      "{} kept for the daemon itself); {} opens refused with ENFILE since the last warning. Raise "
      "the limit (ulimit -n) for more",
      open(), max_open(), limit_, reserve(), refused_since_warning_);
  refused_since_warning_ = 0;
}

size_t FdBudget::CountOpenDescriptors() {
  auto entries = ReadDirAt("/proc/self/fd");
  if (!entries.ok()) return 0;
  return entries->empty() ? 0 : entries->size() - 1;  // not the descriptor reading the directory
}

size_t FdBudget::RaiseLimit() {
  struct rlimit lim {};
  if (getrlimit(RLIMIT_NOFILE, &lim) != 0) return 1024;
  if (lim.rlim_cur < lim.rlim_max) {
    lim.rlim_cur = lim.rlim_max;
    (void)setrlimit(RLIMIT_NOFILE, &lim);  // on failure the soft limit stays, and is used
    (void)getrlimit(RLIMIT_NOFILE, &lim);
  }
  return lim.rlim_cur == RLIM_INFINITY ? 1 << 20 : static_cast<size_t>(lim.rlim_cur);
}

}  // namespace faultfs::fs
