// What a link's toxics do at a given moment: to a connection (hold it, close it, reset it) and to
// one frame (drop it, delay it, slice it). Pure functions of the toxics, the time and the frame's
// number on the link, so that the proxy's faults are replayable and testable without sockets.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "faultfs/harness/proxy.h"

namespace faultfs::harness::proxy {

using Clock = std::chrono::steady_clock;

struct ActiveToxic {
  Toxic toxic;
  Clock::time_point added;
  uint64_t seed = 0;  // DeriveSeed(run seed, "link i->j/<name>")
  Clock::time_point active_at() const {
    return added + std::chrono::milliseconds(toxic.start_after_ms);
  }
};

struct ConnectionEffects {
  bool down = false;
  bool hold = false;                                             // timeout or blackhole
  Clock::time_point close_at = Clock::time_point::max();         // timeout: closed (FIN) then
  Clock::time_point reset_at = Clock::time_point::max();         // reset_peer: reset (RST) then
  Clock::time_point next_activation = Clock::time_point::max();  // a toxic not active yet
  struct Limit {
    std::string name;
    int64_t bytes = 0;
  };
  std::vector<Limit> limits;  // active limit_data toxics
};

// The toxics' effect at `now` on a connection that started at `started`.
ConnectionEffects EvaluateConnection(const std::vector<ActiveToxic>& toxics, Clock::time_point now,
                                     Clock::time_point started);

struct FramePlan {
  bool drop = false;
  std::chrono::nanoseconds delay{0};  // latency toxics, summed
  int64_t rate_kib_s = 0;             // the slowest bandwidth toxic (0: none)
  std::vector<size_t> slices;         // slicer: sizes summing to the frame's (empty: one write)
  std::chrono::microseconds slice_delay{0};
};

// What the toxics active at `now` do to frame number `seq` of the link, `bytes` long.
FramePlan PlanFrame(const std::vector<ActiveToxic>& toxics, Clock::time_point now, uint64_t seq,
                    size_t bytes);

// How long `bytes` take at `kib_s` KiB/s.
std::chrono::nanoseconds TransmitTime(size_t bytes, int64_t kib_s);

}  // namespace faultfs::harness::proxy
