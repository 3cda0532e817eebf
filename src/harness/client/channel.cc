#include "channel.h"

#include <asio/redirect_error.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/write.hpp>

namespace faultfs::harness::client {

using asio::ip::tcp;

namespace {
constexpr auto kAwait = asio::use_awaitable;

// Closes the socket when the time is up, which ends whatever waits on it. `done` keeps an expiry
// already queued from closing the socket of a later request.
struct Watchdog {
  std::shared_ptr<tcp::socket> socket;
  bool done = false;
  bool fired = false;
};
}  // namespace

Channel::Channel(Strand strand, std::vector<tcp::endpoint> nodes)
    : strand_(std::move(strand)), nodes_(std::move(nodes)), connections_(nodes_.size()) {}

void Channel::Reset(Connection& c) {
  if (c.socket) {
    asio::error_code ignored;
    c.socket->close(ignored);
  }
  c.socket.reset();
  c.reader = FrameReader();
}

void Channel::CloseAll() {
  for (Connection& c : connections_) Reset(c);
}

asio::awaitable<AttemptResult> Channel::Request(size_t node, const nlohmann::json& request,
                                                std::chrono::nanoseconds timeout) {
  Connection& c = connections_.at(node);
  const bool fresh = !c.socket;
  if (fresh) c.socket = std::make_shared<tcp::socket>(strand_);
  auto watchdog = std::make_shared<Watchdog>(Watchdog{c.socket});
  asio::steady_timer timer(strand_, timeout);
  timer.async_wait([watchdog](const asio::error_code& ec) {
    if (ec || watchdog->done) return;
    watchdog->fired = true;
    asio::error_code ignored;
    watchdog->socket->close(ignored);
  });
  AttemptResult result;
  asio::error_code ec;
  if (fresh) co_await c.socket->async_connect(nodes_[node], asio::redirect_error(kAwait, ec));
  if (ec) {
    result.kind =
        watchdog->fired ? AttemptResult::Kind::kTimeout : AttemptResult::Kind::kNoConnection;
  } else {
    c.socket->set_option(tcp::no_delay(true), ec);
    result = co_await Exchange(c, request);
    if (result.kind != AttemptResult::Kind::kReply && watchdog->fired)
      result.kind = AttemptResult::Kind::kTimeout;
  }
  watchdog->done = true;
  timer.cancel();
  if (result.kind != AttemptResult::Kind::kReply) Reset(c);
  co_return result;
}

asio::awaitable<AttemptResult> Channel::Exchange(Connection& c, const nlohmann::json& request) {
  AttemptResult result;
  result.kind = AttemptResult::Kind::kBroken;
  result.sent = true;  // from the first byte written on, the node may act on it
  const std::string frame = EncodeFrame(request);
  asio::error_code ec;
  co_await asio::async_write(*c.socket, asio::buffer(frame), asio::redirect_error(kAwait, ec));
  if (ec) co_return result;
  std::string buffer(size_t{16} * 1024, '\0');
  for (;;) {
    for (;;) {
      auto next = c.reader.Next();
      if (!next.ok()) co_return result;  // a damaged frame: the stream is unusable
      if (!*next) break;
      const nlohmann::json& reply = **next;
      if (reply.value("t", "") == "c_reply" && reply.contains("req") &&
          reply["req"] == request["req"]) {
        result.kind = AttemptResult::Kind::kReply;
        result.reply = reply;
        co_return result;
      }  // else a reply to something earlier on this connection: not ours
    }
    const size_t n =
        co_await c.socket->async_read_some(asio::buffer(buffer), asio::redirect_error(kAwait, ec));
    if (ec) co_return result;
    c.reader.Add(std::string_view(buffer.data(), n));
  }
}

}  // namespace faultfs::harness::client
