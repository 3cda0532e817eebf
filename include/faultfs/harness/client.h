// The harness's clients (docs/harness.md, "Clients"): logical Jepsen processes that append values
// to the replicated log and read back indexes that were acknowledged, over request/response TCP
// to the nodes' client ports (frames of c_append / c_read, answered by c_reply).
//
// Each of the `processes` workers runs one operation at a time. An operation is retried, with the
// same (client, req) so that the leader's dedup makes retries safe, on busy, not_leader, error,
// not_committed (reads), a timeout or a broken connection, after a capped exponential backoff with
// full jitter, to the leader hint if there is one, else to the next node. It ends:
//   :ok    with the reply (append: [index value]; read: the value, damaged or not);
//   :fail  when it certainly did not happen: every attempt was refused before it could apply
//          (busy, not_leader, no connection), or it is a read (reads change nothing);
//   :info  when an append may have happened (a request went out and no definite answer came back)
//          and its time ran out (op_timeout) or the clients were stopped. The worker then goes on
//          as a new process (process + processes, Jepsen's rule: a process never invokes again
//          after :info), which is also the `client` it names in its requests.
//
// Threading: the clients run on the asio::io_context they are given, in one strand; the context
// may be run by any number of threads. Every public method may be called from any thread.
#pragma once

#include <asio/io_context.hpp>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "faultfs/core/status.h"
#include "faultfs/harness/history.h"

namespace faultfs::harness {

// Capped exponential backoff with full jitter: before retry `attempt` (0 for the first retry) an
// operation sleeps uniformly in [0, min(cap, base * 2^attempt)].
struct BackoffPolicy {
  std::chrono::nanoseconds base = std::chrono::milliseconds(10);
  std::chrono::nanoseconds cap = std::chrono::milliseconds(500);
};
// min(cap, base * 2^attempt), without overflow for any attempt >= 0.
std::chrono::nanoseconds BackoffCeiling(const BackoffPolicy& policy, int attempt);
// A sleep uniform in [0, BackoffCeiling] drawn from 64 random bits.
std::chrono::nanoseconds BackoffDelay(const BackoffPolicy& policy, int attempt,
                                      uint64_t random_bits);

struct ClientOptions {
  std::vector<std::string> nodes;  // node id -> its client address "127.0.0.1:PORT"
  uint64_t seed = 0;               // the run's; each worker's draws: DeriveSeed(seed, "client/W")
  int processes = 4;
  std::chrono::steady_clock::time_point run_start = std::chrono::steady_clock::now();  // time 0
  std::chrono::milliseconds attempt_timeout{1000};  // one request's wait for its reply
  std::chrono::milliseconds op_timeout{5000};       // an operation's, over all its attempts
  BackoffPolicy backoff;
  double read_probability = 0.25;  // once something was acknowledged
  size_t value_text_bytes = 24;    // random text in each value (values stay well under 3 KiB)
  uint64_t cluster = 0;            // sent with every request (0: none); see NodeOptions::cluster
};

class Clients {
 public:
  // Errors: no nodes, an address that is not "IPv4:PORT", processes < 1.
  static Result<std::unique_ptr<Clients>> Start(asio::io_context& io, ClientOptions options);
  ~Clients();  // Stop(); waits for nothing: the io_context keeps what still runs alive
  Clients(const Clients&) = delete;
  Clients& operator=(const Clients&) = delete;

  // No new operations; each one under way ends after its current attempt (as :fail or :info).
  void Stop();
  // Waits until every worker has ended; false if `timeout` passed first.
  bool Wait(std::chrono::milliseconds timeout);
  // Snapshots; events in the order they happened, `index` their position.
  History history() const;
  ClientCounters counters() const;
  // Appends acknowledged so far (log index, value).
  std::vector<std::pair<int64_t, std::string>> acknowledged() const;

  struct Shared;  // what the workers share

 private:
  explicit Clients(std::shared_ptr<Shared> shared) : shared_(std::move(shared)) {}
  std::shared_ptr<Shared> shared_;
};

}  // namespace faultfs::harness
