// One connection through a proxy: node i's socket, the socket to node j, and the frames between
// them. Three coroutines on the proxy's strand: one reads node i's frames and schedules them
// (drop, latency, bandwidth, slicer), one writes them to node j when their time comes (unless a
// toxic holds or closes the connection), one copies node j's bytes back untouched.
#pragma once

#include <asio/awaitable.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/steady_timer.hpp>
#include <deque>
#include <map>
#include <memory>
#include <string>

#include "link.h"

namespace faultfs::harness::proxy {

class Connection : public std::enable_shared_from_this<Connection> {
 public:
  Connection(std::shared_ptr<Proxy::Link> link, asio::ip::tcp::socket from_node);
  void Start();
  // Re-evaluates the toxics now (they changed).
  void Kick() { wake_.cancel(); }
  enum class CloseKind { kFin, kReset };
  void Close(CloseKind kind);

 private:
  struct Chunk {
    std::string bytes;
    Clock::time_point not_before;
    bool frame_start = false;
    bool frame_end = false;
    bool held = false;  // counted as held once
  };
  asio::awaitable<void> Run();
  asio::awaitable<void> ReadFrames();
  asio::awaitable<void> CopyBack();
  asio::awaitable<void> WriteLoop();
  // What the toxics say now: close, hold, or the time to look again.
  bool CloseIfToxic(const ConnectionEffects& fx, Clock::time_point now);
  void Schedule(std::string frame, Clock::time_point now);
  void MarkHeld();
  // Bytes that may still go through before a limit_data toxic closes the connection.
  std::optional<uint64_t> LimitBudget(const ConnectionEffects& fx);
  asio::awaitable<bool> WriteHead(const ConnectionEffects& fx);

  std::shared_ptr<Proxy::Link> link_;
  asio::ip::tcp::socket from_node_;
  asio::ip::tcp::socket to_node_;
  asio::steady_timer wake_;
  const Clock::time_point started_;
  std::deque<Chunk> queue_;
  size_t held_marked_ = 0;  // chunks at the queue's front already counted as held
  size_t frames_queued_ = 0;
  size_t queued_bytes_ = 0;
  static constexpr size_t kMaxQueuedBytes = 64u << 20;
  Clock::time_point last_ready_{};  // frames leave in order
  Clock::time_point wire_free_{};   // bandwidth: when the previous frame is off the wire
  uint64_t bytes_written_ = 0;
  std::map<std::string, uint64_t> limit_base_;  // limit_data toxic -> bytes_written_ when it began
  bool reader_done_ = false;                    // node i closed its side
  bool closed_ = false;
};

}  // namespace faultfs::harness::proxy
