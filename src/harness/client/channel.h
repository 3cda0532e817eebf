// One worker's request/response connections to the nodes' client ports: at most one per node,
// opened on demand, dropped after a timeout or an error (so a late reply can never be taken for
// the answer to a later request).
#pragma once

#include <asio/awaitable.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/strand.hpp>
#include <chrono>
#include <memory>
#include <nlohmann/json.hpp>
#include <vector>

#include "faultfs/harness/wire.h"

namespace faultfs::harness::client {

using Strand = asio::strand<asio::io_context::executor_type>;

// Its implicit moves call nlohmann::json's, which are noexcept; the check reads them as throwing.
// NOLINTNEXTLINE(bugprone-exception-escape)
struct AttemptResult {
  enum class Kind {
    kReply,         // a c_reply for the request's req
    kTimeout,       // none came in time
    kBroken,        // the connection failed after it was open (EOF, reset, a bad frame)
    kNoConnection,  // connecting failed: the request never left
  };
  Kind kind = Kind::kNoConnection;
  bool sent = false;  // the request may have reached the node
  nlohmann::json reply;
};

class Channel {
 public:
  Channel(Strand strand, std::vector<asio::ip::tcp::endpoint> nodes);
  // Sends `request` (which has a "req") to `node` and waits up to `timeout` for its c_reply.
  asio::awaitable<AttemptResult> Request(size_t node, const nlohmann::json& request,
                                         std::chrono::nanoseconds timeout);
  void CloseAll();

 private:
  struct Connection {
    std::shared_ptr<asio::ip::tcp::socket> socket;
    FrameReader reader;
  };
  asio::awaitable<AttemptResult> Exchange(Connection& c, const nlohmann::json& request);
  void Reset(Connection& c);

  Strand strand_;
  std::vector<asio::ip::tcp::endpoint> nodes_;
  std::vector<Connection> connections_;
};

}  // namespace faultfs::harness::client
