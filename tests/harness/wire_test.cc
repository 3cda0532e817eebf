// Goal: harness frames round-trip whatever way the bytes arrive, and a frame that is oversized or
// damaged is never delivered.
#include "faultfs/harness/wire.h"

#include <gtest/gtest.h>

namespace faultfs::harness {
namespace {

TEST(Wire, FramesRoundTripByteByByte) {
  const nlohmann::json a = {{"t", "append"}, {"term", 3}, {"entries", nlohmann::json::array()}};
  const nlohmann::json b = {{"t", "c_reply"}, {"req", 7}, {"value", std::string(5000, 'v')}};
  const std::string stream = EncodeFrame(a) + EncodeFrame(b);
  FrameReader reader;
  std::vector<nlohmann::json> got;
  for (char c : stream) {
    reader.Add(std::string_view(&c, 1));
    for (;;) {
      auto next = reader.Next();
      ASSERT_TRUE(next.ok()) << next.status().ToString();
      if (!*next) break;
      got.push_back(**next);
    }
  }
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0], a);
  EXPECT_EQ(got[1], b);
  EXPECT_EQ(reader.buffered(), 0u);
}

TEST(Wire, DamagedOrOversizedFramesAreRefused) {
  std::string frame = EncodeFrame({{"t", "vote"}, {"granted", true}});
  frame[frame.size() - 1] ^= 1;
  FrameReader damaged;
  damaged.Add(frame);
  EXPECT_FALSE(damaged.Next().ok());
  FrameReader huge;
  huge.Add(std::string("\xff\xff\xff\x7f\0\0\0\0", 8));
  EXPECT_FALSE(huge.Next().ok());
  FrameReader not_a_map;
  not_a_map.Add(FramePayload("\x01"));  // MessagePack for the integer 1
  EXPECT_FALSE(not_a_map.Next().ok());
  FrameReader partial;  // the negative case: half a good frame is simply not there yet
  const std::string good = EncodeFrame({{"t", "vote"}});
  partial.Add(good.substr(0, good.size() / 2));
  auto next = partial.Next();
  ASSERT_TRUE(next.ok());
  EXPECT_FALSE(next->has_value());
}

}  // namespace
}  // namespace faultfs::harness
