#include "deferrer.h"

#include <linux/fuse.h>

#include <algorithm>
#include <csignal>
#include <cstdlib>
#include <fstream>
#include <string>

#include "current_request.h"
#include "faultfs/core/mutex.h"

namespace faultfs::fs {

namespace {

const fuse_in_header& HeaderOf(const std::vector<char>& request) {
  return *reinterpret_cast<const fuse_in_header*>(request.data());
}
uint64_t UniqueOf(const std::vector<char>& request) { return HeaderOf(request).unique; }

// The decision an interrupted request reruns with: it fails with EINTR, as FUSE expects of an
// interrupted request, and the op does not run (its caller is dying and will not see it).
engine::Decision InterruptedDecision() {
  static const policy::Rule kInterrupted = [] {
    policy::Rule r;
    r.id = "interrupted";
    r.action = policy::ErrnoAction{{{EINTR, 1.0}}, false};
    return r;
  }();
  engine::Decision d;
  d.outcome = &kInterrupted;
  d.err = EINTR;
  return d;
}

// Whether thread `tid` is being killed: a fatal signal puts SIGKILL among the pending signals of
// every thread of its process. A thread that is gone is not waiting for anything either, and one
// the daemon cannot see (pid 0: outside its pid namespace) cannot be checked, so its interrupted
// request is answered, as FUSE expects of interrupts.
bool Dying(pid_t tid) {
  if (tid <= 0) return true;
  std::ifstream status("/proc/" + std::to_string(tid) + "/status");
  if (!status) return true;
  for (std::string line; std::getline(status, line);) {
    if (line.rfind("SigPnd:", 0) != 0) continue;
    const uint64_t pending = std::strtoull(line.c_str() + 7, nullptr, 16);
    return (pending & (uint64_t{1} << (SIGKILL - 1))) != 0;
  }
  return false;
}

}  // namespace

Deferrer::Deferrer(fuse_session* session, unsigned executors) : session_(session) {
  timer_ = std::thread([this] { RunTimer(); });
  for (unsigned i = 0; i < executors; ++i) executors_.emplace_back([this] { RunExecutor(); });
}

Deferrer::~Deferrer() {
  {
    MutexLock lock(mu_);
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
    MutexLock lock(mu_);
    const uint64_t unique = UniqueOf(request);
    saved_[unique] = std::move(decision);
    saved_count_.store(saved_.size(), std::memory_order_release);
    HoldLocked(request);
    stalled_ += stall ? 1U : 0U;
    timers_.emplace(TimerKey{when, seq_++}, Timed{std::move(request), stall});
  }
  timer_cv_.notify_one();
}

std::optional<engine::Decision> Deferrer::TakeSaved(uint64_t unique) {
  if (saved_count_.load(std::memory_order_acquire) == 0) return std::nullopt;
  MutexLock lock(mu_);
  const auto it = saved_.find(unique);
  if (it == saved_.end()) return std::nullopt;
  engine::Decision d = std::move(it->second);
  saved_.erase(it);
  saved_count_.store(saved_.size(), std::memory_order_release);
  return d;
}

void Deferrer::ReleaseStalled() {
  {
    MutexLock lock(mu_);
    for (auto it = timers_.begin(); it != timers_.end();) {
      if (!it->second.stall) {
        ++it;
        continue;
      }
      ForgetHeldLocked(UniqueOf(it->second.request));
      ready_.push_back(std::move(it->second.request));
      it = timers_.erase(it);
    }
    stalled_ = 0;
  }
  work_cv_.notify_all();
  timer_cv_.notify_one();
}

size_t Deferrer::stalled() const {
  MutexLock lock(mu_);
  return stalled_;
}

size_t Deferrer::held_by_freeze() const {
  MutexLock lock(mu_);
  size_t held = 0;
  for (const auto& r : frozen_requests_) held += r.empty() ? 0U : 1U;  // empty: answered
  return held;
}

void Deferrer::Freeze() { frozen_.store(true, std::memory_order_release); }

void Deferrer::Thaw() {
  {
    MutexLock lock(mu_);
    frozen_.store(false, std::memory_order_release);
    for (auto& r : frozen_requests_) {
      if (r.empty()) continue;  // answered already: its caller was killed
      ForgetHeldLocked(UniqueOf(r));
      ready_.push_back(std::move(r));
    }
    frozen_requests_.clear();
  }
  work_cv_.notify_all();
}

void Deferrer::HoldFrozen(std::vector<char> request, std::optional<engine::Decision> decision) {
  bool run_now = false;
  bool watch = false;
  {
    MutexLock lock(mu_);
    const uint64_t unique = UniqueOf(request);
    if (decision) {
      saved_[unique] = std::move(*decision);
      saved_count_.store(saved_.size(), std::memory_order_release);
    }
    run_now = !frozen_.load(std::memory_order_acquire);  // thawed meanwhile
    if (run_now) {
      ready_.push_back(std::move(request));
    } else {
      HoldLocked(request);
      frozen_requests_.push_back(std::move(request));
      watch = watched_ > 0;
    }
  }
  if (run_now) work_cv_.notify_one();
  if (watch) timer_cv_.notify_one();
}

void Deferrer::Doom() {
  {
    MutexLock lock(mu_);
    for (auto& [key, t] : timers_) ready_.push_back(std::move(t.request));
    timers_.clear();
    for (auto& r : frozen_requests_) {
      if (!r.empty()) ready_.push_back(std::move(r));
    }
    frozen_requests_.clear();
    held_.clear();
    stalled_ = 0;
    watched_ = 0;
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
  MutexLock lock(mu_);
  doomed_.insert(unique);
  doomed_count_.store(doomed_.size(), std::memory_order_release);
  saved_.erase(unique);
  saved_count_.store(saved_.size(), std::memory_order_release);
}

bool Deferrer::TakeDoomed(uint64_t unique) {
  if (doomed_count_.load(std::memory_order_acquire) == 0) return false;
  MutexLock lock(mu_);
  if (doomed_.erase(unique) == 0) return false;
  doomed_count_.store(doomed_.size(), std::memory_order_release);
  return true;
}

void Deferrer::Observe(const char* request, size_t size) {
  if (size < sizeof(fuse_in_header) + sizeof(fuse_interrupt_in)) return;
  const auto* header = reinterpret_cast<const fuse_in_header*>(request);
  if (header->opcode != FUSE_INTERRUPT) return;
  Interrupt(reinterpret_cast<const fuse_interrupt_in*>(request + sizeof(fuse_in_header))->unique);
}

void Deferrer::Interrupt(uint64_t unique) {
  pid_t caller = 0;
  {
    MutexLock lock(mu_);
    const auto it = held_.find(unique);
    if (it == held_.end()) {  // not held here (libfuse deals with it), or not yet
      early_interrupts_.push_back(unique);
      if (early_interrupts_.size() > kEarlyInterrupts) early_interrupts_.pop_front();
      return;
    }
    caller = it->second.caller;
  }
  const bool dying = Dying(caller);  // reading /proc, outside the lock
  {
    MutexLock lock(mu_);
    const auto it = held_.find(unique);
    if (it == held_.end()) return;  // its time came meanwhile
    if (dying) {
      AnswerInterruptedLocked(unique);
    } else if (!it->second.watched) {
      it->second.watched = true;
      ++watched_;
    }
  }
  if (dying) work_cv_.notify_one();
  timer_cv_.notify_one();  // starts the checks of the watched
}

void Deferrer::HoldLocked(const std::vector<char>& request) {
  const uint64_t unique = UniqueOf(request);
  Held& held = held_[unique];
  held.caller = static_cast<pid_t>(HeaderOf(request).pid);
  const auto early = std::find(early_interrupts_.begin(), early_interrupts_.end(), unique);
  if (early == early_interrupts_.end()) return;
  early_interrupts_.erase(early);
  held.watched = true;  // checked at the next watch, within kWatchInterval
  ++watched_;
}

void Deferrer::ForgetHeldLocked(uint64_t unique) {
  const auto it = held_.find(unique);
  if (it == held_.end()) return;
  if (it->second.watched) --watched_;
  held_.erase(it);
}

void Deferrer::AnswerInterruptedLocked(uint64_t unique) {
  ForgetHeldLocked(unique);
  saved_[unique] = InterruptedDecision();
  saved_count_.store(saved_.size(), std::memory_order_release);
  doomed_.erase(unique);
  doomed_count_.store(doomed_.size(), std::memory_order_release);
  for (auto it = timers_.begin(); it != timers_.end(); ++it) {
    if (UniqueOf(it->second.request) != unique) continue;
    stalled_ -= it->second.stall ? 1U : 0U;
    ready_.push_back(std::move(it->second.request));
    timers_.erase(it);
    return;
  }
  // Held by a freeze: the copy moves out now, and Thaw() skips the emptied slot.
  for (auto& r : frozen_requests_) {
    if (!r.empty() && UniqueOf(r) == unique) {
      ready_.push_back(std::move(r));
      r.clear();
      return;
    }
  }
}

void Deferrer::CheckWatched() {
  std::vector<std::pair<uint64_t, pid_t>> watched;
  {
    MutexLock lock(mu_);
    for (const auto& [unique, h] : held_) {
      if (h.watched) watched.emplace_back(unique, h.caller);
    }
  }
  std::vector<uint64_t> dying;
  for (const auto& [unique, caller] : watched) {
    if (Dying(caller)) dying.push_back(unique);
  }
  if (dying.empty()) return;
  {
    MutexLock lock(mu_);
    for (uint64_t unique : dying) {
      if (held_.count(unique) != 0) AnswerInterruptedLocked(unique);
    }
  }
  work_cv_.notify_all();
}

void Deferrer::RunTimer() {
  MutexLock lock(mu_);
  auto next_check = Clock::now() + kWatchInterval;
  while (!stopping_) {
    const auto now = Clock::now();
    if (watched_ > 0 && now >= next_check) {
      lock.Unlock();
      CheckWatched();
      lock.Lock();
      next_check = Clock::now() + kWatchInterval;
      continue;
    }
    if (!timers_.empty() && timers_.begin()->first.first <= now) {
      auto first = timers_.begin();
      ForgetHeldLocked(UniqueOf(first->second.request));  // watched or not: it runs now
      stalled_ -= first->second.stall ? 1U : 0U;
      ready_.push_back(std::move(first->second.request));
      timers_.erase(first);
      work_cv_.notify_one();
      continue;
    }
    if (watched_ == 0) next_check = now + kWatchInterval;
    auto wake = watched_ > 0 ? next_check : Clock::time_point::max();
    if (!timers_.empty()) wake = std::min(wake, timers_.begin()->first.first);
    if (wake == Clock::time_point::max()) {
      timer_cv_.wait(lock.native());
    } else {
      timer_cv_.wait_until(lock.native(), wake);
    }
  }
}

void Deferrer::RunExecutor() {
  MutexLock lock(mu_);
  while (true) {
    while (!stopping_ && ready_.empty()) work_cv_.wait(lock.native());
    if (stopping_) return;
    std::vector<char> request = std::move(ready_.front());
    ready_.pop_front();
    lock.Unlock();
    fuse_buf buf{};
    buf.mem = request.data();
    buf.size = request.size();
    {
      const CurrentRequest current(request.data(), request.size());
      fuse_session_process_buf(session_, &buf);
    }
    lock.Lock();
  }
}

}  // namespace faultfs::fs
