// One control connection, served without ever blocking: bytes come in until a request line is
// whole, and the reply goes out as fast as the peer takes it. The server decides what to do with
// lines and when to give up on a peer; this only moves bytes, and never holds more than one
// request line (kMaxLineBytes) and one reply.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "faultfs/core/mutex.h"
#include "faultfs/core/unique_fd.h"

namespace faultfs::control {

using Clock = std::chrono::steady_clock;

// Event lines for one following client: filled by whoever injects a fault, drained by the server
// loop, so a slow reader never slows an operation (past kMax lines, lines are dropped and
// counted). `wake` tells the loop there is something to send; it is written under `mu`, and only
// while not `closed`, so it is never written after the server let it go.
struct EventQueue {
  static constexpr size_t kMax = 10000;
  Mutex mu;
  std::deque<std::string> lines FAULTFS_GUARDED_BY(mu);
  uint64_t dropped FAULTFS_GUARDED_BY(mu) = 0;
  bool closed FAULTFS_GUARDED_BY(mu) = false;
  int wake = -1;
};

struct Connection {
  enum class State {
    kReading,    // waiting for a whole request line (deadline: the idle timeout)
    kBusy,       // its command runs on a lane
    kWriting,    // its reply is going out (deadline: the peer must take some before it)
    kFollowing,  // streaming events until the peer leaves
  };

  uint64_t id = 0;
  UniqueFd fd;
  State state = State::kReading;
  std::optional<Clock::time_point> deadline;
  bool peer_closed = false;            // EOF seen: what was asked is answered, then the end
  bool close_after_write = false;      // the reply says why the connection ends
  bool reserved = false;               // in a reserved slot: thaw, release or status, once
  bool dead = false;                   // to be removed by the server loop
  std::shared_ptr<EventQueue> events;  // following

  // Reads what the socket holds, up to one request line's worth; false when the socket failed.
  bool ReadAvailable();
  std::optional<std::string> TakeLine();  // the next whole request line, without its '\n'
  bool HasLine() const;
  bool Oversized() const;               // no line end within kMaxLineBytes: never a request
  void DropInput();                     // what was read and not taken
  void Queue(const std::string& line);  // to be sent, with its '\n'
  // Sends what the socket takes now. False when the socket failed; `progressed` says whether
  // anything went.
  bool Flush(bool& progressed);
  bool flushed() const { return sent_ == out_.size(); }
  size_t pending() const { return out_.size() - sent_; }

 private:
  std::string in_;
  size_t in_pos_ = 0;  // lines before this were taken
  std::string out_;
  size_t sent_ = 0;
};

}  // namespace faultfs::control
