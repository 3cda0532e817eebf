// Goal: the data-fault helpers do what the policy says and nothing more: a short transfer is
// always short, a torn write keeps some but never all of the units it touches (the right end for
// first/last), corruption touches exactly the configured bits or range, and every action has a
// description for the event log.
#include "data_faults.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cstdint>
#include <optional>
#include <string>
#include <variant>
#include <vector>

namespace faultfs::fs {
namespace {

using policy::CorruptAction;
using policy::ShortAction;
using policy::TornAction;

// --- ShortLength ---

ShortAction Bytes(uint64_t n) { return ShortAction{n, std::nullopt}; }
ShortAction Fraction(double f) { return ShortAction{std::nullopt, f}; }

TEST(ShortLength, ByBytesIsTheCountCappedBelowTheSize) {
  EXPECT_EQ(ShortLength(Bytes(512), 4096), 512U);
  EXPECT_EQ(ShortLength(Bytes(512), 512), 511U) << "never the whole transfer";
  EXPECT_EQ(ShortLength(Bytes(512), 100), 99U);
  EXPECT_EQ(ShortLength(Bytes(0), 4096), 0U);
  EXPECT_EQ(ShortLength(Bytes(512), 1), 0U) << "a one-byte transfer can only be cut to nothing";
  EXPECT_EQ(ShortLength(Bytes(512), 0), 0U);
}

TEST(ShortLength, ByFractionRoundsDownAndStaysBelowTheSize) {
  EXPECT_EQ(ShortLength(Fraction(0.5), 4096), 2048U);
  EXPECT_EQ(ShortLength(Fraction(0.25), 1000), 250U);
  EXPECT_EQ(ShortLength(Fraction(0.5), 3), 1U);
  EXPECT_EQ(ShortLength(Fraction(0.999), 10), 9U);
  EXPECT_EQ(ShortLength(Fraction(0), 4096), 0U);
  EXPECT_EQ(ShortLength(Fraction(0.5), 1), 0U);
  EXPECT_EQ(ShortLength(Fraction(0.5), 0), 0U);
}

TEST(ShortLength, AlwaysFewerBytesThanAsked) {
  const std::vector<ShortAction> actions = {Bytes(0),       Bytes(1),       Bytes(512),
                                            Bytes(1 << 30), Fraction(0),    Fraction(0.1),
                                            Fraction(0.5),  Fraction(0.99), Fraction(0.999999)};
  for (const auto& a : actions) {
    for (size_t size = 1; size <= 5000; ++size) ASSERT_LT(ShortLength(a, size), size) << size;
  }
}

// --- PlanTorn ---

size_t UnitsTouched(uint64_t unit, uint64_t offset, size_t size) {
  return static_cast<size_t>((offset + size - 1) / unit - offset / unit + 1);
}

size_t Kept(const TornPlan& p) {
  return static_cast<size_t>(std::count(p.keep.begin(), p.keep.end(), true));
}

TEST(PlanTorn, OneFlagPerUnitTouchedAndNeverAllKept) {
  for (const uint32_t unit : {512U, 4096U, 1000U}) {
    for (const auto keep :
         {TornAction::Keep::kFirst, TornAction::Keep::kLast, TornAction::Keep::kRandom}) {
      const TornAction a{unit, keep};
      for (const uint64_t offset :
           {uint64_t{0}, uint64_t{1}, uint64_t{unit} - 1, uint64_t{unit}, uint64_t{3} * unit + 7}) {
        for (const size_t size : {size_t{1}, size_t{unit}, size_t{unit} + 1, size_t{5} * unit - 3,
                                  size_t{17} * unit + 13}) {
          for (uint64_t draw = 0; draw < 50; ++draw) {
            const TornPlan p = PlanTorn(a, draw, offset, size);
            ASSERT_EQ(p.unit, unit);
            ASSERT_EQ(p.keep.size(), UnitsTouched(unit, offset, size))
                << "unit " << unit << " offset " << offset << " size " << size;
            ASSERT_LT(Kept(p), p.keep.size()) << "never all kept";
          }
        }
      }
    }
  }
}

TEST(PlanTorn, UnalignedWriteCountsEveryUnitItTouches) {
  const TornAction a{4096, TornAction::Keep::kRandom};
  EXPECT_EQ(PlanTorn(a, 1, 4095, 2).keep.size(), 2U) << "two bytes straddling a boundary";
  EXPECT_EQ(PlanTorn(a, 1, 100, 4096).keep.size(), 2U);
  EXPECT_EQ(PlanTorn(a, 1, 4096, 4096).keep.size(), 1U);
  EXPECT_EQ(PlanTorn(a, 1, 0, 0).keep.size(), 0U) << "an empty write touches nothing";
}

TEST(PlanTorn, WriteWithinOneUnitStoresNothing) {
  for (const auto keep :
       {TornAction::Keep::kFirst, TornAction::Keep::kLast, TornAction::Keep::kRandom}) {
    EXPECT_EQ(PlanTorn(TornAction{512, keep}, 3, 10, 100).keep, std::vector<bool>{false});
  }
}

TEST(PlanTorn, FirstKeepsAPrefixAndLastASuffix) {
  for (const uint32_t unit : {512U, 4096U, 1000U}) {
    for (uint64_t draw = 0; draw < 200; ++draw) {
      const TornPlan first =
          PlanTorn(TornAction{unit, TornAction::Keep::kFirst}, draw, 7, 6 * unit);
      ASSERT_EQ(first.keep.size(), 7U);
      EXPECT_TRUE(first.keep.front()) << "the first unit reaches the disk";
      EXPECT_FALSE(first.keep.back());
      EXPECT_TRUE(std::is_partitioned(first.keep.begin(), first.keep.end(), [](bool k) {
        return k;
      })) << "kept units are the leading ones";
      const TornPlan last = PlanTorn(TornAction{unit, TornAction::Keep::kLast}, draw, 7, 6 * unit);
      ASSERT_EQ(last.keep.size(), 7U);
      EXPECT_FALSE(last.keep.front());
      EXPECT_TRUE(last.keep.back()) << "the last unit reaches the disk";
      EXPECT_TRUE(std::is_partitioned(last.keep.begin(), last.keep.end(), [](bool k) {
        return !k;
      })) << "kept units are the trailing ones";
    }
  }
}

TEST(PlanTorn, RandomKeepsVaryingSubsetsAndIsReproducible) {
  const TornAction a{4096, TornAction::Keep::kRandom};
  size_t kept_some = 0;
  std::vector<std::vector<bool>> plans;
  for (uint64_t draw = 0; draw < 100; ++draw) {
    const TornPlan p = PlanTorn(a, draw, 0, 8 * 4096);
    EXPECT_EQ(p.keep, PlanTorn(a, draw, 0, 8 * 4096).keep) << "a function of the draw";
    kept_some += Kept(p) > 0;
    if (std::find(plans.begin(), plans.end(), p.keep) == plans.end()) plans.push_back(p.keep);
  }
  EXPECT_GT(kept_some, 90U);
  EXPECT_GT(plans.size(), 50U) << "draws give different subsets";
}

// --- Corrupt ---

std::vector<char> Pattern(size_t size) {
  std::vector<char> v(size);
  for (size_t i = 0; i < size; ++i) v[i] = static_cast<char>(0x5A ^ (i * 7));
  return v;
}

size_t BitsDiffering(const std::vector<char>& a, const std::vector<char>& b, size_t lo, size_t hi) {
  size_t n = 0;
  for (size_t i = lo; i < hi; ++i) {
    n += static_cast<size_t>(std::popcount(static_cast<unsigned char>(a[i] ^ b[i])));
  }
  return n;
}

CorruptAction Flip(uint32_t bits, std::optional<policy::Range> range = std::nullopt) {
  CorruptAction a;
  a.mode = CorruptAction::Mode::kFlipBits;
  a.bits = bits;
  a.range = range;
  return a;
}

TEST(Corrupt, FlipChangesExactlyTheConfiguredNumberOfBits) {
  const std::vector<char> original = Pattern(4096);
  for (const uint32_t bits : {1U, 2U, 3U, 8U, 64U, 500U}) {
    for (uint64_t draw = 0; draw < 100; ++draw) {
      std::vector<char> data = original;
      Corrupt(Flip(bits), draw, data.data(), data.size());
      ASSERT_EQ(BitsDiffering(original, data, 0, data.size()), bits) << "draw " << draw;
    }
  }
}

TEST(Corrupt, FlipStaysWithinTheRange) {
  const std::vector<char> original = Pattern(1024);
  for (uint64_t draw = 0; draw < 100; ++draw) {
    std::vector<char> data = original;
    Corrupt(Flip(5, policy::Range{100, 200}), draw, data.data(), data.size());
    ASSERT_EQ(BitsDiffering(original, data, 100, 200), 5U) << "draw " << draw;
    ASSERT_EQ(BitsDiffering(original, data, 0, 100), 0U);
    ASSERT_EQ(BitsDiffering(original, data, 200, 1024), 0U);
  }
}

TEST(Corrupt, FlipNeverMoreBitsThanThereAre) {
  const std::vector<char> original = Pattern(2);
  std::vector<char> data = original;
  Corrupt(Flip(100), 9, data.data(), data.size());
  EXPECT_EQ(BitsDiffering(original, data, 0, 2), 16U) << "every bit flipped once";
  data = original;
  Corrupt(Flip(16), 9, data.data(), data.size());
  EXPECT_EQ(BitsDiffering(original, data, 0, 2), 16U);
}

TEST(Corrupt, ZeroFillsOnlyTheRange) {
  const std::vector<char> original(1024, 'x');
  CorruptAction a;
  a.mode = CorruptAction::Mode::kZero;
  a.range = policy::Range{100, 300};
  std::vector<char> data = original;
  Corrupt(a, 1, data.data(), data.size());
  EXPECT_TRUE(std::all_of(data.begin() + 100, data.begin() + 300, [](char c) { return c == 0; }));
  EXPECT_TRUE(std::equal(data.begin(), data.begin() + 100, original.begin()));
  EXPECT_TRUE(std::equal(data.begin() + 300, data.end(), original.begin() + 300));

  a.range = policy::Range{1000, 5000};  // past the end: cut to the transfer
  data = original;
  Corrupt(a, 1, data.data(), data.size());
  EXPECT_EQ(std::count(data.begin(), data.end(), 0), 24);
  EXPECT_TRUE(std::equal(data.begin(), data.begin() + 1000, original.begin()));

  a.range = policy::Range{2000, 3000};  // beyond the transfer: nothing
  data = original;
  Corrupt(a, 1, data.data(), data.size());
  EXPECT_EQ(data, original);

  a.range.reset();  // no range: the whole transfer
  Corrupt(a, 1, data.data(), data.size());
  EXPECT_EQ(std::count(data.begin(), data.end(), 0), 1024);
}

TEST(Corrupt, RandomFillsOnlyTheRange) {
  const std::vector<char> original(1024, 'x');
  CorruptAction a;
  a.mode = CorruptAction::Mode::kRandom;
  a.range = policy::Range{100, 300};
  std::vector<char> data = original;
  Corrupt(a, 1, data.data(), data.size());
  EXPECT_TRUE(std::equal(data.begin(), data.begin() + 100, original.begin()));
  EXPECT_TRUE(std::equal(data.begin() + 300, data.end(), original.begin() + 300));
  const auto changed =
      std::count_if(data.begin() + 100, data.begin() + 300, [](char c) { return c != 'x'; });
  EXPECT_GT(changed, 190) << "random bytes differ from the original almost everywhere";
  std::vector<char> again = original;
  Corrupt(a, 1, again.data(), again.size());
  EXPECT_EQ(again, data) << "a function of the draw";
  Corrupt(a, 2, again.data(), again.size());
  EXPECT_NE(again, data) << "another draw, other bytes";
}

// --- DescribeOutcome ---

TEST(DescribeOutcome, EveryActionHasADescription) {
  const std::vector<policy::Action> actions = {policy::ErrnoAction{{{EIO, 1.0}}, false},
                                               policy::DelayAction{},
                                               policy::BandwidthAction{},
                                               policy::StallAction{},
                                               policy::ShortAction{512, std::nullopt},
                                               policy::TornAction{},
                                               policy::CorruptAction{},
                                               policy::MisdirectAction{},
                                               policy::StaleReadAction{},
                                               policy::LostWriteAction{},
                                               policy::LyingFsyncAction{},
                                               policy::FsyncFailAction{},
                                               policy::KillAction{},
                                               policy::FreezeAction{},
                                               policy::CrashAction{}};
  ASSERT_EQ(actions.size(), std::variant_size_v<policy::Action>) << "one of each kind";
  for (const auto& a : actions) {
    EXPECT_FALSE(DescribeOutcome(a, 5, EIO, 4096, 4 * 4096).empty()) << policy::ActionName(a);
  }
}

TEST(DescribeOutcome, SaysWhatHappened) {
  EXPECT_EQ(DescribeOutcome(policy::ErrnoAction{{{ENOSPC, 1.0}}, false}, 0, ENOSPC, 0, 1),
            "ENOSPC");
  EXPECT_EQ(DescribeOutcome(policy::FsyncFailAction{}, 0, EIO, 0, 0), "EIO");
  EXPECT_EQ(DescribeOutcome(policy::ShortAction{512, std::nullopt}, 0, 0, 0, 4096),
            "short: 512 of 4096 bytes");
  EXPECT_EQ(DescribeOutcome(policy::MisdirectAction{-4096}, 0, 0, 8192, 100),
            "stored at offset 4096");
  const std::string kill = DescribeOutcome(policy::KillAction{}, 0, 0, 0, 0);
  EXPECT_NE(kill.find("KILL"), std::string::npos) << kill;
  EXPECT_NE(kill.find("before"), std::string::npos) << kill;
  const std::string torn =
      DescribeOutcome(TornAction{512, TornAction::Keep::kFirst}, 3, 0, 0, 4 * 512);
  EXPECT_NE(torn.find("of 4 units of 512 bytes"), std::string::npos) << torn;
}

}  // namespace
}  // namespace faultfs::fs
