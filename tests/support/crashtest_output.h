// Reading `faultfs crashtest`'s report in tests: the failed count of its header line, the
// failing states its findings account for (each finding's "N failing state(s)" line), and the
// scratch directory it kept.
#pragma once

#include <cctype>
#include <string>

namespace faultfs::testing {

inline int CrashtestFailed(const std::string& out) {
  const size_t at = out.find(" passed, ");
  return at == std::string::npos ? -1 : std::stoi(out.substr(at + 9));
}

inline int CrashtestFindingStates(const std::string& out) {
  int sum = 0;
  for (size_t at = out.find("\n     "); at != std::string::npos; at = out.find("\n     ", at + 1)) {
    const size_t num = at + 6;
    if (num < out.size() && std::isdigit(static_cast<unsigned char>(out[num])) != 0 &&
        out.compare(out.find(' ', num), 14, " failing state") == 0)
      sum += std::stoi(out.substr(num));
  }
  return sum;
}

// The scratch directory crashtest kept, from its "scratch directory kept (...): DIR" line; "" if
// it kept none.
inline std::string CrashtestKeptWork(const std::string& out) {
  const size_t line = out.find("scratch directory kept (");
  if (line == std::string::npos) return "";
  const size_t at = out.find("): ", line) + 3;
  return out.substr(at, out.find('\n', at) - at);
}

}  // namespace faultfs::testing
