// The client side of the control protocol (`faultfs ctl`): one request, its reply line, and for
// `events --follow` the lines after it.
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>

#include "faultfs/control/server.h"
#include "faultfs/core/unique_fd.h"
#include "socket_address.h"

namespace faultfs::control {

namespace {

// A reply can be much longer than a request: `rules` of a policy with 10,000 rules.
constexpr size_t kMaxReplyBytes = 64 << 20;

bool SendLine(int fd, const std::string& line) {
  const std::string out = line + "\n";
  size_t sent = 0;
  while (sent < out.size()) {
    const ssize_t n = send(fd, out.data() + sent, out.size() - sent, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    sent += static_cast<size_t>(n);
  }
  return true;
}

// Reads one line (without '\n'); false on EOF, error, or a line longer than kMaxReplyBytes.
bool ReadLine(int fd, std::string& buffer, std::string& line) {
  while (true) {
    const size_t nl = buffer.find('\n');
    if (nl != std::string::npos) {
      line = buffer.substr(0, nl);
      buffer.erase(0, nl + 1);
      return true;
    }
    if (buffer.size() > kMaxReplyBytes) return false;
    char chunk[64 << 10];
    const ssize_t n = recv(fd, chunk, sizeof(chunk), 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    buffer.append(chunk, static_cast<size_t>(n));
  }
}

}  // namespace

Result<nlohmann::json> Request(const std::string& socket_path, const nlohmann::json& request,
                               const std::function<bool(const nlohmann::json&)>& more) {
  auto addr = SocketAddress(socket_path);
  if (!addr.ok()) return addr.status();
  UniqueFd fd(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (connect(fd.get(), reinterpret_cast<const sockaddr*>(&*addr), sizeof(*addr)) != 0) {
    return Status::FromErrno(errno, "connecting to the control socket " + socket_path);
  }
  if (!SendLine(fd.get(), request.dump())) return Status::FromErrno(EPIPE, "sending the request");
  std::string buffer;
  std::string line;
  if (!ReadLine(fd.get(), buffer, line)) {
    return Status::Invalid("the daemon closed the connection without a reply");
  }
  auto reply = nlohmann::json::parse(line, nullptr, false);
  if (reply.is_discarded()) return Status::Invalid("the daemon sent a malformed reply");
  if (more) {
    while (ReadLine(fd.get(), buffer, line)) {
      auto next = nlohmann::json::parse(line, nullptr, false);
      if (next.is_discarded() || !more(next)) break;
    }
  }
  return reply;
}

}  // namespace faultfs::control
