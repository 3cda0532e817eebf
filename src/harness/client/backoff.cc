#include <algorithm>

#include "faultfs/core/random.h"
#include "faultfs/harness/client.h"

namespace faultfs::harness {

std::chrono::nanoseconds BackoffCeiling(const BackoffPolicy& policy, int attempt) {
  const int64_t cap = std::max<int64_t>(0, policy.cap.count());
  int64_t ceiling = std::max<int64_t>(0, policy.base.count());
  // Doubling stops at the cap, so no attempt number overflows.
  for (int i = 0; i < attempt && ceiling < cap; ++i)
    ceiling = ceiling > cap / 2 ? cap : ceiling * 2;
  return std::chrono::nanoseconds(std::min(ceiling, cap));
}

std::chrono::nanoseconds BackoffDelay(const BackoffPolicy& policy, int attempt,
                                      uint64_t random_bits) {
  const auto ceiling = static_cast<uint64_t>(BackoffCeiling(policy, attempt).count());
  // Uniform over the ceiling + 1 values 0..ceiling (modulo bias is below 2^-40 for ns ceilings).
  return std::chrono::nanoseconds(static_cast<int64_t>(random_bits % (ceiling + 1)));
}

}  // namespace faultfs::harness
