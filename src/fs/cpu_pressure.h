// Whether the machine's CPUs are busy, from the kernel's pressure stall information (PSI,
// /proc/pressure/cpu): the share of wall time during which some runnable task waited for a CPU.
//
// The io_uring transport uses it to choose its threads' priority. At idle priority they keep a
// request and its reply on the requester's CPU, the cheapest path on an idle machine; but when
// other work keeps the CPUs busy an idle-priority thread gets almost no CPU, and the requests it
// holds wait (see MountOptions::uring_priority).
#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace faultfs::fs {

// The "some" line's total stall time, in microseconds; nullopt when `path` cannot be read or
// parsed (a kernel without PSI).
std::optional<uint64_t> ReadCpuStallMicros(const std::string& path = "/proc/pressure/cpu");

// Busy or not, with hysteresis, from one period's stall share (stall time / period): busy from
// the first period with a share of at least kBusyShare, idle again only after kCalmPeriods
// periods in a row below kCalmShare, so that a load that comes and goes does not flip it on
// every sample.
class CpuLoadState {
 public:
  static constexpr double kBusyShare = 0.20;
  static constexpr double kCalmShare = 0.05;
  static constexpr int kCalmPeriods = 20;

  // Takes one period's share; true when the state changed.
  bool Update(double stall_share);
  bool busy() const { return busy_; }

 private:
  bool busy_ = false;
  int calm_periods_ = 0;
};

}  // namespace faultfs::fs
