#include "node_cluster.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <thread>

#include "faultfs/core/loopback_port.h"
#include "faultfs/core/subprocess.h"
#include "faultfs/harness/wire.h"
#include "test_support.h"

namespace faultfs::harness::testing {

uint16_t FreeLoopbackPort() {
  static std::set<uint16_t> taken;
  auto port = PortForLater(taken);
  return port.ok() ? *port : 0;
}

double MonotonicMs() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<double>(ts.tv_sec) * 1e3 + static_cast<double>(ts.tv_nsec) / 1e6;
}

bool WaitFor(const std::function<bool()>& condition, double timeout_s) {
  const double deadline = MonotonicMs() + timeout_s * 1e3;
  for (;;) {
    if (condition()) return true;
    if (MonotonicMs() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

TestClient::TestClient(uint16_t port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(port);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    ::close(fd);
    return;
  }
  int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  fd_.reset(fd);
}

bool TestClient::SendOnly(const nlohmann::json& request) {
  if (!fd_.valid()) return false;
  const std::string frame = EncodeFrame(request);
  size_t done = 0;
  while (done < frame.size()) {
    const ssize_t n = ::send(fd_.get(), frame.data() + done, frame.size() - done, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    done += static_cast<size_t>(n);
  }
  return true;
}

std::optional<nlohmann::json> TestClient::Receive(int64_t req, double timeout_s) {
  const double deadline = MonotonicMs() + timeout_s * 1e3;
  FrameReader reader;
  reader.Add(buffered_);
  buffered_.clear();
  while (fd_.valid()) {
    for (;;) {
      auto next = reader.Next();
      if (!next.ok() || !*next) break;
      const nlohmann::json& m = **next;
      if (m.value("t", "") == "c_reply" && m.value("req", int64_t{-1}) == req) {
        // Keep what arrived after it for the next call.
        for (;;) {
          auto rest = reader.NextPayload();
          if (!rest.ok() || !*rest) break;
          buffered_ += FramePayload(**rest);
        }
        return m;
      }
    }
    const double left = deadline - MonotonicMs();
    if (left <= 0) return std::nullopt;
    pollfd p{fd_.get(), POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left) + 1) <= 0) continue;
    char buf[65536];
    const ssize_t n = ::recv(fd_.get(), buf, sizeof(buf), 0);
    if (n <= 0) {
      fd_.reset();
      return std::nullopt;
    }
    reader.Add(std::string_view(buf, static_cast<size_t>(n)));
  }
  return std::nullopt;
}

std::optional<nlohmann::json> TestClient::Call(const nlohmann::json& request, double timeout_s) {
  if (!SendOnly(request)) return std::nullopt;
  return Receive(request.at("req").get<int64_t>(), timeout_s);
}

std::optional<nlohmann::json> TestClient::Append(int64_t client, int64_t req,
                                                 const std::string& value, double timeout_s) {
  const nlohmann::json m = {{"t", "c_append"},
                            {"client", client},
                            {"req", req},
                            {"value", nlohmann::json::binary({value.begin(), value.end()})}};
  return Call(m, timeout_s);
}

std::optional<nlohmann::json> TestClient::Read(int64_t client, int64_t req, uint64_t index,
                                               double timeout_s) {
  return Call({{"t", "c_read"}, {"client", client}, {"req", req}, {"index", index}}, timeout_s);
}

std::string ReplyValue(const nlohmann::json& reply) {
  const auto it = reply.find("value");
  if (it == reply.end()) return {};
  if (it->is_binary()) return std::string(it->get_binary().begin(), it->get_binary().end());
  if (it->is_string()) return it->get<std::string>();
  return {};
}

}  // namespace faultfs::harness::testing
