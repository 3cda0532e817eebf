#include <asio/co_spawn.hpp>
#include <asio/post.hpp>
#include <charconv>
#include <cstdio>
#include <exception>

#include "faultfs/core/mutex.h"
#include "faultfs/harness/client.h"
#include "shared.h"
#include "worker.h"

namespace faultfs::harness {

using asio::ip::tcp;

namespace {

Result<tcp::endpoint> ParseAddress(const std::string& address) {
  const size_t colon = address.rfind(':');
  if (colon == std::string::npos)
    return Status::Invalid("client address '" + address + "' is not HOST:PORT");
  asio::error_code ec;
  const auto host = asio::ip::make_address(address.substr(0, colon), ec);
  uint16_t port = 0;
  const char* end = address.data() + address.size();
  auto [ptr, parse_ec] = std::from_chars(address.data() + colon + 1, end, port);
  if (ec || parse_ec != std::errc() || ptr != end || port == 0)
    return Status::Invalid("client address '" + address + "' is not HOST:PORT");
  return tcp::endpoint(host, port);
}

}  // namespace

int64_t Clients::Shared::Record(HistoryEvent event) {
  MutexLock lock(mu);
  event.index = static_cast<int64_t>(history.size());
  event.time_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
                      std::chrono::steady_clock::now() - options.run_start)
                      .count();
  history.push_back(std::move(event));
  return history.back().index;
}

void Clients::Shared::Acknowledge(int64_t index, const std::string& value) {
  MutexLock lock(mu);
  acknowledged.emplace_back(index, value);
}

std::optional<std::pair<int64_t, std::string>> Clients::Shared::PickAcknowledged(
    uint64_t random_bits) const {
  MutexLock lock(mu);
  if (acknowledged.empty()) return std::nullopt;
  // Half the reads go to the newest acknowledged values, as real workloads' do: damage to
  // recent writes is read soon, not once in a while.
  constexpr uint64_t kRecent = 64;
  const uint64_t n = acknowledged.size();
  if ((random_bits & 1) != 0 && n > kRecent)
    return acknowledged[n - 1 - (random_bits >> 1) % kRecent];
  return acknowledged[(random_bits >> 1) % n];
}

void Clients::Shared::WorkerEnded() {
  MutexLock lock(mu);
  --running;
  ended.notify_all();
}

Result<std::unique_ptr<Clients>> Clients::Start(asio::io_context& io, ClientOptions options) {
  if (options.nodes.empty()) return Status::Invalid("clients need at least one node address");
  if (options.processes < 1) return Status::Invalid("clients need at least one process");
  auto shared = std::make_shared<Shared>(io, std::move(options));
  for (const std::string& address : shared->options.nodes) {
    auto endpoint = ParseAddress(address);
    if (!endpoint.ok()) return endpoint.status();
    shared->nodes.push_back(*endpoint);
  }
  {
    MutexLock lock(shared->mu);  // (no worker runs yet; the lock keeps the rule simple)
    shared->running = shared->options.processes;
  }
  for (int id = 0; id < shared->options.processes; ++id) {
    auto worker = std::make_shared<client::Worker>(shared, id);
    asio::co_spawn(
        shared->strand, [worker]() { return worker->Run(); },
        [shared](const std::exception_ptr& e) {
          FAULTFS_CHECK(!e) << "a client worker threw";
          shared->WorkerEnded();
        });
  }
  return std::unique_ptr<Clients>(new Clients(std::move(shared)));
}

Clients::~Clients() {
  try {
    Stop();
  } catch (const std::exception& e) {  // asio::post: the strand could not take the stop
    std::fprintf(stderr, "faultfs harness clients: stopping: %s\n", e.what());
  }
}

void Clients::Stop() {
  shared_->stop = true;
  asio::post(shared_->strand, [shared = shared_] {
    for (asio::steady_timer* sleeper : shared->sleepers) sleeper->cancel();
  });
}

bool Clients::Wait(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  MutexLock lock(shared_->mu);
  while (shared_->running != 0) {
    if (shared_->ended.wait_until(lock.native(), deadline) == std::cv_status::timeout) {
      return shared_->running == 0;
    }
  }
  return true;
}

History Clients::history() const {
  MutexLock lock(shared_->mu);
  return shared_->history;
}

ClientCounters Clients::counters() const {
  MutexLock lock(shared_->mu);
  return shared_->counters;
}

std::vector<std::pair<int64_t, std::string>> Clients::acknowledged() const {
  MutexLock lock(shared_->mu);
  return shared_->acknowledged;
}

}  // namespace faultfs::harness
