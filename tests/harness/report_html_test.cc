// Goal: the harness's HTML report is one self-contained page that a real browser (headless
// Chromium) draws with its timeline visible: the nemesis bands, the node marks and the client
// operations in their colours; and text from a run cannot break the markup.
#include <gtest/gtest.h>

#include "png_colours.h"
#include "test_support.h"
#include "timeline.h"

namespace faultfs::harness {
namespace {

using faultfs::testing::TempDir;

Timeline Sample() {
  Timeline t;
  t.title = "harness run <seed 7> & friends";
  t.duration_s = 60;
  t.nodes = 3;
  t.summary = {{"classification", "correct"}, {"acknowledged appends", "1234"}};
  t.bands = {{10, 20, "disk", "corrupt on node 1"}, {30, 34, "net", "one-way 0->2"}};
  t.marks = {{1, 0, "leader", "term 1"}, {15, 1, "exited"}, {16, 1, "restarted"}};
  for (int i = 0; i < 600; ++i) {
    const double s = i * 0.1;
    t.ops.push_back({s, s + 0.002 + (i % 7) * 0.001, "append", i % 50 == 0 ? "info" : "ok", i % 4});
  }
  return t;
}

TEST(HarnessReport, MarkupIsSelfContainedAndEscaped) {
  const std::string html = RenderHtml(Sample());
  EXPECT_NE(html.find("<svg id=\"timeline\""), std::string::npos);
  EXPECT_NE(html.find("<svg id=\"latency\""), std::string::npos);
  EXPECT_NE(html.find("harness run &lt;seed 7&gt; &amp; friends"), std::string::npos);
  EXPECT_EQ(html.find("<script"), std::string::npos);
  EXPECT_EQ(html.find("http://") == std::string::npos ? 0 : html.find("http://"),
            html.find("http://www.w3.org/2000/svg"))
      << "nothing but the SVG namespace refers to the network";
}

TEST(HarnessReport, ChromiumDrawsTheTimeline) {
  TempDir dir("report");
  const std::string page = dir / "report.html";
  faultfs::testing::WriteFile(page, RenderHtml(Sample()));
  const std::string png = dir / "shot.png";
  const auto shot = Screenshot(page, png, dir / "profile");
  ASSERT_EQ(shot.exit_code, 0) << shot.out << shot.err;
  // The disk band (#f4a261 at 25% over white), the net band (#457b9d at 25%), and the ok (#2a9d8f)
  // and info (#d62828) points; the negative case: a colour the page never uses.
  const auto counts = CountColours(
      png, {"253,232,215,4", "209,222,231,4", "42,157,143,10", "214,40,40,10", "255,0,255,2"});
  ASSERT_EQ(counts.size(), 5u);
  EXPECT_GT(counts[0], 1000) << "the disk band";
  EXPECT_GT(counts[1], 300) << "the net band";
  EXPECT_GT(counts[2], 200) << "ok operations and the leader mark";
  EXPECT_GT(counts[3], 20) << "operations with an unknown outcome";
  EXPECT_EQ(counts[4], 0) << "magenta is never drawn";
}

}  // namespace
}  // namespace faultfs::harness
