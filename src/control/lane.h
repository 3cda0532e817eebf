// Lanes: where control commands run, off the thread that serves the connections. Commands of one
// lane wait only for each other, so a stuck or slow command (a crash rolling back a big tree, a
// large policy compiling) never holds up thaw and release.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

#include "faultfs/control/protocol.h"
#include "faultfs/core/mutex.h"

namespace faultfs::control {

// Thaw and release unblock a mount; status tells whether it is stuck (it may wait for a crash in
// progress, so it has a lane of its own); everything else shares the general lane.
enum class LaneId { kUnblock, kStatus, kGeneral };
LaneId LaneFor(const Command& command);

class WorkLane {
 public:
  WorkLane(unsigned threads, size_t max_queued);
  ~WorkLane();  // waits for the running jobs; queued ones are dropped
  WorkLane(const WorkLane&) = delete;
  WorkLane& operator=(const WorkLane&) = delete;

  // Queues `job`; false (and `job` dropped) when max_queued jobs are already waiting.
  bool Submit(std::function<void()> job);

 private:
  void Run();

  const size_t max_queued_;
  Mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> queue_ FAULTFS_GUARDED_BY(mu_);
  bool stopping_ FAULTFS_GUARDED_BY(mu_) = false;
  std::vector<std::thread> threads_;
};

}  // namespace faultfs::control
