// Goal: ports picked for servers that bind later are free, distinct, and outside the kernel's
// ephemeral range, so no outgoing connection or bind to port 0 can take one in the meantime.
#include "faultfs/core/loopback_port.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fstream>
#include <set>

namespace faultfs {
namespace {

TEST(PortForLater, FreeDistinctAndOutsideTheEphemeralRange) {
  uint32_t low = 0;
  uint32_t high = 0;
  std::ifstream("/proc/sys/net/ipv4/ip_local_port_range") >> low >> high;
  ASSERT_GT(high, low);
  std::set<uint16_t> taken;
  for (int i = 0; i < 50; ++i) {
    auto picked = PortForLater(taken);
    ASSERT_TRUE(picked.ok()) << picked.status().ToString();
    const uint32_t port = *picked;
    EXPECT_TRUE(port < low || port > high) << port << " is in " << low << "-" << high;
    EXPECT_GE(port, 1024U);
  }
  EXPECT_EQ(taken.size(), 50U) << "no port given twice";
  // The negative case: a port bound to port 0 (as a proxy or a client is) comes from the
  // ephemeral range, which the picked ones avoid.
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(addr);
  ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  ASSERT_EQ(getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len), 0);
  const uint16_t ephemeral = ntohs(addr.sin_port);
  close(fd);
  EXPECT_TRUE(ephemeral >= low && ephemeral <= high) << ephemeral;
  EXPECT_EQ(taken.count(ephemeral), 0U);
}

}  // namespace
}  // namespace faultfs
