// Loopback helpers for the harness's network tests: a node j stand-in that records the frames it
// receives (FrameSink), a node i stand-in that sends frames (FrameSource), and polling with a
// generous deadline instead of sleeping.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "faultfs/harness/wire.h"

namespace faultfs::harness::testing {

// Polls `condition` until it holds or `timeout` passes (generous: a loaded machine is slow).
inline bool WaitFor(const std::function<bool()>& condition,
                    std::chrono::milliseconds timeout = std::chrono::seconds(20)) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!condition()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return true;
}

inline sockaddr_in Loopback(uint16_t port) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return a;
}

// Waits up to `ms` for `fd` to be readable (data, EOF or error).
inline bool Readable(int fd, int ms) {
  pollfd p{fd, POLLIN, 0};
  return ::poll(&p, 1, ms) > 0;
}

// Listens on 127.0.0.1:0; every connection is read on a thread of its own, its frames recorded.
class FrameSink {
 public:
  struct Received {
    int connection = 0;
    nlohmann::json message;
    std::chrono::steady_clock::time_point at;
  };
  // `greeting`: bytes written to every new connection (to test the way back).
  explicit FrameSink(std::string greeting = "") : greeting_(std::move(greeting)) {
    listener_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a = Loopback(0);
    if (::bind(listener_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
        ::listen(listener_, 64) != 0)
      std::abort();
    socklen_t len = sizeof a;
    ::getsockname(listener_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    acceptor_ = std::thread([this] { AcceptLoop(); });
  }
  ~FrameSink() {
    stop_ = true;
    acceptor_.join();
    for (auto& t : readers_) t.join();
    ::close(listener_);
  }
  uint16_t port() const { return port_; }
  std::vector<Received> frames() const {
    std::lock_guard lock(mu_);
    return frames_;
  }
  size_t count() const { return frames().size(); }
  uint64_t bytes() const { return bytes_; }
  int connections() const { return connections_; }
  int ended() const { return ended_; }  // connections the proxy closed (EOF or reset)

 private:
  void AcceptLoop() {
    while (!stop_) {
      if (!Readable(listener_, 20)) continue;
      const int fd = ::accept(listener_, nullptr, nullptr);
      if (fd < 0) continue;
      const int id = connections_++;
      if (!greeting_.empty() && ::write(fd, greeting_.data(), greeting_.size()) < 0) std::abort();
      readers_.emplace_back([this, fd, id] { ReadLoop(fd, id); });
    }
  }
  void ReadLoop(int fd, int id) {
    FrameReader reader;
    char buffer[65536];
    while (!stop_) {
      if (!Readable(fd, 20)) continue;
      const ssize_t n = ::read(fd, buffer, sizeof buffer);
      if (n <= 0) break;
      bytes_ += static_cast<uint64_t>(n);
      reader.Add(std::string_view(buffer, static_cast<size_t>(n)));
      for (auto next = reader.Next(); next.ok() && *next; next = reader.Next()) {
        std::lock_guard lock(mu_);
        frames_.push_back({id, **next, std::chrono::steady_clock::now()});
      }
    }
    if (!stop_) ++ended_;
    ::close(fd);
  }

  std::string greeting_;
  int listener_ = -1;
  uint16_t port_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<int> connections_{0}, ended_{0};
  std::atomic<uint64_t> bytes_{0};
  mutable std::mutex mu_;
  std::vector<Received> frames_;
  std::thread acceptor_;
  std::vector<std::thread> readers_;  // the acceptor's alone until joined
};

// One connection to `port` (a proxy): sends frames, sees what comes back and whether it closed.
class FrameSource {
 public:
  explicit FrameSource(uint16_t port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a = Loopback(port);
    connected_ = ::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
    int one = 1;
    ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  }
  ~FrameSource() { ::close(fd_); }
  bool connected() const { return connected_; }
  bool Send(const nlohmann::json& message) { return SendBytes(EncodeFrame(message)); }
  bool SendBytes(const std::string& bytes) {
    return ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL) ==
           static_cast<ssize_t>(bytes.size());
  }
  // Bytes that came back within `ms` (empty on EOF or nothing).
  std::string Receive(int ms) {
    if (!Readable(fd_, ms)) return "";
    char buffer[4096];
    const ssize_t n = ::recv(fd_, buffer, sizeof buffer, 0);
    if (n <= 0) {
      closed_ = true;
      return "";
    }
    return std::string(buffer, static_cast<size_t>(n));
  }
  // True once the proxy closed the connection (EOF or reset), polled up to `timeout`.
  bool WaitClosed(std::chrono::milliseconds timeout = std::chrono::seconds(20)) {
    return WaitFor(
        [&] {
          if (!closed_) (void)Receive(5);
          return closed_;
        },
        timeout);
  }

 private:
  int fd_ = -1;
  bool connected_ = false;
  bool closed_ = false;
};

}  // namespace faultfs::harness::testing
