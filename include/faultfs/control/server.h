// The control socket server: a Unix socket (mode 0600) answering the protocol of protocol.h.
// What commands do is up to a Handler (the mount's owner supplies one), so this module knows
// neither FUSE nor the filesystem.
//
// Whoever can connect may be hostile or broken, and the mount must stay controllable: one thread
// serves every connection without blocking; a connection that sends no whole request within
// `idle_timeout`, or leaves a reply unread that long, is closed; when every connection slot is
// taken, a new connection takes the slot of the one idle the longest, or, when none is idle, one
// of a few reserved slots that serve one thaw, release or status each; and commands run on lanes,
// so that thaw and release (and status) never wait behind other commands (lane.h).
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "faultfs/control/protocol.h"
#include "faultfs/core/status.h"

namespace faultfs::control {

class Handler {
 public:
  virtual ~Handler() = default;
  // The reply's fields for a command (the server adds "ok"), or why it failed. Called from
  // several threads at once.
  virtual Result<nlohmann::json> Handle(const Command& command) = 0;
  // Registers `sink` for every new fault event line; the sink returns false to unsubscribe.
  virtual void SubscribeEvents(std::function<bool(const std::string&)> sink) = 0;
};

struct ServerOptions {
  std::chrono::milliseconds idle_timeout{10'000};
  size_t max_connections = 64;
};

class Server {
 public:
  static constexpr size_t kMaxFollowers = 16;  // `events --follow` connections
  static constexpr size_t kMaxQueued = 32;     // commands waiting for the general lane
  // Listens on `socket_path` (replacing a stale socket file; refusing a live one).
  static Result<std::unique_ptr<Server>> Start(const std::string& socket_path, Handler& handler,
                                               ServerOptions options = {});
  ~Server();  // stops accepting, disconnects clients, removes the socket file
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  const std::string& path() const { return path_; }

  struct Impl;

 private:
  explicit Server(std::unique_ptr<Impl> impl, std::string path);
  std::unique_ptr<Impl> impl_;
  std::string path_;
};

// Client side: sends one request, returns the first reply line (for `faultfs ctl`); `more` sees
// every further line until it returns false.
Result<nlohmann::json> Request(const std::string& socket_path, const nlohmann::json& request,
                               const std::function<bool(const nlohmann::json&)>& more = nullptr);

}  // namespace faultfs::control
