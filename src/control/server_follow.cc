// `events --follow`: a follower's bounded queue, filled by the ops that inject faults and
// drained by the server loop as fast as the follower reads.
#include <deque>

#include "faultfs/core/mutex.h"
#include "server_impl.h"

namespace faultfs::control {

void Server::Impl::Follow(Connection& c) {
  if (followers >= kMaxFollowers) {
    return Reply(c, ErrorLine("too many event followers (" + std::to_string(kMaxFollowers) +
                              "); try again later"));
  }
  ++followers;
  c.events = std::make_shared<EventQueue>();
  c.events->wake = wake.get();
  handler.SubscribeEvents([queue = c.events](const std::string& event) {
    MutexLock lock(queue->mu);
    if (queue->closed) return false;
    if (queue->lines.size() >= EventQueue::kMax) {
      ++queue->dropped;
    } else {
      queue->lines.push_back(event);
      if (queue->lines.size() == 1) Signal(queue->wake);
    }
    return true;
  });
  c.state = State::kFollowing;
  c.Queue(Dump({{"ok", true}, {"following", true}}));
  c.deadline = Clock::now() + options.idle_timeout;
  (void)Flush(c);
}

// Moves queued events to a follower's buffer, as far as it has room.
void Server::Impl::Pump(Connection& c) {
  uint64_t dropped = 0;
  std::deque<std::string> lines;
  size_t bytes = c.pending();
  {
    MutexLock lock(c.events->mu);
    while (!c.events->lines.empty() && bytes < kFollowerBuffer) {
      bytes += c.events->lines.front().size() + 1;
      lines.push_back(std::move(c.events->lines.front()));
      c.events->lines.pop_front();
    }
    if (bytes < kFollowerBuffer) dropped = std::exchange(c.events->dropped, 0);
  }
  // The follower learns it missed events (the file given with --events has them all).
  if (dropped > 0) c.Queue(Dump({{"dropped_events", dropped}}));
  for (const auto& l : lines) c.Queue(l);
  if (!c.flushed()) {
    if (!c.deadline) c.deadline = Clock::now() + options.idle_timeout;
    (void)Flush(c);
  }
}
}  // namespace faultfs::control
