#include "faultfs/control/server.h"

#include <fcntl.h>
#include <poll.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <list>
#include <mutex>
#include <thread>
#include <utility>

#include "faultfs/core/unique_fd.h"

namespace faultfs::control {

namespace {

Result<sockaddr_un> Address(const std::string& path) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.size() >= sizeof(addr.sun_path)) {
    return faultfs::Status::Invalid("control socket path too long (" + std::to_string(path.size()) + " bytes): " + path);
  }
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  return addr;
}

bool SendLine(int fd, const std::string& line) {
  std::string out = line + "\n";
  size_t sent = 0;
  while (sent < out.size()) {
    const ssize_t n = send(fd, out.data() + sent, out.size() - sent, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    sent += static_cast<size_t>(n);
  }
  return true;
}

// Reads one line (without '\n'); false on EOF, error, or a line longer than the limit.
bool ReadLine(int fd, std::string& buffer, std::string& line) {
  while (true) {
    const size_t nl = buffer.find('\n');
    if (nl != std::string::npos) {
      line = buffer.substr(0, nl);
      buffer.erase(0, nl + 1);
      return true;
    }
    if (buffer.size() > kMaxLineBytes) return false;
    char chunk[4096];
    const ssize_t n = recv(fd, chunk, sizeof(chunk), 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    buffer.append(chunk, static_cast<size_t>(n));
  }
}

nlohmann::json ErrorReply(const std::string& message) { return {{"ok", false}, {"error", message}}; }

// Event lines for one following client: filled by whoever injects a fault, drained by the
// client's thread, so a slow reader never slows an operation (past kMax lines, lines are dropped
// and counted).
struct EventQueue {
  static constexpr size_t kMax = 10000;
  std::mutex mu;
  std::condition_variable cv;
  std::deque<std::string> lines;
  uint64_t dropped = 0;
  bool closed = false;
};

}  // namespace

struct Server::Impl {
  Handler& handler;
  UniqueFd listener;
  int wake[2] = {-1, -1};  // a byte here stops the accept loop
  std::thread acceptor;
  std::mutex mu;
  struct Client {
    std::thread thread;
    std::shared_ptr<std::atomic<bool>> done = std::make_shared<std::atomic<bool>>(false);
  };
  std::list<Client> clients;
  std::list<int> client_fds;
  std::atomic<int> active{0};
  std::atomic<bool> stopping{false};

  explicit Impl(Handler& h) : handler(h) {}

  void Accept() {
    pollfd fds[2] = {{listener.get(), POLLIN, 0}, {wake[0], POLLIN, 0}};
    while (!stopping.load()) {
      if (poll(fds, 2, -1) < 0) continue;
      if (fds[1].revents != 0) return;
      if ((fds[0].revents & POLLIN) == 0) continue;
      UniqueFd client(accept4(listener.get(), nullptr, nullptr, SOCK_CLOEXEC));
      if (!client) continue;
      if (active.load() >= kMaxClients) {
        (void)SendLine(client.get(), ErrorReply("too many control clients").dump());
        continue;
      }
      ++active;
      std::lock_guard lock(mu);
      // Reap clients that have finished, so a long-lived daemon does not collect them.
      for (auto it = clients.begin(); it != clients.end();) {
        if (it->done->load()) {
          it->thread.join();
          it = clients.erase(it);
        } else {
          ++it;
        }
      }
      const int fd = client.release();
      client_fds.push_back(fd);
      Client& c = clients.emplace_back();
      c.thread = std::thread([this, fd, done = c.done] {
        Serve(fd);
        --active;
        done->store(true);
      });
    }
  }

  void Serve(int fd) {
    std::string buffer;
    std::string line;
    while (!stopping.load() && ReadLine(fd, buffer, line)) {
      auto command = ParseCommand(line);
      if (!command.ok()) {
        if (!SendLine(fd, ErrorReply(command.status().ToString()).dump())) break;
        continue;
      }
      if (const auto* tail = std::get_if<TailEvents>(&*command); tail != nullptr && tail->follow) {
        Follow(fd);
        break;
      }
      auto reply = handler.Handle(*command);
      nlohmann::json out = reply.ok() ? *reply : ErrorReply(reply.status().ToString());
      if (reply.ok()) out["ok"] = true;
      if (!SendLine(fd, out.dump())) break;
    }
    std::lock_guard lock(mu);
    client_fds.remove(fd);
    close(fd);
  }

  // Streams event lines until the client goes away or the server stops.
  void Follow(int fd) {
    auto queue = std::make_shared<EventQueue>();
    handler.SubscribeEvents([queue](const std::string& event) {
      std::lock_guard lock(queue->mu);
      if (queue->closed) return false;
      if (queue->lines.size() >= EventQueue::kMax) {
        ++queue->dropped;
      } else {
        queue->lines.push_back(event);
      }
      queue->cv.notify_one();
      return true;
    });
    if (!SendLine(fd, nlohmann::json({{"ok", true}, {"following", true}}).dump())) return;
    while (!stopping.load()) {
      std::deque<std::string> lines;
      uint64_t dropped = 0;
      {
        std::unique_lock lock(queue->mu);
        queue->cv.wait_for(lock, std::chrono::milliseconds(200), [&] { return !queue->lines.empty(); });
        lines.swap(queue->lines);
        dropped = std::exchange(queue->dropped, 0);
      }
      // The follower learns it missed events (the file given with --events has them all).
      if (dropped > 0 && !SendLine(fd, nlohmann::json({{"dropped_events", dropped}}).dump())) break;
      for (const auto& l : lines) {
        if (!SendLine(fd, l)) goto done;
      }
      // A client that closed its end is noticed here even when no event comes.
      pollfd p{fd, POLLIN, 0};
      if (poll(&p, 1, 0) > 0 && (p.revents & (POLLHUP | POLLERR | POLLIN))) {
        char c;
        if (recv(fd, &c, 1, MSG_DONTWAIT) <= 0) break;
      }
    }
  done:
    std::lock_guard lock(queue->mu);
    queue->closed = true;
  }
};

Server::Server(std::unique_ptr<Impl> impl, std::string path) : impl_(std::move(impl)), path_(std::move(path)) {}

Result<std::unique_ptr<Server>> Server::Start(const std::string& socket_path, Handler& handler) {
  auto addr = Address(socket_path);
  if (!addr.ok()) return addr.status();
  auto impl = std::make_unique<Impl>(handler);
  impl->listener.reset(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!impl->listener) return faultfs::Status::FromErrno(errno, "control socket");
  // A socket file left by a dead daemon is replaced; a live one is refused.
  UniqueFd probe(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (connect(probe.get(), reinterpret_cast<const sockaddr*>(&*addr), sizeof(*addr)) == 0) {
    return faultfs::Status::Invalid("control socket " + socket_path + " is in use by another daemon");
  }
  unlink(socket_path.c_str());
  const mode_t old = umask(0177);  // the socket is created 0600
  const int bound = bind(impl->listener.get(), reinterpret_cast<const sockaddr*>(&*addr), sizeof(*addr));
  umask(old);
  if (bound != 0) return faultfs::Status::FromErrno(errno, "binding control socket " + socket_path);
  if (listen(impl->listener.get(), 16) != 0) return faultfs::Status::FromErrno(errno, "listening on " + socket_path);
  if (pipe2(impl->wake, O_CLOEXEC) != 0) return faultfs::Status::FromErrno(errno, "control pipe");
  Impl* raw = impl.get();
  impl->acceptor = std::thread([raw] { raw->Accept(); });
  return std::unique_ptr<Server>(new Server(std::move(impl), socket_path));
}

Server::~Server() {
  impl_->stopping.store(true);
  (void)!write(impl_->wake[1], "x", 1);
  impl_->acceptor.join();
  {
    std::lock_guard lock(impl_->mu);
    for (int fd : impl_->client_fds) shutdown(fd, SHUT_RDWR);  // wakes clients blocked in recv
  }
  for (auto& c : impl_->clients) c.thread.join();
  close(impl_->wake[0]);
  close(impl_->wake[1]);
  unlink(path_.c_str());
}

Result<nlohmann::json> Request(const std::string& socket_path, const nlohmann::json& request,
                               const std::function<bool(const nlohmann::json&)>& more) {
  auto addr = Address(socket_path);
  if (!addr.ok()) return addr.status();
  UniqueFd fd(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (connect(fd.get(), reinterpret_cast<const sockaddr*>(&*addr), sizeof(*addr)) != 0) {
    return faultfs::Status::FromErrno(errno, "connecting to the control socket " + socket_path);
  }
  if (!SendLine(fd.get(), request.dump())) return faultfs::Status::FromErrno(EPIPE, "sending the request");
  std::string buffer;
  std::string line;
  if (!ReadLine(fd.get(), buffer, line)) return faultfs::Status::Invalid("the daemon closed the connection without a reply");
  auto reply = nlohmann::json::parse(line, nullptr, false);
  if (reply.is_discarded()) return faultfs::Status::Invalid("the daemon sent a malformed reply");
  if (more) {
    while (ReadLine(fd.get(), buffer, line)) {
      auto next = nlohmann::json::parse(line, nullptr, false);
      if (next.is_discarded() || !more(next)) break;
    }
  }
  return reply;
}

}  // namespace faultfs::control
