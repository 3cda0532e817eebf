#include "lane.h"

namespace faultfs::control {

LaneId LaneFor(const Command& command) {
  if (std::holds_alternative<ThawMount>(command) || std::holds_alternative<ReleaseStalled>(command))
    return LaneId::kUnblock;
  if (std::holds_alternative<GetStatus>(command)) return LaneId::kStatus;
  return LaneId::kGeneral;
}

WorkLane::WorkLane(unsigned threads, size_t max_queued) : max_queued_(max_queued) {
  for (unsigned i = 0; i < threads; ++i) threads_.emplace_back([this] { Run(); });
}

WorkLane::~WorkLane() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  for (auto& t : threads_) t.join();
}

bool WorkLane::Submit(std::function<void()> job) {
  {
    std::lock_guard lock(mu_);
    if (queue_.size() >= max_queued_) return false;
    queue_.push_back(std::move(job));
  }
  cv_.notify_one();
  return true;
}

void WorkLane::Run() {
  std::unique_lock lock(mu_);
  for (;;) {
    cv_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
    if (stopping_) return;
    auto job = std::move(queue_.front());
    queue_.pop_front();
    lock.unlock();
    job();
    lock.lock();
  }
}

}  // namespace faultfs::control
