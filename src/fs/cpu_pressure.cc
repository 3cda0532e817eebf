#include "cpu_pressure.h"

#include <fstream>
#include <sstream>

namespace faultfs::fs {

std::optional<uint64_t> ReadCpuStallMicros(const std::string& path) {
  std::ifstream in(path);
  std::string line;
  // "some avg10=0.17 avg60=10.28 avg300=48.97 total=1377588406"
  while (std::getline(in, line)) {
    if (line.rfind("some ", 0) != 0) continue;
    const size_t at = line.find(" total=");
    if (at == std::string::npos) return std::nullopt;
    std::istringstream number(line.substr(at + 7));
    uint64_t total = 0;
    if (!(number >> total)) return std::nullopt;
    return total;
  }
  return std::nullopt;
}

bool CpuLoadState::Update(double stall_share) {
  if (!busy_) {
    busy_ = stall_share >= kBusyShare;
    calm_periods_ = 0;
    return busy_;
  }
  calm_periods_ = stall_share < kCalmShare ? calm_periods_ + 1 : 0;
  if (calm_periods_ < kCalmPeriods) return false;
  busy_ = false;
  return true;
}

}  // namespace faultfs::fs
