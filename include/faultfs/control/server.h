// The control socket server: a Unix socket (mode 0600) answering the protocol of protocol.h.
// What commands do is up to a Handler (the mount's owner supplies one), so this module knows
// neither FUSE nor the filesystem.
#pragma once

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
  // The reply's fields for a command (the server adds "ok"), or why it failed.
  virtual Result<nlohmann::json> Handle(const Command& command) = 0;
  // Registers `sink` for every new fault event line; the sink returns false to unsubscribe.
  virtual void SubscribeEvents(std::function<bool(const std::string&)> sink) = 0;
};

class Server {
 public:
  static constexpr int kMaxClients = 16;
  // Listens on `socket_path` (replacing a stale socket file; refusing a live one).
  static Result<std::unique_ptr<Server>> Start(const std::string& socket_path, Handler& handler);
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

// Client side: sends one request, returns the first reply line (for `faultfs ctl`).
Result<nlohmann::json> Request(const std::string& socket_path, const nlohmann::json& request,
                               const std::function<bool(const nlohmann::json&)>& more = nullptr);

}  // namespace faultfs::control
