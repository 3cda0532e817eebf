#include "lane.h"

#include "faultfs/core/mutex.h"

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
    MutexLock lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  for (auto& t : threads_) t.join();
}

bool WorkLane::Submit(std::function<void()> job) {
  {
    MutexLock lock(mu_);
    if (queue_.size() >= max_queued_) return false;
    queue_.push_back(std::move(job));
  }
  cv_.notify_one();
  return true;
}

void WorkLane::Run() {
  MutexLock lock(mu_);
  for (;;) {
    while (!stopping_ && queue_.empty()) cv_.wait(lock.native());
    if (stopping_) return;
    auto job = std::move(queue_.front());
    queue_.pop_front();
    lock.Unlock();
    job();
    lock.Lock();
  }
}

}  // namespace faultfs::control
