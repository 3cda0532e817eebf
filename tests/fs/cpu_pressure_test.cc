// Goal: the io_uring transport's view of the CPU load: the stall total is read from the kernel's
// pressure file (and a malformed one is refused), and the busy/calm state turns busy at once and
// calm only after a quiet spell.
#include "cpu_pressure.h"

#include <gtest/gtest.h>

#include <fstream>
#include <string>

#include "test_support.h"

namespace faultfs::fs {
namespace {

std::string WriteFile(const testing::TempDir& dir, const std::string& text) {
  const std::string path = dir.path() + "/cpu";
  std::ofstream(path) << text;
  return path;
}

TEST(CpuPressureTest, ReadsTheSomeTotal) {
  const testing::TempDir dir("pressure");
  EXPECT_EQ(
      ReadCpuStallMicros(WriteFile(dir,
                                   "some avg10=0.17 avg60=10.28 avg300=48.97 total=1377588406\n"
                                   "full avg10=0.00 avg60=0.00 avg300=0.00 total=0\n")),
      1377588406U);
  EXPECT_FALSE(ReadCpuStallMicros(WriteFile(dir, "full avg10=0.00 total=5\n")));
  EXPECT_FALSE(ReadCpuStallMicros(WriteFile(dir, "some avg10=0.17 total=x\n")));
  EXPECT_FALSE(ReadCpuStallMicros(dir.path() + "/missing"));
  EXPECT_TRUE(ReadCpuStallMicros()) << "this kernel has PSI (the io_uring transport relies on it)";
}

TEST(CpuPressureTest, BusyAtOnceCalmAfterAQuietSpell) {
  CpuLoadState load;
  EXPECT_FALSE(load.Update(0.10)) << "a little waiting is not busy";
  EXPECT_FALSE(load.busy());
  EXPECT_TRUE(load.Update(0.50));
  EXPECT_TRUE(load.busy());
  for (int i = 1; i < CpuLoadState::kCalmPeriods; ++i) EXPECT_FALSE(load.Update(0.0)) << i;
  EXPECT_FALSE(load.Update(0.30)) << "a busy period restarts the quiet spell";
  for (int i = 1; i < CpuLoadState::kCalmPeriods; ++i) EXPECT_FALSE(load.Update(0.01)) << i;
  EXPECT_TRUE(load.busy());
  EXPECT_TRUE(load.Update(0.01)) << "calm after kCalmPeriods quiet periods in a row";
  EXPECT_FALSE(load.busy());
}

}  // namespace
}  // namespace faultfs::fs
