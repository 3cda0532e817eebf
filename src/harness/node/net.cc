#include "net.h"

#include <algorithm>
#include <asio/buffer.hpp>
#include <asio/ip/address_v4.hpp>
#include <asio/write.hpp>
#include <charconv>

namespace faultfs::harness::node {
namespace {

constexpr int kFirstBackoffMs = 10;
constexpr int kMaxBackoffMs = 500;

std::vector<asio::const_buffer> Buffers(const std::vector<std::string>& frames) {
  std::vector<asio::const_buffer> buffers;
  buffers.reserve(frames.size());
  for (const auto& f : frames) buffers.emplace_back(asio::buffer(f));
  return buffers;
}

void SetNoDelay(asio::ip::tcp::socket& socket) {
  asio::error_code ignored;  // latency only: a socket without it still works
  socket.set_option(asio::ip::tcp::no_delay(true), ignored);
}

}  // namespace

Result<asio::ip::tcp::endpoint> ParseEndpoint(const std::string& address) {
  const size_t colon = address.rfind(':');
  if (colon == std::string::npos) return Status::Invalid("'" + address + "' is not host:port");
  asio::error_code ec;
  const auto ip = asio::ip::make_address_v4(address.substr(0, colon), ec);
  if (ec) return Status::Invalid("'" + address + "': not an IPv4 address");
  unsigned port = 0;
  const char* begin = address.data() + colon + 1;
  const char* end = address.data() + address.size();
  const auto [ptr, err] = std::from_chars(begin, end, port);
  if (err != std::errc() || ptr != end || port == 0 || port > 65535)
    return Status::Invalid("'" + address + "': not a port");
  return asio::ip::tcp::endpoint(ip, static_cast<uint16_t>(port));
}

Connection::Connection(asio::ip::tcp::socket socket, Handler handler)
    : socket_(std::move(socket)), handler_(std::move(handler)) {}

void Connection::Start() {
  SetNoDelay(socket_);
  ReadMore();
}

void Connection::ReadMore() {
  socket_.async_read_some(
      asio::buffer(buffer_), [self = shared_from_this()](asio::error_code ec, size_t n) {
        if (ec || !self->open_) {
          self->Close();
          return;
        }
        self->reader_.Add(std::string_view(self->buffer_.data(), n));
        for (;;) {
          auto message = self->reader_.Next();
          if (!message.ok()) {  // oversized or damaged: the stream is unusable from here
            self->Close();
            return;
          }
          if (!*message) break;
          self->handler_(self, **message);
          if (!self->open_) return;
        }
        self->ReadMore();
      });
}

void Connection::Send(std::string frame) {
  if (!open_) return;
  queued_bytes_ += frame.size();
  queue_.push_back(std::move(frame));
  if (queued_bytes_ > kMaxQueuedBytes) {
    Close();
    return;
  }
  if (writing_.empty()) WriteMore();
}

void Connection::WriteMore() {
  if (queue_.empty() || !open_) return;
  while (!queue_.empty()) {
    writing_.push_back(std::move(queue_.front()));
    queue_.pop_front();
  }
  asio::async_write(socket_, Buffers(writing_),
                    [self = shared_from_this()](asio::error_code ec, size_t) {
                      for (const auto& f : self->writing_) self->queued_bytes_ -= f.size();
                      self->writing_.clear();
                      if (ec) {
                        self->Close();
                        return;
                      }
                      self->WriteMore();
                    });
}

void Connection::Close() {
  if (!open_) return;
  open_ = false;
  asio::error_code ignored;
  socket_.shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
  socket_.close(ignored);
}

Result<std::unique_ptr<Listener>> Listener::Bind(asio::io_context& io, uint16_t port,
                                                 Connection::Handler handler) {
  std::unique_ptr<Listener> listener(new Listener(io, std::move(handler)));
  const asio::ip::tcp::endpoint endpoint(asio::ip::address_v4::loopback(), port);
  asio::error_code ec;
  listener->acceptor_.open(endpoint.protocol(), ec);
  if (!ec) listener->acceptor_.set_option(asio::ip::tcp::acceptor::reuse_address(true), ec);
  if (!ec) listener->acceptor_.bind(endpoint, ec);
  if (!ec) listener->acceptor_.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) return Status::FromErrno(ec.value(), "listening on 127.0.0.1:" + std::to_string(port));
  listener->Accept();
  return listener;
}

