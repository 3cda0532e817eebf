#include "deferrer.h"

#include <linux/fuse.h>

#include "current_request.h"

namespace faultfs::fs {

namespace {
uint64_t UniqueOf(const std::vector<char>& request) {
  return reinterpret_cast<const fuse_in_header*>(request.data())->unique;
}
}  // namespace

Deferrer::Deferrer(fuse_session* session, unsigned executors) : session_(session) {
  timer_ = std::thread([this] { RunTimer(); });
  for (unsigned i = 0; i < executors; ++i) executors_.emplace_back([this] { RunExecutor(); });
}

Deferrer::~Deferrer() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  timer_cv_.notify_all();
  work_cv_.notify_all();
  timer_.join();
  for (auto& t : executors_) t.join();
}

void Deferrer::Defer(std::vector<char> request, engine::Decision decision, Clock::time_point when,
                     bool stall) {
  {
    std::lock_guard lock(mu_);
    saved_[UniqueOf(request)] = std::move(decision);
    saved_count_.store(saved_.size(), std::memory_order_release);
    timers_.push({when, seq_++, std::move(request), stall});
  }
  timer_cv_.notify_one();
}

std::optional<engine::Decision> Deferrer::TakeSaved(uint64_t unique) {
  if (saved_count_.load(std::memory_order_acquire) == 0) return std::nullopt;
  std::lock_guard lock(mu_);
  const auto it = saved_.find(unique);
  if (it == saved_.end()) return std::nullopt;
  engine::Decision d = std::move(it->second);
  saved_.erase(it);
  saved_count_.store(saved_.size(), std::memory_order_release);
  return d;
}

void Deferrer::ReleaseStalled() {
  {
    std::lock_guard lock(mu_);
    std::vector<Timed> keep;
    while (!timers_.empty()) {
      Timed t = timers_.top();
      timers_.pop();
      if (t.stall) {
        ready_.push_back(std::move(t.request));
      } else {
        keep.push_back(std::move(t));
      }
    }
    for (auto& t : keep) timers_.push(std::move(t));
  }
  work_cv_.notify_all();
  timer_cv_.notify_one();
}

size_t Deferrer::stalled() const {
  std::lock_guard lock(mu_);
  // priority_queue hides its container; count through a copy (rare: a status query).
  auto copy = timers_;
  size_t n = 0;
  for (; !copy.empty(); copy.pop()) n += copy.top().stall ? 1U : 0U;
  return n;
}

void Deferrer::Freeze() { frozen_.store(true, std::memory_order_release); }

void Deferrer::Thaw() {
  {
    std::lock_guard lock(mu_);
    frozen_.store(false, std::memory_order_release);
    for (auto& r : frozen_requests_) ready_.push_back(std::move(r));
    frozen_requests_.clear();
  }
  work_cv_.notify_all();
}

void Deferrer::HoldFrozen(std::vector<char> request, std::optional<engine::Decision> decision) {
  bool run_now = false;
  {
    std::lock_guard lock(mu_);
    if (decision) {
      saved_[UniqueOf(request)] = std::move(*decision);
      saved_count_.store(saved_.size(), std::memory_order_release);
    }
    run_now = !frozen_.load(std::memory_order_acquire);  // thawed meanwhile
    if (run_now) {
      ready_.push_back(std::move(request));
    } else {
      frozen_requests_.push_back(std::move(request));
    }
  }
  if (run_now) work_cv_.notify_one();
}

void Deferrer::Doom() {
  {
    std::lock_guard lock(mu_);
    for (; !timers_.empty(); timers_.pop()) ready_.push_back(timers_.top().request);
    for (auto& r : frozen_requests_) ready_.push_back(std::move(r));
    frozen_requests_.clear();
    frozen_.store(false, std::memory_order_release);
    for (const auto& r : ready_) doomed_.insert(UniqueOf(r));
    doomed_count_.store(doomed_.size(), std::memory_order_release);
    saved_.clear();  // a doomed request's rerun fails before it would look for its decision
    saved_count_.store(0, std::memory_order_release);
  }
  work_cv_.notify_all();
  timer_cv_.notify_one();
}

void Deferrer::DoomOne(uint64_t unique) {
  std::lock_guard lock(mu_);
  doomed_.insert(unique);
  doomed_count_.store(doomed_.size(), std::memory_order_release);
  saved_.erase(unique);
  saved_count_.store(saved_.size(), std::memory_order_release);
}

bool Deferrer::TakeDoomed(uint64_t unique) {
  if (doomed_count_.load(std::memory_order_acquire) == 0) return false;
  std::lock_guard lock(mu_);
  if (doomed_.erase(unique) == 0) return false;
  doomed_count_.store(doomed_.size(), std::memory_order_release);
  return true;
}

void Deferrer::RunTimer() {
  std::unique_lock lock(mu_);
  while (!stopping_) {
    if (timers_.empty()) {
      timer_cv_.wait(lock);
      continue;
    }
    const auto when = timers_.top().when;
    if (Clock::now() < when) {
      timer_cv_.wait_until(lock, when);
      continue;
    }
    ready_.push_back(timers_.top().request);
    timers_.pop();
    work_cv_.notify_one();
  }
}

void Deferrer::RunExecutor() {
  std::unique_lock lock(mu_);
  while (true) {
    work_cv_.wait(lock, [&] { return stopping_ || !ready_.empty(); });
    if (stopping_) return;
    std::vector<char> request = std::move(ready_.front());
    ready_.pop_front();
    lock.unlock();
    fuse_buf buf{};
    buf.mem = request.data();
    buf.size = request.size();
    {
      const CurrentRequest current(request.data(), request.size());
      fuse_session_process_buf(session_, &buf);
    }
    lock.lock();
  }
}

}  // namespace faultfs::fs
