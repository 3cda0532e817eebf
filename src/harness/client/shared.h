// What the clients' workers share: the options, the history and counters (locked: the run reads
// them from its own thread), the acknowledged appends reads draw from, and the stop signal.
#pragma once

#include <asio/ip/tcp.hpp>
#include <asio/steady_timer.hpp>
#include <atomic>
#include <condition_variable>
#include <mutex>
#include <vector>

#include "channel.h"
#include "faultfs/core/mutex.h"
#include "faultfs/harness/client.h"

namespace faultfs::harness {

struct Clients::Shared {
  Shared(asio::io_context& io, ClientOptions opts)
      : options(std::move(opts)), strand(asio::make_strand(io)) {}

  // Appends the event at the current time; returns its index.
  int64_t Record(HistoryEvent event);
  template <typename F>
  void Count(F&& update) {
    MutexLock lock(mu);
    update(counters);
  }
  void Acknowledge(int64_t index, const std::string& value);
  // A uniformly drawn acknowledged append, if any.
  std::optional<std::pair<int64_t, std::string>> PickAcknowledged(uint64_t random_bits) const;
  void WorkerEnded();

  const ClientOptions options;
  std::vector<asio::ip::tcp::endpoint> nodes;
  client::Strand strand;
  std::atomic<bool> stop{false};
  std::vector<asio::steady_timer*> sleepers;  // strand: the workers' backoff timers, cut by Stop

  mutable Mutex mu;
  std::condition_variable ended;
  int running FAULTFS_GUARDED_BY(mu) = 0;
  History history FAULTFS_GUARDED_BY(mu);
  ClientCounters counters FAULTFS_GUARDED_BY(mu);
  std::vector<std::pair<int64_t, std::string>> acknowledged FAULTFS_GUARDED_BY(mu);
};

}  // namespace faultfs::harness
