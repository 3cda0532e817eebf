// Goal: the nemesis schedule is a pure function of the seed, respects the quiet end of the run and
// the kinds asked for, and --nemesis names are parsed with a clear error for unknown ones.
#include <gtest/gtest.h>

#include "plan.h"

namespace faultfs::harness {
namespace {

TEST(NemesisPlan, TheSeedGivesTheSchedule) {
  auto kinds = ParseNemeses("all");
  ASSERT_TRUE(kinds.ok());
  const PlanSpec spec{.seed = 7, .nodes = 3, .duration_s = 60, .quiet_s = 10, .kinds = *kinds};
  const auto plan = PlanNemeses(spec);
  ASSERT_GT(plan.size(), 5u);
  auto again = PlanNemeses(spec);
  ASSERT_EQ(again.size(), plan.size());
  for (size_t i = 0; i < plan.size(); ++i) {
    EXPECT_EQ(again[i].kind, plan[i].kind);
    EXPECT_EQ(again[i].start_s, plan[i].start_s);
    EXPECT_EQ(again[i].seed, plan[i].seed);
  }
  PlanSpec other = spec;
  other.seed = 8;
  const auto different = PlanNemeses(other);
  EXPECT_TRUE(different.size() != plan.size() || different[0].start_s != plan[0].start_s);
  double last_end = 0;
  for (const auto& e : plan) {
    EXPECT_GE(e.start_s, last_end) << "one fault at a time";
    EXPECT_LE(e.end_s, 50.0) << "the last 10 s are quiet";
    EXPECT_LT(e.node, 3);
    if (e.kind == NemesisKind::kOneWay) {
      EXPECT_NE(e.peer, e.node);
      EXPECT_GE(e.peer, 0);
    }
    last_end = e.end_s;
  }
}

TEST(NemesisPlan, FamiliesAndNamesAreParsed) {
  auto disk = ParseNemeses("disk,kill-leader");
  ASSERT_TRUE(disk.ok());
  for (NemesisKind k : *disk) EXPECT_TRUE(FamilyOf(k) == "disk" || k == NemesisKind::kKillLeader);
  EXPECT_EQ(disk->size(), 7u);  // five on any node, corrupt-leader, and kill-leader
  auto none = ParseNemeses("none");
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->empty());
  EXPECT_TRUE(PlanNemeses(PlanSpec{.seed = 1, .kinds = *none}).empty());
  auto bad = ParseNemeses("disk,gremlins");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("unknown nemesis 'gremlins'"), std::string::npos);
}

}  // namespace
}  // namespace faultfs::harness
