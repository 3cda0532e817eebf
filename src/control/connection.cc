#include "connection.h"

#include <sys/socket.h>

#include <cerrno>

#include "faultfs/control/protocol.h"

namespace faultfs::control {

bool Connection::ReadAvailable() {
  char chunk[64 << 10];
  // Past one whole line's worth the peer has said enough: either a line is in, or it never is.
  while (in_.size() - in_pos_ <= kMaxLineBytes) {
    const ssize_t n = recv(fd.get(), chunk, sizeof(chunk), MSG_DONTWAIT);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return errno == EAGAIN || errno == EWOULDBLOCK;
    if (n == 0) {
      peer_closed = true;
      return true;
    }
    in_.append(chunk, static_cast<size_t>(n));
  }
  return true;
}

std::optional<std::string> Connection::TakeLine() {
  const size_t nl = in_.find('\n', in_pos_);
  if (nl == std::string::npos) return std::nullopt;
  std::string line = in_.substr(in_pos_, nl - in_pos_);
  in_pos_ = nl + 1;
  // Taken lines are dropped now and then, not one by one (which would copy the rest each time).
  if (in_pos_ > (64 << 10) || in_pos_ == in_.size()) {
    in_.erase(0, in_pos_);
    in_pos_ = 0;
  }
  return line;
}

bool Connection::HasLine() const { return in_.find('\n', in_pos_) != std::string::npos; }

bool Connection::Oversized() const { return !HasLine() && in_.size() - in_pos_ > kMaxLineBytes; }

void Connection::DropInput() {
  in_.clear();
  in_pos_ = 0;
}

void Connection::Queue(const std::string& line) {
  if (flushed()) {
    out_.clear();
    sent_ = 0;
  }
  out_ += line;
  out_ += '\n';
}

bool Connection::Flush(bool& progressed) {
  progressed = false;
  while (sent_ < out_.size()) {
    const ssize_t n =
        send(fd.get(), out_.data() + sent_, out_.size() - sent_, MSG_DONTWAIT | MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return errno == EAGAIN || errno == EWOULDBLOCK;
    sent_ += static_cast<size_t>(n);
    progressed = true;
  }
  return true;
}

}  // namespace faultfs::control
