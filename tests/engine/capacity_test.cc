// Goal: the capacity model admits exactly what fits the budget and no more: writes are cut at the
// first block that does not fit, already allocated blocks cost nothing, inodes run out at the
// budget, freed space comes back, and statfs reports the budget. The negative cases: without a
// budget nothing is refused, and writes that allocate nothing pass a full disk.
#include "faultfs/engine/capacity.h"

#include <gtest/gtest.h>

#include <thread>
#include <vector>

namespace faultfs::engine {
namespace {

constexpr uint64_t kB = 4096;

policy::Capacity Budget(std::optional<uint64_t> bytes, std::optional<uint64_t> inodes,
                        int err = ENOSPC) {
  policy::Capacity c;
  c.bytes = bytes;
  c.inodes = inodes;
  c.err = err;
  return c;
}

TEST(FitWrite, EmptyFileTakesWholeBlocksUntilTheRoomIsGone) {
  EXPECT_EQ(FitWrite({}, kB, 0, 8 * kB, 8 * kB).len, 8 * kB);
  EXPECT_EQ(FitWrite({}, kB, 0, 8 * kB, 8 * kB).allocates, 8 * kB);
  const WriteFit cut = FitWrite({}, kB, 0, 8 * kB, 3 * kB + 100);
  EXPECT_EQ(cut.len, 3 * kB) << "cut where the first block that does not fit begins";
  EXPECT_EQ(cut.allocates, 3 * kB);
  EXPECT_EQ(FitWrite({}, kB, 0, 10, kB - 1).len, 0U) << "less than a block of room: nothing fits";
  EXPECT_EQ(FitWrite({}, kB, 0, 10, kB).len, 10U);
}

TEST(FitWrite, UnalignedWritesCountEveryBlockTheyTouch) {
  const WriteFit w = FitWrite({}, kB, kB - 1, 2, 2 * kB);
  EXPECT_EQ(w.len, 2U);
  EXPECT_EQ(w.allocates, 2 * kB);
  const WriteFit cut = FitWrite({}, kB, kB - 1, 2, kB);
  EXPECT_EQ(cut.len, 1U) << "the byte in the first block fits, the one in the second does not";
}

TEST(FitWrite, AllocatedBlocksAreFree) {
  const std::vector<ByteRange> allocated{{0, 4 * kB}};
  const WriteFit overwrite = FitWrite(allocated, kB, 0, 4 * kB, 0);
  EXPECT_EQ(overwrite.len, 4 * kB) << "overwriting in place allocates nothing, even on a full disk";
  EXPECT_EQ(overwrite.allocates, 0U);
  const WriteFit append = FitWrite(allocated, kB, 2 * kB, 4 * kB, kB);
  EXPECT_EQ(append.len, 3 * kB) << "two allocated blocks, then one that fits";
  EXPECT_EQ(append.allocates, kB);
}

TEST(FitWrite, HolesBetweenExtentsAreCountedInOrder) {
  const std::vector<ByteRange> allocated{{kB, 2 * kB}, {3 * kB, 5 * kB}};
  const WriteFit all = FitWrite(allocated, kB, 0, 6 * kB, 10 * kB);
  EXPECT_EQ(all.allocates, 3 * kB) << "blocks 0, 2 and 5";
  const WriteFit two = FitWrite(allocated, kB, 0, 6 * kB, 2 * kB);
  EXPECT_EQ(two.len, 5 * kB) << "stops at block 5, the third hole block";
  EXPECT_EQ(two.allocates, 2 * kB);
  const std::vector<ByteRange> preallocated{{0, 16 * kB}};
  const WriteFit preallocated_beyond_eof = FitWrite(preallocated, kB, 8 * kB, 8 * kB, 0);
  EXPECT_EQ(preallocated_beyond_eof.len, 8 * kB) << "preallocated space is paid already";
}

TEST(CapacityModel, WithoutBudgetNothingIsRefusedButUsageIsTracked) {
  CapacityModel m({100, 2});
  EXPECT_FALSE(m.limited());
  EXPECT_TRUE(m.ReserveBytes(uint64_t{1} << 50));
  m.Settle(uint64_t{1} << 50, 4096);
  EXPECT_EQ(m.used().bytes, 4196U);
  for (int i = 0; i < 1000; ++i) EXPECT_TRUE(m.TakeInode());
  EXPECT_EQ(m.used().inodes, 1002U);
}

TEST(CapacityModel, BytesRunOutExactlyAtTheBudgetAndComeBackWhenFreed) {
  CapacityModel m({0, 0});
  m.SetBudget(Budget(10 * kB, std::nullopt));
  EXPECT_EQ(m.RoomBytes(), 10 * kB);
  EXPECT_TRUE(m.ReserveBytes(10 * kB));
  m.Settle(10 * kB, 10 * kB);
  EXPECT_FALSE(m.ReserveBytes(1)) << "full";
  EXPECT_TRUE(m.ReserveBytes(0)) << "a change that allocates nothing still passes";
  m.Settle(0, -static_cast<int64_t>(kB));  // a file shrank
  EXPECT_EQ(m.RoomBytes(), kB);
  EXPECT_TRUE(m.ReserveBytes(kB));
  m.Settle(kB, kB);
  m.Settle(0, -static_cast<int64_t>(100 * kB));
  EXPECT_EQ(m.used().bytes, 0U) << "saturates at zero instead of wrapping";
}

TEST(CapacityModel, UsageAboveANewBudgetLeavesNoRoom) {
  CapacityModel m({20 * kB, 5});
  m.SetBudget(Budget(10 * kB, 3));
  EXPECT_EQ(m.RoomBytes(), 0U);
  EXPECT_FALSE(m.ReserveBytes(1));
  EXPECT_FALSE(m.TakeInode());
  m.SetBudget(std::nullopt);
  EXPECT_TRUE(m.ReserveBytes(1)) << "lifting the budget lifts the limit";
}

TEST(CapacityModel, RoomLeftIsAddedToWhatIsUsedWhenTheBudgetArrives) {
  CapacityModel m({20 * kB, 1500});
  policy::Capacity c;
  c.free_bytes = 8 * kB;
  c.free_inodes = 2;
  EXPECT_EQ(m.SetBudget(c), "") << "room is left: nothing to warn about";
  EXPECT_EQ(m.budget()->bytes, 28 * kB);
  EXPECT_EQ(m.budget()->inodes, 1502U);
  EXPECT_EQ(m.RoomBytes(), 8 * kB);
  EXPECT_TRUE(m.TakeInode());
  EXPECT_TRUE(m.TakeInode());
  EXPECT_FALSE(m.TakeInode());
}

TEST(CapacityModel, ABudgetTheTreeAlreadyFillsIsWarnedAbout) {
  CapacityModel m({20 * kB, 1500});
  const std::string inodes = m.SetBudget(Budget(std::nullopt, 1000));
  EXPECT_NE(inodes.find("already has 1500 inodes, and the budget is 1000"), std::string::npos)
      << inodes;
  EXPECT_NE(inodes.find("ENOSPC"), std::string::npos) << inodes;
  const std::string bytes = m.SetBudget(Budget(10 * kB, 2000, EDQUOT));
  EXPECT_NE(bytes.find("already holds " + std::to_string(20 * kB) + " bytes"), std::string::npos)
      << bytes;
  EXPECT_EQ(bytes.find("inodes, and the budget"), std::string::npos) << "only the bytes are short";
  EXPECT_NE(bytes.find("EDQUOT"), std::string::npos) << bytes;
  EXPECT_EQ(m.SetBudget(Budget(21 * kB, 1501)), "") << "one block and one inode are left";
}

TEST(CapacityModel, InodesRunOutAtTheBudget) {
  CapacityModel m({0, 0});
  m.SetBudget(Budget(std::nullopt, 3, EDQUOT));
  EXPECT_EQ(m.err(), EDQUOT);
  EXPECT_TRUE(m.TakeInode());
  EXPECT_TRUE(m.TakeInode());
  EXPECT_TRUE(m.TakeInode());
  EXPECT_FALSE(m.TakeInode());
  m.ReturnInode();
  EXPECT_TRUE(m.TakeInode());
  EXPECT_TRUE(m.ReserveBytes(uint64_t{1} << 40)) << "no byte budget: bytes unlimited";
}

TEST(CapacityModel, ConcurrentReservationsNeverOvershoot) {
  CapacityModel m({0, 0});
  m.SetBudget(Budget(1000 * kB, 1000));
  std::atomic<int> granted{0}, inodes{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 1000; ++i) {
        if (m.ReserveBytes(kB)) granted++;
        if (m.TakeInode()) inodes++;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(granted.load(), 1000);
  EXPECT_EQ(inodes.load(), 1000);
}

TEST(CapacityModel, StatfsReportsTheBudgetCappedByTheRealDisk) {
  CapacityModel m({3 * kB, 4});
  m.SetBudget(Budget(64 * kB, 10));
  struct statvfs backing {};
  backing.f_bsize = backing.f_frsize = kB;
  backing.f_blocks = 1'000'000;
  backing.f_bfree = backing.f_bavail = 500'000;
  backing.f_files = backing.f_ffree = backing.f_favail = 100'000;
  struct statvfs st = m.Report(backing);
  EXPECT_EQ(st.f_blocks, 64U);
  EXPECT_EQ(st.f_bfree, 61U);
  EXPECT_EQ(st.f_bavail, 61U);
  EXPECT_EQ(st.f_files, 10U);
  EXPECT_EQ(st.f_ffree, 6U);
  backing.f_bavail = 2;
  EXPECT_EQ(m.Report(backing).f_bavail, 2U) << "the real disk filled up first";
  m.SetBudget(std::nullopt);
  EXPECT_EQ(m.Report(backing).f_blocks, 1'000'000U) << "no budget: the real figures";
}

}  // namespace
}  // namespace faultfs::engine
