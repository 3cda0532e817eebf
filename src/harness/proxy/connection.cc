#include "connection.h"

#include <algorithm>
#include <asio/connect.hpp>
#include <asio/redirect_error.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/write.hpp>

#include "faultfs/harness/wire.h"

namespace faultfs::harness::proxy {

using asio::ip::tcp;

namespace {
constexpr auto kAwait = asio::use_awaitable;
}  // namespace

Connection::Connection(std::shared_ptr<Proxy::Link> link, tcp::socket from_node)
    : link_(std::move(link)),
      from_node_(std::move(from_node)),
      to_node_(link_->strand()),
      wake_(link_->strand()),
      started_(Clock::now()) {}

void Connection::Start() { Spawn(link_->strand(), Run()); }

asio::awaitable<void> Connection::Run() {
  auto self = shared_from_this();
  asio::error_code ec;
  co_await to_node_.async_connect(link_->target(), asio::redirect_error(kAwait, ec));
  if (closed_) co_return;
  if (ec) {  // node j is down: node i sees its connection close and reconnects later
    link_->Count([](ProxyCounters& c) { ++c.connect_failures; });
    Close(CloseKind::kFin);
    co_return;
  }
  to_node_.set_option(tcp::no_delay(true), ec);
  from_node_.set_option(tcp::no_delay(true), ec);
  Spawn(link_->strand(), ReadFrames());
  Spawn(link_->strand(), CopyBack());
  co_await WriteLoop();
}

asio::awaitable<void> Connection::ReadFrames() {
  auto self = shared_from_this();
  FrameReader reader;
  std::string buffer(size_t{64} * 1024, '\0');
  while (!closed_) {
    asio::error_code ec;
    const size_t n =
        co_await from_node_.async_read_some(asio::buffer(buffer), asio::redirect_error(kAwait, ec));
    if (closed_) co_return;
    if (ec) {  // node i is gone: deliver what is queued, then close (WriteLoop)
      reader_done_ = true;
      Kick();
      co_return;
    }
    reader.Add(std::string_view(buffer.data(), n));
    for (;;) {
      auto payload = reader.NextPayload();
      if (!payload.ok()) {  // never delivered; the sender reconnects (docs/harness.md)
        link_->Count([](ProxyCounters& c) { ++c.bad_frames; });
        Close(CloseKind::kFin);
        co_return;
      }
      if (!*payload) break;
      Schedule(FramePayload(**payload), Clock::now());
    }
  }
}

void Connection::Schedule(std::string frame, Clock::time_point now) {
  const uint64_t seq = link_->NextFrameSeq();
  const FramePlan plan = PlanFrame(*link_->toxics(), now, seq, frame.size());
  // A hold that lasts would otherwise queue without bound: past the cap, frames are lost.
  const bool drop = plan.drop || queued_bytes_ + frame.size() > kMaxQueuedBytes;
  link_->Count([&](ProxyCounters& c) {
    ++c.frames_received;
    if (drop)
      ++c.frames_dropped;
    else
      ++c.frames_queued;
  });
  if (drop) return;
  queued_bytes_ += frame.size();
  Clock::time_point ready = now + plan.delay;
  if (plan.rate_kib_s > 0) {  // the wire carries one frame at a time
    wire_free_ = std::max(ready, wire_free_) + TransmitTime(frame.size(), plan.rate_kib_s);
    ready = wire_free_;
  }
  ready = std::max(ready, last_ready_);  // TCP keeps order, whatever the jitter drew
  if (plan.slices.size() <= 1) {
    queue_.push_back({std::move(frame), ready, true, true});
  } else {
    size_t offset = 0;
    for (size_t i = 0; i < plan.slices.size(); ++i) {
      if (i > 0) ready += plan.slice_delay;
      queue_.push_back(
          {frame.substr(offset, plan.slices[i]), ready, i == 0, i + 1 == plan.slices.size()});
      offset += plan.slices[i];
    }
  }
  ++frames_queued_;
  last_ready_ = ready;
  Kick();
}

asio::awaitable<void> Connection::CopyBack() {
  auto self = shared_from_this();
  std::string buffer(size_t{16} * 1024, '\0');
  while (!closed_) {
    asio::error_code ec;
    const size_t n =
        co_await to_node_.async_read_some(asio::buffer(buffer), asio::redirect_error(kAwait, ec));
    if (!closed_ && !ec)
      co_await asio::async_write(from_node_, asio::buffer(buffer.data(), n),
                                 asio::redirect_error(kAwait, ec));
    if (closed_) co_return;
    if (ec) {  // node j closed or broke the connection: so does the proxy, at once
      Close(CloseKind::kFin);
      co_return;
    }
    link_->Count([&](ProxyCounters& c) { c.bytes_backward += n; });
  }
}

bool Connection::CloseIfToxic(const ConnectionEffects& fx, Clock::time_point now) {
  std::optional<uint64_t> budget = LimitBudget(fx);
  const bool reset = fx.reset_at <= now;
  if (!(fx.down || reset || fx.close_at <= now || (budget && *budget == 0))) return false;
  link_->Count([](ProxyCounters& c) { ++c.connections_closed; });
  Close(reset ? CloseKind::kReset : CloseKind::kFin);
  return true;
}

std::optional<uint64_t> Connection::LimitBudget(const ConnectionEffects& fx) {
  std::optional<uint64_t> budget;
  for (const auto& limit : fx.limits) {
    const uint64_t base = limit_base_.try_emplace(limit.name, bytes_written_).first->second;
    const uint64_t used = bytes_written_ - base;
    const uint64_t allowed = static_cast<uint64_t>(limit.bytes);
    const uint64_t left = used >= allowed ? 0 : allowed - used;
    budget = budget ? std::min(*budget, left) : left;
  }
  return budget;
}

void Connection::MarkHeld() {
  uint64_t newly = 0;
  for (; held_marked_ < queue_.size(); ++held_marked_) {
    Chunk& chunk = queue_[held_marked_];
    if (chunk.frame_start && !chunk.held) ++newly;
    chunk.held = true;
  }
  if (newly > 0) link_->Count([&](ProxyCounters& c) { c.frames_held += newly; });
}

asio::awaitable<void> Connection::WriteLoop() {
  auto self = shared_from_this();
  while (!closed_) {
    const Clock::time_point now = Clock::now();
    const ConnectionEffects fx = EvaluateConnection(*link_->toxics(), now, started_);
    if (CloseIfToxic(fx, now)) co_return;
    Clock::time_point wake = std::min({fx.next_activation, fx.close_at, fx.reset_at});
    if (fx.hold) MarkHeld();
    if (!fx.hold && !queue_.empty()) {
      if (queue_.front().not_before <= now) {
        if (!co_await WriteHead(fx)) co_return;
        continue;
      }
      wake = std::min(wake, queue_.front().not_before);
    }
    if (reader_done_ && queue_.empty()) {
      Close(CloseKind::kFin);
      co_return;
    }
    asio::error_code ec;
    wake_.expires_at(wake);
    co_await wake_.async_wait(asio::redirect_error(kAwait, ec));
  }
}

// Writes the queue's first chunk to node j, cut short (and the connection closed) when a
// limit_data toxic runs out. False when the connection is closed.
asio::awaitable<bool> Connection::WriteHead(const ConnectionEffects& fx) {
  Chunk chunk = std::move(queue_.front());
  queue_.pop_front();
  queued_bytes_ -= chunk.bytes.size();
  if (held_marked_ > 0) --held_marked_;
  const std::optional<uint64_t> budget = LimitBudget(fx);
  const size_t size = budget ? std::min<size_t>(chunk.bytes.size(), *budget) : chunk.bytes.size();
  asio::error_code ec;
  co_await asio::async_write(to_node_, asio::buffer(chunk.bytes.data(), size),
                             asio::redirect_error(kAwait, ec));
  if (closed_) co_return false;
  bytes_written_ += size;
  const bool whole_frame_out = chunk.frame_end && size == chunk.bytes.size() && !ec;
  if (whole_frame_out) --frames_queued_;
  link_->Count([&](ProxyCounters& c) {
    c.bytes_forwarded += size;
    ++c.writes;
    if (whole_frame_out) {
      ++c.frames_forwarded;
      --c.frames_queued;
    }
  });
  if (ec || size < chunk.bytes.size()) {  // a frame cut short stays counted: Close discards it
    if (!ec) link_->Count([](ProxyCounters& c) { ++c.connections_closed; });
    Close(CloseKind::kFin);
    co_return false;
  }
  co_return true;
}

void Connection::Close(CloseKind kind) {
  if (closed_) return;
  closed_ = true;
  const uint64_t discarded = frames_queued_;  // counted first: whoever sees the close sees them
  frames_queued_ = 0;
  queued_bytes_ = 0;
  queue_.clear();
  link_->Count([&](ProxyCounters& c) {
    c.frames_discarded += discarded;
    c.frames_queued -= discarded;
  });
  asio::error_code ignored;
  if (kind == CloseKind::kReset) {  // linger 0: close sends RST, the peers see ECONNRESET
    from_node_.set_option(asio::socket_base::linger(true, 0), ignored);
    to_node_.set_option(asio::socket_base::linger(true, 0), ignored);
  }
  from_node_.close(ignored);
  to_node_.close(ignored);
  wake_.cancel();
}

}  // namespace faultfs::harness::proxy
