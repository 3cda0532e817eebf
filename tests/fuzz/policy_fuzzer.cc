// libFuzzer target: the policy parser must survive any input (report errors, never crash, never
// leak). Run with tools/fuzz.sh.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "faultfs/policy/parse.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const auto outcome = faultfs::policy::ParsePolicy(text, "fuzz.toml");
  if (outcome.ok()) (void)faultfs::policy::Explain(*outcome.policy);
  return 0;
}