void Listener::Accept() {
  acceptor_.async_accept([this](asio::error_code ec, asio::ip::tcp::socket socket) {
    if (ec == asio::error::operation_aborted || !acceptor_.is_open()) return;
    if (!ec) {
      auto connection = std::make_shared<Connection>(std::move(socket), handler_);
      connection->Start();
      std::erase_if(connections_, [](const auto& c) { return c.expired(); });
      connections_.push_back(connection);
    }
    Accept();
  });
}

void Listener::Stop() {
  asio::error_code ignored;
  acceptor_.close(ignored);
  for (auto& weak : connections_) {
    if (auto c = weak.lock()) c->Close();
  }
  connections_.clear();
}

PeerLink::PeerLink(asio::io_context& io, asio::ip::tcp::endpoint endpoint)
    : io_(io), endpoint_(endpoint), socket_(io), retry_(io) {}

void PeerLink::Connect() {
  if (state_ == State::kStopped) return;
  state_ = State::kConnecting;
  socket_ = asio::ip::tcp::socket(io_);
  socket_.async_connect(endpoint_, [this, epoch = epoch_](asio::error_code ec) {
    if (epoch != epoch_ || state_ == State::kStopped) return;
    if (ec) {
      Broken();
      return;
    }
    state_ = State::kConnected;
    backoff_ms_ = 0;
    SetNoDelay(socket_);
    WatchForClose();
  });
}

void PeerLink::Broken() {
  ++epoch_;
  asio::error_code ignored;
  socket_.close(ignored);
  queue_.clear();
  writing_.reset();
  queued_bytes_ = 0;
  if (state_ == State::kStopped) return;
  state_ = State::kIdle;
  backoff_ms_ = backoff_ms_ == 0 ? kFirstBackoffMs : std::min(kMaxBackoffMs, backoff_ms_ * 2);
  retry_.expires_after(std::chrono::milliseconds(backoff_ms_));
  retry_.async_wait([this](asio::error_code ec) {
    if (!ec) Connect();
  });
}

void PeerLink::Send(std::string frame) {
  if (state_ != State::kConnected) return;  // a broken link drops: the protocol retries
  if (queued_bytes_ + frame.size() > kMaxQueuedBytes) return;
  queued_bytes_ += frame.size();
  queue_.push_back(std::move(frame));
  if (!writing_) WriteMore();
}

void PeerLink::WriteMore() {
  if (queue_.empty()) return;
  writing_ = std::make_shared<std::vector<std::string>>();
  while (!queue_.empty()) {
    writing_->push_back(std::move(queue_.front()));
    queue_.pop_front();
  }
  asio::async_write(socket_, Buffers(*writing_),
                    [this, epoch = epoch_, frames = writing_](asio::error_code ec, size_t) {
                      if (epoch != epoch_) return;
                      for (const auto& f : *frames) queued_bytes_ -= f.size();
                      writing_.reset();
                      if (ec) {
                        Broken();
                        return;
                      }
                      WriteMore();
                    });
}

void PeerLink::WatchForClose() {
  // Nothing is ever sent back on this link; a read only ends when the other side closes it
  // (a restarted peer, a proxy's reset_peer), which is when to reconnect.
  socket_.async_read_some(asio::buffer(discard_),
                          [this, epoch = epoch_](asio::error_code ec, size_t) {
                            if (epoch != epoch_ || state_ == State::kStopped) return;
                            if (ec) {
                              Broken();
                              return;
                            }
                            WatchForClose();
                          });
}

void PeerLink::Stop() {
  state_ = State::kStopped;
  ++epoch_;
  asio::error_code ignored;
  retry_.cancel();
  socket_.close(ignored);
}

}  // namespace faultfs::harness::node
