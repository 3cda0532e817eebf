// The control server's state, shared by its files: server.cc (the loop, requests and replies),
// server_slots.cc (connections come and go), server_follow.cc (events --follow). All of it but
// the lanes and the reply list belongs to the loop thread.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "connection.h"
#include "faultfs/control/server.h"
#include "faultfs/core/mutex.h"
#include "faultfs/core/unique_fd.h"
#include "lane.h"

namespace faultfs::control {

inline constexpr size_t kAcceptsPerTurn = 16;  // then the accepted ones are read before more
inline constexpr size_t kLinesPerTurn = 16;    // requests served per connection per loop turn
inline constexpr size_t kFollowerBuffer = 256 << 10;  // event bytes queued to a follower
// Slots beyond max_connections, for thaw, release and status when every other slot is busy.
inline constexpr size_t kReservedSlots = 8;

// Replies may quote what a client sent; invalid UTF-8 must not make dump() throw.
std::string Dump(const nlohmann::json& j);
std::string ErrorLine(const std::string& message);
void Signal(int eventfd);  // one wake-up of the loop

struct Server::Impl {
  using State = Connection::State;

  Handler& handler;
  const ServerOptions options;
  UniqueFd listener;
  UniqueFd wake;  // eventfd: replies ready, events queued, or stop
  std::atomic<bool> stopping{false};
  std::thread loop;
  std::map<uint64_t, Connection> connections;  // the loop's alone
  uint64_t next_id = 1;
  size_t followers = 0;
  bool backlog = false;  // a connection has requests left for the next turn
  Mutex replies_mu;
  std::vector<std::pair<uint64_t, std::string>> replies FAULTFS_GUARDED_BY(replies_mu);  // lanes
  // Indexed by LaneId: thaw and release, status, everything else.
  std::array<std::unique_ptr<WorkLane>, 3> lanes;

  // The unblocking and status lanes need no bound of their own: a connection has at most one
  // command in flight, and connections are bounded.
  Impl(Handler& h, ServerOptions o) : handler(h), options(o) {
    lanes[static_cast<size_t>(LaneId::kUnblock)] = std::make_unique<WorkLane>(1, SIZE_MAX);
    lanes[static_cast<size_t>(LaneId::kStatus)] = std::make_unique<WorkLane>(1, SIZE_MAX);
    lanes[static_cast<size_t>(LaneId::kGeneral)] = std::make_unique<WorkLane>(2, kMaxQueued);
  }

  void Run();
  static short Interest(const Connection& c);
  int TimeoutMs() const;
  void Service(Connection& c, short revents);
  // Serves what `c` has asked, up to kLinesPerTurn requests: a chatty client cannot starve the
  // others.
  void Advance(Connection& c);
  void Dispatch(Connection& c, const std::string& line);
  // On a lane: the command's reply line. No exception leaves (a lane thread has no one to tell).
  std::string Execute(const Command& command);
  void Reply(Connection& c, const std::string& line);
  // Sends what the peer takes. False when the connection ended (failed, or closed as its last
  // reply said); a reply fully sent makes the connection ready for its next request.
  bool Flush(Connection& c);
  void Follow(Connection& c);
  // Moves queued events to a follower's buffer, as far as it has room.
  void Pump(Connection& c);
  void TakeWake();
  // Replies of the commands that are done go to their connections.
  void DeliverReplies();
  void AcceptSome();
  size_t Live(bool reserved) const;
  // Every slot of a pool is taken: the connection that has waited longest without asking
  // anything (or without taking its reply) gives up its own. Those with a request already in
  // their socket are served first, not dropped as idle. False when all are busy (running a
  // command, or following events).
  bool MakeRoom(bool reserved);
  void ExpireAndReap();
  void Close(Connection& c);
  void Stop();
};

}  // namespace faultfs::control
