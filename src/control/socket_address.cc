#include "socket_address.h"

#include <sys/socket.h>

#include <cstring>

namespace faultfs::control {

Result<sockaddr_un> SocketAddress(const std::string& path) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.size() >= sizeof(addr.sun_path)) {
    return Status::Invalid("control socket path too long (" + std::to_string(path.size()) +
                           " bytes): " + path);
  }
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  return addr;
}

}  // namespace faultfs::control
