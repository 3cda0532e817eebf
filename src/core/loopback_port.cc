#include "faultfs/core/loopback_port.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <fstream>
#include <random>

#include "faultfs/core/unique_fd.h"

namespace faultfs {
namespace {

constexpr uint32_t kLowest = 10000;  // above the well-known and registered ports most used

// Whether 127.0.0.1:port can be bound now.
bool Free(uint16_t port) {
  UniqueFd fd(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd) return false;
  const int one = 1;  // as the node binds: a port in TIME_WAIT from an earlier run is usable
  (void)setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(port);
  return bind(fd.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)) == 0;
}

}  // namespace

Result<uint16_t> PortForLater(std::set<uint16_t>& taken) {
  uint32_t ephemeral_low = 32768;
  uint32_t ephemeral_high = 60999;
  std::ifstream range("/proc/sys/net/ipv4/ip_local_port_range");
  range >> ephemeral_low >> ephemeral_high;
  // Below the ephemeral range when there is room there (the default: 10000-32767), else above.
  uint32_t low = kLowest;
  uint32_t high = ephemeral_low - 1;
  if (ephemeral_low < kLowest + 1000) {
    low = ephemeral_high + 1;
    high = 65535;
  }
  if (low > high) return Status::Invalid("no ports outside the ephemeral range to choose from");
  std::mt19937 pick(std::random_device{}());
  std::uniform_int_distribution<uint32_t> in_range(low, high);
  for (int attempt = 0; attempt < 1000; ++attempt) {
    const auto port = static_cast<uint16_t>(in_range(pick));
    if (taken.count(port) != 0 || !Free(port)) continue;
    taken.insert(port);
    return port;
  }
  return Status::Invalid("no free port found between " + std::to_string(low) + " and " +
                         std::to_string(high));
}

}  // namespace faultfs
