// A stand-in for a node's client port in client tests: it answers each request frame with what a
// test's handler returns (nothing: no answer at all).
#pragma once

#include <functional>
#include <optional>

#include "loopback.h"

namespace faultfs::harness::testing {

class FakeNode {
 public:
  using Handler = std::function<std::optional<nlohmann::json>(const nlohmann::json& request)>;
  explicit FakeNode(Handler handler) : handler_(std::move(handler)) {
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
  ~FakeNode() {
    stop_ = true;
    acceptor_.join();
    for (auto& t : connections_) t.join();
    ::close(listener_);
  }
  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }
  int requests() const { return requests_; }

 private:
  void AcceptLoop() {
    while (!stop_) {
      if (!Readable(listener_, 20)) continue;
      const int fd = ::accept(listener_, nullptr, nullptr);
      if (fd >= 0) connections_.emplace_back([this, fd] { Serve(fd); });
    }
  }
  void Serve(int fd) {
    FrameReader reader;
    char buffer[65536];
    while (!stop_) {
      if (!Readable(fd, 20)) continue;
      const ssize_t n = ::read(fd, buffer, sizeof buffer);
      if (n <= 0) break;
      reader.Add(std::string_view(buffer, static_cast<size_t>(n)));
      for (auto next = reader.Next(); next.ok() && *next; next = reader.Next()) {
        ++requests_;
        std::optional<nlohmann::json> reply;
        {
          std::lock_guard lock(mu_);
          reply = handler_(**next);
        }
        if (!reply) continue;
        const std::string frame = EncodeFrame(*reply);
        if (::send(fd, frame.data(), frame.size(), MSG_NOSIGNAL) < 0) break;
      }
    }
    ::close(fd);
  }

  Handler handler_;
  std::mutex mu_;  // one handler call at a time: handlers keep state
  int listener_ = -1;
  uint16_t port_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<int> requests_{0};
  std::thread acceptor_;
  std::vector<std::thread> connections_;
};

}  // namespace faultfs::harness::testing
