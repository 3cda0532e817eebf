#include "worker.h"

#include <algorithm>
#include <asio/redirect_error.hpp>
#include <asio/use_awaitable.hpp>
#include <utility>

namespace faultfs::harness::client {

using Clock = std::chrono::steady_clock;

namespace {

// A reply's value as bytes, whether the node sent a MessagePack string or bin.
std::optional<std::string> ReplyValue(const nlohmann::json& reply) {
  if (!reply.contains("value")) return std::nullopt;
  const nlohmann::json& v = reply["value"];
  if (v.is_string()) return v.get<std::string>();
  if (v.is_binary()) return std::string(v.get_binary().begin(), v.get_binary().end());
  return std::nullopt;
}

std::optional<int64_t> ReplyIndex(const nlohmann::json& reply) {
  if (!reply.contains("index") || !reply["index"].is_number_integer()) return std::nullopt;
  const int64_t index = reply["index"].get<int64_t>();
  if (index < 1) return std::nullopt;
  return index;
}

}  // namespace

Worker::Worker(std::shared_ptr<Clients::Shared> shared, int id)
    : shared_(std::move(shared)),
      channel_(shared_->strand, shared_->nodes),
      rng_(DeriveSeed(shared_->options.seed, "client/" + std::to_string(id))),
      process_(id),
      target_(rng_.Below(shared_->nodes.size())) {}

asio::awaitable<void> Worker::Run() {
  while (!shared_->stop) {
    const bool read = rng_.Unit() < shared_->options.read_probability;
    std::optional<std::pair<int64_t, std::string>> acked;
    if (read) acked = shared_->PickAcknowledged(rng_.Next());
    if (acked)
      co_await Read(acked->first);
    else
      co_await Append();
  }
  channel_.CloseAll();
}

HistoryEvent Worker::Event(OpType type, OpF f) const {
  HistoryEvent e;
  e.type = type;
  e.f = f;
  e.process = process_;
  return e;
}

void Worker::RecordInvoke(const HistoryEvent& invoke) {
  if (std::exchange(fresh_process_, false))
    shared_->Count([](ClientCounters& c) { ++c.processes; });
  shared_->Record(invoke);
}

void Worker::NewProcess() {
  process_ += shared_->options.processes;
  req_ = 0;  // the new process is a new client: its reqs start afresh
  fresh_process_ = true;
}

std::string Worker::RandomText() {
  static constexpr char kAlphabet[] =
      "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
  std::string text(shared_->options.value_text_bytes, 'a');
  for (char& c : text) c = kAlphabet[rng_.Below(sizeof kAlphabet - 1)];
  return text;
}

asio::awaitable<void> Worker::Append() {
  const int64_t req = ++req_;
  HistoryEvent invoke = Event(OpType::kInvoke, OpF::kAppend);
  invoke.value = MakeValue(process_, req, RandomText());
  RecordInvoke(invoke);
  nlohmann::json request = {
      {"t", "c_append"}, {"client", process_}, {"req", req}, {"value", invoke.value}};
  if (shared_->options.cluster != 0) request["cluster"] = shared_->options.cluster;
  const Outcome outcome = co_await Attempts(request, /*is_read=*/false);
  HistoryEvent end = invoke;
  if (outcome.ok) {
    end.type = OpType::kOk;
    end.log_index = *ReplyIndex(outcome.reply);
    shared_->Acknowledge(end.log_index, end.value);
  } else {
    end.type = outcome.maybe_applied ? OpType::kInfo : OpType::kFail;
    end.error = outcome.error;
  }
  shared_->Record(end);
  if (end.type == OpType::kInfo) NewProcess();
}

asio::awaitable<void> Worker::Read(int64_t index) {
  HistoryEvent invoke = Event(OpType::kInvoke, OpF::kRead);
  invoke.log_index = index;
  RecordInvoke(invoke);
  nlohmann::json request = {
      {"t", "c_read"}, {"client", process_}, {"req", ++req_}, {"index", index}};
  if (shared_->options.cluster != 0) request["cluster"] = shared_->options.cluster;
  const Outcome outcome = co_await Attempts(request, /*is_read=*/true);
  HistoryEvent end = invoke;
  if (outcome.ok) {
    end.type = OpType::kOk;
    end.value = *ReplyValue(outcome.reply);
    if (!VerifyValue(end.value)) shared_->Count([](ClientCounters& c) { ++c.damaged_values; });
  } else {
    end.type = OpType::kFail;  // a read changes nothing: not knowing its answer is a failure
    end.error = outcome.error;
  }
  shared_->Record(end);
}

asio::awaitable<Worker::Outcome> Worker::Attempts(const nlohmann::json& request, bool is_read) {
  const ClientOptions& o = shared_->options;
  const Clock::time_point deadline = Clock::now() + o.op_timeout;
  Outcome so_far;
  for (int attempt = 0;; ++attempt) {
    const auto left = std::max(Clock::duration::zero(), deadline - Clock::now());
    const auto timeout = std::min<std::chrono::nanoseconds>(o.attempt_timeout, left);
    const AttemptResult result = co_await channel_.Request(target_, request, timeout);
    if (auto done = Judge(result, is_read, so_far)) co_return *done;
    const auto delay = BackoffDelay(o.backoff, attempt, rng_.Next());
    if (shared_->stop || Clock::now() + delay >= deadline) co_return so_far;
    shared_->Count([](ClientCounters& c) { ++c.retries; });
    co_await Sleep(delay);
    if (shared_->stop) co_return so_far;
  }
}

std::optional<Worker::Outcome> Worker::Judge(const AttemptResult& result, bool is_read,
                                             Outcome& so_far) {
  using Kind = AttemptResult::Kind;
  if (result.kind != Kind::kReply) {
    so_far.maybe_applied = so_far.maybe_applied || (result.sent && !is_read);
    so_far.error = result.kind == Kind::kTimeout  ? "timeout"
                   : result.kind == Kind::kBroken ? "broken"
                                                  : "unreachable";
    shared_->Count(
        [&](ClientCounters& c) { ++(result.kind == Kind::kTimeout ? c.timeouts : c.broken); });
    NextNode();
    return std::nullopt;
  }
  const nlohmann::json& reply = result.reply;
  const std::string status = reply.value("status", "");
  const bool well_formed = is_read ? ReplyValue(reply).has_value() : ReplyIndex(reply).has_value();
  if (status == "ok" && well_formed) return Outcome{true, reply, false, ""};
  if (status == "busy") {  // refused at once: nothing was queued
    shared_->Count([](ClientCounters& c) { ++c.busy; });
  } else if (status == "not_leader") {  // refused: only a leader appends
    shared_->Count([](ClientCounters& c) { ++c.not_leader; });
    FollowHint(reply);
  } else if (status == "not_committed" && is_read) {
    shared_->Count([](ClientCounters& c) { ++c.not_committed; });
  } else {  // error, or a reply we cannot use: the node may have done something
    shared_->Count([](ClientCounters& c) { ++c.errors; });
    so_far.maybe_applied = so_far.maybe_applied || !is_read;
    NextNode();
  }
  so_far.error = status.empty() ? "malformed reply" : status;
  return std::nullopt;
}

void Worker::FollowHint(const nlohmann::json& reply) {
  const size_t nodes = shared_->nodes.size();
  if (reply.contains("leader") && reply["leader"].is_number_integer()) {
    const int64_t leader = reply["leader"].get<int64_t>();
    if (leader >= 0 && static_cast<size_t>(leader) < nodes &&
        static_cast<size_t>(leader) != target_) {
      target_ = static_cast<size_t>(leader);
      return;
    }
  }
  NextNode();  // no usable hint: another node
}

asio::awaitable<void> Worker::Sleep(std::chrono::nanoseconds delay) {
  asio::steady_timer timer(shared_->strand, delay);
  shared_->sleepers.push_back(&timer);
  asio::error_code ec;
  co_await timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
  std::erase(shared_->sleepers, &timer);
}

}  // namespace faultfs::harness::client
