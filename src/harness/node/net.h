// The node's sockets (Asio, one event loop thread). Every byte is a harness frame
// (faultfs/harness/wire.h); a frame that fails its checks closes the connection.
//
//  * Connection: an accepted socket. It reads frames and hands each message to its handler;
//    client connections also write replies. Peer connections only read: docs/harness.md has
//    messages travel one way per connection, replies going out on the replier's own link.
//  * Listener: accepts on 127.0.0.1:port.
//  * PeerLink: this node's one outgoing connection to a peer (through the proxy of that directed
//    link). Reconnects with capped exponential backoff; while it is down, messages are dropped
//    (Raft retries); a full send queue drops too, rather than grow without bound behind a
//    blackholed link.
#pragma once

#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/steady_timer.hpp>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "faultfs/core/status.h"
#include "faultfs/harness/wire.h"

namespace faultfs::harness::node {

inline constexpr size_t kMaxQueuedBytes = 16u << 20;

class Connection : public std::enable_shared_from_this<Connection> {
 public:
  using Handler = std::function<void(const std::shared_ptr<Connection>&, const nlohmann::json&)>;
  Connection(asio::ip::tcp::socket socket, Handler handler);
  void Start();
  // Queues a frame for writing (client connections). Dropped once closed; a queue past
  // kMaxQueuedBytes (a client that does not read) closes the connection.
  void Send(std::string frame);
  void Close();
  bool open() const { return open_; }

 private:
  void ReadMore();
  void WriteMore();

  asio::ip::tcp::socket socket_;
  Handler handler_;
  FrameReader reader_;
  std::vector<char> buffer_ = std::vector<char>(size_t{64} * 1024);
  std::deque<std::string> queue_;
  std::vector<std::string> writing_;
  size_t queued_bytes_ = 0;
  bool open_ = true;
};

class Listener {
 public:
  static Result<std::unique_ptr<Listener>> Bind(asio::io_context& io, uint16_t port,
                                                Connection::Handler handler);
  void Stop();

 private:
  Listener(asio::io_context& io, Connection::Handler handler)
      : acceptor_(io), handler_(std::move(handler)) {}
  void Accept();

  asio::ip::tcp::acceptor acceptor_;
  Connection::Handler handler_;
  std::vector<std::weak_ptr<Connection>> connections_;
};

class PeerLink {
 public:
  PeerLink(asio::io_context& io, asio::ip::tcp::endpoint endpoint);
  void Start() { Connect(); }
  void Send(std::string frame);
  void Stop();
  bool connected() const { return state_ == State::kConnected; }

 private:
  enum class State { kIdle, kConnecting, kConnected, kStopped };
  void Connect();
  void Broken();
  void WriteMore();
  void WatchForClose();

  asio::io_context& io_;
  asio::ip::tcp::endpoint endpoint_;
  asio::ip::tcp::socket socket_;
  asio::steady_timer retry_;
  State state_ = State::kIdle;
  uint64_t epoch_ = 0;  // bumped at each break: completions of an older socket are ignored
  std::deque<std::string> queue_;
  // The frames of the write in flight, shared with its completion so that a break (which
  // forgets them here) never frees bytes the socket may still be sending.
  std::shared_ptr<std::vector<std::string>> writing_;
  size_t queued_bytes_ = 0;
  int backoff_ms_ = 0;
  char discard_[256] = {};
};

// "host:port" (an IPv4 address) as an endpoint.
Result<asio::ip::tcp::endpoint> ParseEndpoint(const std::string& address);

}  // namespace faultfs::harness::node
