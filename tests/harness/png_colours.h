// Counting colours in a screenshot (tests/harness/png_pixel.py): how tests check what headless
// Chromium drew.
#pragma once

#include <gtest/gtest.h>

#include <sstream>
#include <string>
#include <vector>

#include "test_support.h"

namespace faultfs::harness {

// Per colour "R,G,B,TOLERANCE": how many pixels of `png` are within the tolerance of it.
inline std::vector<int> CountColours(const std::string& png,
                                     const std::vector<std::string>& colours) {
  std::vector<std::string> argv = {
      "python3", std::string(FAULTFS_SOURCE_DIR) + "/tests/harness/png_pixel.py", png, "count"};
  argv.insert(argv.end(), colours.begin(), colours.end());
  const auto r = faultfs::testing::RunCommand(argv, {}, 120);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  std::vector<int> counts;
  std::istringstream in(r.out);
  for (int n = 0; in >> n;) counts.push_back(n);
  return counts;
}

// Draws `page` in headless Chromium into `png`; the command's result (exit 0 on success).
inline faultfs::testing::CommandResult Screenshot(const std::string& page, const std::string& png,
                                                  const std::string& profile) {
  return faultfs::testing::RunCommand(
      {"chromium", "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
       "--no-first-run", "--disable-background-networking", "--disable-component-update",
       "--disable-sync", "--hide-scrollbars", "--user-data-dir=" + profile,
       "--window-size=1300,1100", "--screenshot=" + png, "file://" + page},
      {}, 120);
}

}  // namespace faultfs::harness
