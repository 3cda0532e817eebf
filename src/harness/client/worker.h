// One client worker: a sequence of Jepsen processes (a new one after each :info), one operation
// at a time, each retried with backoff until it ends (see client.h).
#pragma once

#include <asio/awaitable.hpp>
#include <memory>
#include <optional>
#include <string>

#include "channel.h"
#include "faultfs/core/random.h"
#include "shared.h"

namespace faultfs::harness::client {

class Worker {
 public:
  Worker(std::shared_ptr<Clients::Shared> shared, int id);
  asio::awaitable<void> Run();

 private:
  // How an operation's attempts ended.
  // Its implicit moves call nlohmann::json's, which are noexcept; the check reads them as throwing.
  // NOLINTNEXTLINE(bugprone-exception-escape)
  struct Outcome {
    bool ok = false;
    nlohmann::json reply;
    bool maybe_applied = false;  // a request went out without a definite answer
    std::string error;           // the last reason to retry
  };
  asio::awaitable<void> Append();
  asio::awaitable<void> Read(int64_t index);
  asio::awaitable<Outcome> Attempts(const nlohmann::json& request, bool is_read);
  // Looks at one attempt's result: an Outcome when the operation is over, else updates the
  // target, the reason and maybe_applied for the next attempt.
  std::optional<Outcome> Judge(const AttemptResult& result, bool is_read, Outcome& so_far);
  void FollowHint(const nlohmann::json& reply);
  void NextNode() { target_ = (target_ + 1) % shared_->nodes.size(); }
  asio::awaitable<void> Sleep(std::chrono::nanoseconds delay);
  std::string RandomText();
  HistoryEvent Event(OpType type, OpF f) const;
  void RecordInvoke(const HistoryEvent& invoke);  // counts the process when it is new
  void NewProcess();

  std::shared_ptr<Clients::Shared> shared_;
  Channel channel_;
  Rng rng_;
  int64_t process_;
  int64_t req_ = 0;
  bool fresh_process_ = true;  // has not invoked yet
  size_t target_;
};

}  // namespace faultfs::harness::client
