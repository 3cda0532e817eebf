// Goal: the literal prefix and suffix taken from a path regex are ones every match really has
// (never too long, or the engine would miss a path the regex matches), and a PathRegex (RE2)
// matches exactly what a reference regex engine matches on whole paths.
#include "faultfs/policy/path_regex.h"

#include <gtest/gtest.h>

#include <regex>

namespace faultfs::policy {
namespace {

TEST(RegexLiteralPrefix, StopsBeforeAnythingThatIsNotAFixedCharacter) {
  EXPECT_EQ(RegexLiteralPrefix("db/[0-9]+\\.sst"), "db/");
  EXPECT_EQ(RegexLiteralPrefix("^wal/log\\.\\d+"), "wal/log.");
  EXPECT_EQ(RegexLiteralPrefix("data/x.*"), "data/x");
  EXPECT_EQ(RegexLiteralPrefix("ab*c"), "a") << "b may be absent";
  EXPECT_EQ(RegexLiteralPrefix("ab?c"), "a");
  EXPECT_EQ(RegexLiteralPrefix("ab{0,2}c"), "a");
  EXPECT_EQ(RegexLiteralPrefix("ab+c"), "ab") << "b is there at least once";
  EXPECT_EQ(RegexLiteralPrefix("a|b"), "") << "alternatives share no start";
  EXPECT_EQ(RegexLiteralPrefix("(db)/x"), "");
  EXPECT_EQ(RegexLiteralPrefix("\\w+/x"), "");
  EXPECT_EQ(RegexLiteralPrefix(".*\\.wal"), "");
  EXPECT_EQ(RegexLiteralPrefix("a\\/b"), "a/b");
}

TEST(RegexLiteralSuffix, StopsAfterAnythingThatIsNotAFixedCharacter) {
  EXPECT_EQ(RegexLiteralSuffix(".*\\.wal"), ".wal");
  EXPECT_EQ(RegexLiteralSuffix(".*\\.wal$"), ".wal");
  EXPECT_EQ(RegexLiteralSuffix("db/[0-9]+\\.sst"), ".sst");
  EXPECT_EQ(RegexLiteralSuffix("ab*"), "") << "b may be absent";
  EXPECT_EQ(RegexLiteralSuffix("a(bc)"), "");
  EXPECT_EQ(RegexLiteralSuffix("x\\d"), "") << "\\d is a class";
  EXPECT_EQ(RegexLiteralSuffix("x\\\\"), "x\\") << "an escaped backslash is a backslash";
  EXPECT_EQ(RegexLiteralSuffix("a|b"), "");
  EXPECT_EQ(RegexLiteralSuffix("x\\$"), "x$") << "an escaped dollar is a character";
}

TEST(PathRegex, MatchesExactlyWhatTheRegexMatches) {
  const char* patterns[] = {"db/[0-9]+\\.sst", "ab*c/.*",         "ab+c",
                            "x|y/z",           "^wal/log\\.\\d+", "(a)?b/c",
                            ".*\\.wal",        ".*/x\\.tar\\.gz", "a.*b\\\\"};
  const char* paths[] = {"db/1.sst", "db/1.sst.tmp", "db/x.sst",   "ac/q", "abbc/q",
                         "abc",      "ac",           "x",          "y/z",  "wal/log.12",
                         "wal/log.", "b/c",          "ab/c",       "",     "zz/db/1.sst",
                         "a/b.wal",  "b.wal.old",    "d/x.tar.gz", "ab\\", "axb\\"};
  for (const char* p : patterns) {
    auto re = PathRegex::Compile(p);
    ASSERT_TRUE(re.ok()) << p;
    const std::regex reference(p, std::regex::ECMAScript);
    for (const char* path : paths) {
      EXPECT_EQ(re->Matches(path), std::regex_match(path, reference))
          << p << " on '" << path << "'";
    }
  }
}

TEST(PathRegex, FirstSegmentAndExtensionOnlyWhenTheLiteralsFixThem) {
  EXPECT_EQ(PathRegex::Compile("db/[0-9]+\\.sst")->FirstSegment(), "db");
  EXPECT_EQ(PathRegex::Compile("db[0-9]/x")->FirstSegment(), "");
  EXPECT_EQ(PathRegex::Compile("db/[0-9]+\\.sst")->Extension(), ".sst");
  EXPECT_EQ(PathRegex::Compile(".*/x\\.tar\\.gz")->Extension(), ".gz");
  EXPECT_EQ(PathRegex::Compile(".*\\.d/x")->Extension(), "") << "the dot is in a directory name";
  EXPECT_EQ(PathRegex::Compile(".*wal.*")->Extension(), "");
  EXPECT_FALSE(PathRegex::Compile("db/(").ok()) << "a bad regex is an error, not a crash";
}

TEST(PathRegex, FlagsAndAlternativesFixNoLiterals) {
  EXPECT_EQ(RegexLiteralPrefix("(?i)db/x"), "");
  EXPECT_EQ(RegexLiteralSuffix("x(?i)\\.wal"), "") << "(?i) makes the tail match other cases";
  EXPECT_TRUE(PathRegex::Compile("x(?i)\\.wal")->Matches("x.WAL"));
}

TEST(PathRegex, PathologicalPatternsStayFast) {
  // A backtracking engine takes exponential time here; RE2 takes linear time.
  auto re = PathRegex::Compile("(a+)+b");
  ASSERT_TRUE(re.ok());
  EXPECT_FALSE(re->Matches(std::string(64, 'a')));
}

}  // namespace
}  // namespace faultfs::policy
