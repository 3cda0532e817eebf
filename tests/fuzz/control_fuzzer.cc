// libFuzzer target: the control protocol's request parser must survive any request line (report
// an error, never crash, throw, or leak). Run with tools/fuzz.sh.
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <variant>

#include "faultfs/control/protocol.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view line(reinterpret_cast<const char*>(data), size);
  const auto command = faultfs::control::ParseCommand(line);
  // Touch what a parsed command carries, as the server would.
  if (command.ok()) (void)std::visit([](const auto& c) { return sizeof(c); }, command.value());
  if (!command.ok()) (void)command.status().ToString();
  return 0;
}
