// The control server: one thread polls the listener and every connection; commands run on lanes
// (lane.h) and their replies come back through an eventfd. See server.h for what is guaranteed.
#include <poll.h>
#include <spdlog/spdlog.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "faultfs/core/errno_names.h"
#include "faultfs/core/mutex.h"
#include "server_impl.h"
#include "socket_address.h"

namespace faultfs::control {

std::string Dump(const nlohmann::json& j) {
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::string ErrorLine(const std::string& message) {
  return Dump({{"ok", false}, {"error", message}});
}

void Signal(int eventfd) {
  const uint64_t one = 1;
  (void)!write(eventfd, &one, sizeof(one));
}

void Server::Impl::Run() {
  std::vector<pollfd> fds;
  std::vector<uint64_t> ids;
  while (!stopping.load()) {
    fds.assign({{listener.get(), POLLIN, 0}, {wake.get(), POLLIN, 0}});
    ids.clear();
    for (auto& [id, c] : connections) {
      // A busy connection is not watched: its hangup would wake the loop until the reply.
      if (c.state == State::kBusy) continue;
      fds.push_back({c.fd.get(), Interest(c), 0});
      ids.push_back(id);
    }
    if (poll(fds.data(), fds.size(), TimeoutMs()) < 0 && errno != EINTR) {
      spdlog::error("control socket: poll: {}", ErrnoText(errno));
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    backlog = false;
    if (fds[1].revents != 0) TakeWake();
    for (size_t i = 0; i < ids.size(); ++i) {
      const auto it = connections.find(ids[i]);
      if (it != connections.end() && !it->second.dead) Service(it->second, fds[i + 2].revents);
    }
    if ((fds[0].revents & POLLIN) != 0) AcceptSome();
    ExpireAndReap();
  }
}

short Server::Impl::Interest(const Connection& c) {
  switch (c.state) {
    case State::kReading:
      return c.peer_closed ? 0 : POLLIN;
    case State::kWriting:
      return POLLOUT;
    case State::kFollowing:
      return static_cast<short>(POLLIN | (c.flushed() ? 0 : POLLOUT));
    case State::kBusy:
      return 0;
  }
  return 0;
}

int Server::Impl::TimeoutMs() const {
  if (backlog) return 0;
  std::optional<Clock::time_point> first;
  for (const auto& [id, c] : connections) {
    if (c.deadline && (!first || *c.deadline < *first)) first = c.deadline;
  }
  if (!first) return -1;
  const auto left = std::chrono::ceil<std::chrono::milliseconds>(*first - Clock::now());
  return static_cast<int>(std::clamp<int64_t>(left.count(), 0, 60'000));
}

void Server::Impl::Service(Connection& c, short revents) {
  if ((revents & (POLLERR | POLLNVAL)) != 0) return Close(c);
  if (c.state == State::kFollowing && (revents & (POLLIN | POLLHUP)) != 0) {
    if (!c.ReadAvailable() || c.peer_closed) return Close(c);
    c.DropInput();  // a follower has nothing to say
  }
  if (c.state == State::kReading && (revents & (POLLIN | POLLHUP)) != 0 && !c.ReadAvailable()) {
    return Close(c);
  }
  if ((revents & POLLOUT) != 0 && !Flush(c)) return;
  Advance(c);
}

// Serves what `c` has asked, up to kLinesPerTurn requests: a chatty client cannot starve the
// others.
void Server::Impl::Advance(Connection& c) {
  for (size_t turn = 0; turn < kLinesPerTurn && !c.dead; ++turn) {
    if (c.state == State::kWriting && !Flush(c)) return;
    if (c.state != State::kReading) return;
    auto line = c.TakeLine();
    if (!line) {
      if (c.Oversized()) {
        c.close_after_write = true;
        Reply(c, ErrorLine("request longer than 1 MiB"));
      } else if (c.peer_closed) {
        Close(c);
      }
      return;
    }
    Dispatch(c, *line);
  }
  if (!c.dead && c.HasLine()) backlog = true;
}

void Server::Impl::Dispatch(Connection& c, const std::string& line) {
  auto command = ParseCommand(line);
  if (!command.ok()) return Reply(c, ErrorLine(command.status().ToString()));
  if (c.reserved) {
    // One request, and only one that unblocks or inspects the mount: a reserved slot must be
    // free again at once for the next operator.
    c.close_after_write = true;
    if (LaneFor(*command) == LaneId::kGeneral) {
      return Reply(c, ErrorLine("too many control clients: only thaw, release and status are "
                                "served until some leave; try again later"));
    }
  }
  if (const auto* tail = std::get_if<TailEvents>(&*command); tail != nullptr && tail->follow) {
    return Follow(c);
  }
  const uint64_t id = c.id;
  const LaneId lane = LaneFor(*command);
  c.state = State::kBusy;
  c.deadline.reset();
  const bool queued = lanes[static_cast<size_t>(lane)]->Submit([this, id, cmd = *command] {
    std::string reply = Execute(cmd);
    {
      MutexLock lock(replies_mu);
      replies.emplace_back(id, std::move(reply));
    }
    Signal(wake.get());
  });
  if (!queued) {
    c.state = State::kReading;
    Reply(c, ErrorLine("busy: " + std::to_string(kMaxQueued) +
                       " commands are waiting already; try again"));
  }
}

// On a lane: the command's reply line. No exception leaves (a lane thread has no one to tell).
std::string Server::Impl::Execute(const Command& command) {
  try {
    auto reply = handler.Handle(command);
    if (!reply.ok()) return ErrorLine(reply.status().ToString());
    nlohmann::json out = *reply;
    out["ok"] = true;
    return Dump(out);
  } catch (const std::exception& e) {
    return ErrorLine(std::string("internal error: ") + e.what());
  }
}

void Server::Impl::Reply(Connection& c, const std::string& line) {
  c.Queue(line);
  c.state = State::kWriting;
  c.deadline = Clock::now() + options.idle_timeout;
  (void)Flush(c);
}

// Sends what the peer takes. False when the connection ended (failed, or closed as its last
// reply said); a reply fully sent makes the connection ready for its next request.
bool Server::Impl::Flush(Connection& c) {
  bool progressed = false;
  if (!c.Flush(progressed)) {
    Close(c);
    return false;
  }
  if (progressed && !c.flushed()) c.deadline = Clock::now() + options.idle_timeout;
  if (!c.flushed()) return true;
  if (c.close_after_write) {
    Close(c);
    return false;
  }
  if (c.state == State::kWriting) {
    c.state = State::kReading;
    c.deadline = Clock::now() + options.idle_timeout;
  } else if (c.state == State::kFollowing) {
    c.deadline.reset();  // nothing owed: a follower may wait for events forever
  }
  return true;
}

void Server::Impl::TakeWake() {
  uint64_t count = 0;
  (void)!read(wake.get(), &count, sizeof(count));
  DeliverReplies();
  for (auto& [id, c] : connections) {
    if (c.state == State::kFollowing && !c.dead) Pump(c);
  }
}

// Replies of the commands that are done go to their connections.
void Server::Impl::DeliverReplies() {
  std::vector<std::pair<uint64_t, std::string>> ready;
  {
    MutexLock lock(replies_mu);
    ready.swap(replies);
  }
  for (auto& [id, line] : ready) {
    const auto it = connections.find(id);
    if (it == connections.end() || it->second.dead) continue;
    Reply(it->second, line);
    Advance(it->second);
  }
}

void Server::Impl::Close(Connection& c) {
  if (c.events) {
    MutexLock lock(c.events->mu);
    c.events->closed = true;
    --followers;
  }
  c.events.reset();
  c.dead = true;
  c.fd.reset();
}

void Server::Impl::Stop() {
  stopping.store(true);
  Signal(wake.get());
  if (loop.joinable()) loop.join();
  for (auto& [id, c] : connections) {
    if (!c.dead) Close(c);
  }
  for (auto& lane : lanes) lane.reset();  // waits for the commands running on them
}

Server::Server(std::unique_ptr<Impl> impl, std::string path)
    : impl_(std::move(impl)), path_(std::move(path)) {}

Result<std::unique_ptr<Server>> Server::Start(const std::string& socket_path, Handler& handler,
                                              ServerOptions options) {
  auto addr = SocketAddress(socket_path);
  if (!addr.ok()) return addr.status();
  auto impl = std::make_unique<Impl>(handler, options);
  impl->listener.reset(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (!impl->listener) return Status::FromErrno(errno, "control socket");
  // A socket file left by a dead daemon is replaced; a live one is refused.
  UniqueFd probe(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (connect(probe.get(), reinterpret_cast<const sockaddr*>(&*addr), sizeof(*addr)) == 0) {
    return Status::Invalid("control socket " + socket_path + " is in use by another daemon");
  }
  unlink(socket_path.c_str());
  const mode_t old = umask(0177);  // the socket is created 0600
  const int bound =
      bind(impl->listener.get(), reinterpret_cast<const sockaddr*>(&*addr), sizeof(*addr));
  umask(old);
  if (bound != 0) return Status::FromErrno(errno, "binding control socket " + socket_path);
  if (listen(impl->listener.get(), SOMAXCONN) != 0) {
    return Status::FromErrno(errno, "listening on " + socket_path);
  }
  impl->wake.reset(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!impl->wake) return Status::FromErrno(errno, "control eventfd");
  Impl* raw = impl.get();
  impl->loop = std::thread([raw] { raw->Run(); });
  return std::unique_ptr<Server>(new Server(std::move(impl), socket_path));
}

Server::~Server() {
  impl_->Stop();
  unlink(path_.c_str());
}

}  // namespace faultfs::control
