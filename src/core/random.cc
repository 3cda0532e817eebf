#include "faultfs/core/random.h"

#include <chrono>
#include <random>

namespace faultfs {

uint64_t FreshSeed() {
  std::random_device device;
  const uint64_t time =
      static_cast<uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count());
  return Mix64((static_cast<uint64_t>(device()) << 32) ^ device() ^ time);
}

}  // namespace faultfs
