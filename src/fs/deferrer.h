// Deferred requests: delays, stalls and freezes without holding a worker.
//
// A request to defer is copied (its raw bytes), libfuse's request object is released without an
// answer, and the copy is fed back into libfuse when its time comes. The answer reaches the kernel
// by the request's unique id (the io_uring entry or /dev/fuse that delivered it is still waiting
// for exactly that id), and the rerun finds its saved decision here instead of deciding again.
// Executors run reruns; a request that blocks there (an fsync) does not hold up the transports.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <queue>
#include <set>
#include <thread>
#include <vector>

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
  // While frozen: keep until Thaw(); `decision`, if any, is what the rerun uses.
  void HoldFrozen(std::vector<char> request,
                  std::optional<engine::Decision> decision = std::nullopt);

  // A live crash: every held request (delayed, stalled, frozen) reruns now and is doomed, since
  // the world it was asked in is gone; the mount is thawed. TakeDoomed() says whether a request is
  // one of them (true once per request): it must fail, whenever it reruns, even after recovery.
  void Doom();
  void DoomOne(uint64_t unique);  // one request held since before a crash that has ended
  bool TakeDoomed(uint64_t unique);

 private:
  struct Timed {
    Clock::time_point when;
    uint64_t seq;  // ties keep arrival order
    std::vector<char> request;
    bool stall;
    bool operator>(const Timed& o) const { return when != o.when ? when > o.when : seq > o.seq; }
  };
  void RunTimer();
  void RunExecutor();
  void Enqueue(std::vector<char> request);

  fuse_session* const session_;
  mutable std::mutex mu_;
  std::condition_variable timer_cv_;
  std::condition_variable work_cv_;
  std::priority_queue<Timed, std::vector<Timed>, std::greater<>> timers_;
  std::deque<std::vector<char>> ready_;
  std::vector<std::vector<char>> frozen_requests_;
  std::map<uint64_t, engine::Decision> saved_;
  std::atomic<size_t> saved_count_{0};  // lets TakeSaved() skip the lock in the common case
  std::set<uint64_t> doomed_;
  std::atomic<size_t> doomed_count_{0};  // lets TakeDoomed() skip the lock in the common case
  uint64_t seq_ = 0;
  bool stopping_ = false;
  std::atomic<bool> frozen_{false};
  std::thread timer_;
  std::vector<std::thread> executors_;
};

}  // namespace faultfs::fs
