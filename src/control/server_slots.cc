// The control server's connections come and go: accepted, given a slot (a reserved one when
// every other is busy), closed when idle too long or to make room.
#include <spdlog/spdlog.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "faultfs/core/errno_names.h"
#include "server_impl.h"

namespace faultfs::control {

void Server::Impl::AcceptSome() {
  for (size_t i = 0; i < kAcceptsPerTurn; ++i) {
    UniqueFd fd(accept4(listener.get(), nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK));
    if (!fd && (errno == EMFILE || errno == ENFILE)) {
      // Out of descriptors (the mount's inode cache holds most): the caller stays in the
      // backlog, and the loop must not spin on a listener that stays readable.
      spdlog::warn("control socket: accepting a connection: {}", ErrnoText(errno));
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    if (!fd) return;   // EAGAIN: nobody else waits
    DeliverReplies();  // connections whose commands are done are not busy any more
    bool reserved = false;
    if (Live(false) >= options.max_connections && !MakeRoom(false)) {
      reserved = true;
      if (Live(true) >= kReservedSlots && !MakeRoom(true)) {
        const std::string line = ErrorLine("too many control clients") + "\n";
        (void)!send(fd.get(), line.data(), line.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
        continue;
      }
    }
    Connection& c = connections[next_id];
    c.id = next_id++;
    c.fd = std::move(fd);
    c.reserved = reserved;
    c.deadline = Clock::now() + options.idle_timeout;
  }
}

size_t Server::Impl::Live(bool reserved) const {
  return static_cast<size_t>(std::count_if(
      connections.begin(), connections.end(),
      [&](const auto& kv) { return !kv.second.dead && kv.second.reserved == reserved; }));
}

// Every slot of a pool is taken: the connection that has waited longest without asking
// anything (or without taking its reply) gives up its own. Those with a request already in
// their socket are served first, not dropped as idle. False when all are busy (running a
// command, or following events).
bool Server::Impl::MakeRoom(bool reserved) {
  for (auto& [id, c] : connections) {
    if (c.dead || c.reserved != reserved || c.state != State::kReading) continue;
    if (!c.ReadAvailable()) {
      Close(c);
      return true;
    }
    Advance(c);
  }
  Connection* victim = nullptr;
  for (auto& [id, c] : connections) {
    const bool idle = c.state == State::kReading || c.state == State::kWriting;
    if (c.dead || c.reserved != reserved || !idle || !c.deadline) continue;
    if (victim == nullptr || *c.deadline < *victim->deadline) victim = &c;
  }
  if (victim == nullptr)
    return Live(reserved) < (reserved ? kReservedSlots : options.max_connections);
  spdlog::debug("control socket: dropping connection {} to make room", victim->id);
  Close(*victim);
  return true;
}

void Server::Impl::ExpireAndReap() {
  const auto now = Clock::now();
  for (auto& [id, c] : connections) {
    if (!c.dead && c.deadline && now >= *c.deadline) {
      spdlog::debug("control socket: connection {} idle for {} ms: closed", id,
                    options.idle_timeout.count());
      Close(c);
    }
  }
  std::erase_if(connections, [](const auto& kv) { return kv.second.dead; });
}
}  // namespace faultfs::control
