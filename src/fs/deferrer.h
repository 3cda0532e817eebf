// Deferred requests: delays, stalls and freezes without holding a worker.
//
// A request to defer is copied (its raw bytes), libfuse's request object is released without an
// answer, and the copy is fed back into libfuse when its time comes. The answer reaches the kernel
// by the request's unique id (the io_uring entry or /dev/fuse that delivered it is still waiting
// for exactly that id), and the rerun finds its saved decision here instead of deciding again.
// Executors run reruns; a request that blocks there (an fsync) does not hold up the transports.
//
// A held request keeps its caller in the kernel, where even SIGKILL cannot end the wait: a FUSE
// request that reached the daemon must be answered. So the kernel's INTERRUPT, sent when a held
// request's caller gets a signal, is watched for (Observe): if the caller is being killed, the
// request is answered at once with EINTR and does not run. After a signal the caller handles, it
// stays held (as on a disk, the handler runs when the op ends) and its caller is checked every
// kWatchInterval, since the kernel sends no second INTERRUPT when a SIGKILL follows.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <thread>
#include <vector>

#include "faultfs/core/mutex.h"
#include "faultfs/engine/engine.h"
#include "fuse_version.h"

namespace faultfs::fs {

class Deferrer {
 public:
  using Clock = std::chrono::steady_clock;
  Deferrer(fuse_session* session, unsigned executors);
  ~Deferrer();
  Deferrer(const Deferrer&) = delete;
  Deferrer& operator=(const Deferrer&) = delete;

  static constexpr std::chrono::milliseconds kWatchInterval{100};
  static constexpr size_t kEarlyInterrupts = 64;

  // Keeps a copy of `request` and reruns it at `when`; `stall` requests also rerun on Release().
  // `decision` is what the rerun uses (with its delay and stall already served).
  void Defer(std::vector<char> request, engine::Decision decision, Clock::time_point when,
             bool stall);
  // The saved decision of a rerun, or nullopt for a request seen for the first time.
  std::optional<engine::Decision> TakeSaved(uint64_t unique);

  void ReleaseStalled();  // every stalled request runs now; returns at once
  size_t stalled() const;
  void Freeze();
  void Thaw();  // every request held by the freeze runs now
  bool frozen() const { return frozen_.load(std::memory_order_acquire); }
  // Requests the freeze holds now (answered by Thaw(); `stalled()` counts the stall rules' only).
  size_t held_by_freeze() const;
  // While frozen: keep until Thaw(); `decision`, if any, is what the rerun uses.
  void HoldFrozen(std::vector<char> request,
                  std::optional<engine::Decision> decision = std::nullopt);

  // A live crash: every held request (delayed, stalled, frozen) reruns now and is doomed, since
  // the world it was asked in is gone; the mount is thawed. TakeDoomed() says whether a request is
  // one of them (true once per request): it must fail, whenever it reruns, even after recovery.
  void Doom();
  void DoomOne(uint64_t unique);  // one request held since before a crash that has ended
  bool TakeDoomed(uint64_t unique);

  // Sees every request read from /dev/fuse (where interrupts come, whatever the transport).
  void Observe(const char* request, size_t size);

 private:
  struct Timed {
    std::vector<char> request;
    bool stall;
  };
  using TimerKey = std::pair<Clock::time_point, uint64_t>;  // when, and a sequence for ties
  // A held request, wherever it is held: its caller (a thread id) and whether it is watched.
  struct Held {
    pid_t caller = 0;
    bool watched = false;
  };
  void RunTimer();
  void RunExecutor();
  void Interrupt(uint64_t unique);
  void CheckWatched();
  // Moves a held request to the executors, to be answered EINTR without running.
  void AnswerInterruptedLocked(uint64_t unique) FAULTFS_REQUIRES(mu_);
  // It is no longer held (runs now, or doomed).
  void ForgetHeldLocked(uint64_t unique) FAULTFS_REQUIRES(mu_);
  // Starts holding `request`: its caller is watched if an interrupt came first.
  void HoldLocked(const std::vector<char>& request) FAULTFS_REQUIRES(mu_);

  fuse_session* const session_;
  mutable Mutex mu_;
  std::condition_variable timer_cv_;
  std::condition_variable work_cv_;
  std::map<TimerKey, Timed> timers_ FAULTFS_GUARDED_BY(mu_);
  std::deque<std::vector<char>> ready_ FAULTFS_GUARDED_BY(mu_);
  std::vector<std::vector<char>> frozen_requests_ FAULTFS_GUARDED_BY(mu_);
  // Every request in timers_ or frozen_requests_, by unique.
  std::map<uint64_t, Held> held_ FAULTFS_GUARDED_BY(mu_);
  // Interrupts of requests not held (yet): one can come between a request's decision and its
  // hold, and the kernel sends it once. The last few are kept to be checked when held.
  std::deque<uint64_t> early_interrupts_ FAULTFS_GUARDED_BY(mu_);
  size_t stalled_ FAULTFS_GUARDED_BY(mu_) = 0;  // of timers_, those that are stalls
  size_t watched_ FAULTFS_GUARDED_BY(mu_) = 0;  // of held_, those whose callers are checked
  std::map<uint64_t, engine::Decision> saved_ FAULTFS_GUARDED_BY(mu_);
  std::atomic<size_t> saved_count_{0};  // lets TakeSaved() skip the lock in the common case
  std::set<uint64_t> doomed_ FAULTFS_GUARDED_BY(mu_);
  std::atomic<size_t> doomed_count_{0};  // lets TakeDoomed() skip the lock in the common case
  uint64_t seq_ FAULTFS_GUARDED_BY(mu_) = 0;
  bool stopping_ FAULTFS_GUARDED_BY(mu_) = false;
  std::atomic<bool> frozen_{false};
  std::thread timer_;
  std::vector<std::thread> executors_;
};

}  // namespace faultfs::fs
