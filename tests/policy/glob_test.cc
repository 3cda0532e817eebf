// Goal: path globs match exactly what policies/README.md says they match, and malformed globs
// are rejected with a reason.
#include "faultfs/policy/glob.h"

#include <gtest/gtest.h>

namespace faultfs::policy {
namespace {

bool M(std::string_view pattern, std::string_view path) {
  auto g = Glob::Compile(pattern);
  EXPECT_TRUE(g.ok()) << pattern << ": " << g.status().ToString();
  return g.ok() && g->Matches(path);
}

TEST(Glob, LiteralAndSingleStar) {
  EXPECT_TRUE(M("CURRENT", "CURRENT"));
  EXPECT_FALSE(M("CURRENT", "CURRENTx"));
  EXPECT_TRUE(M("*.log", "000001.log"));
  EXPECT_FALSE(M("*.log", "wal/000001.log")) << "* does not cross '/'";
  EXPECT_TRUE(M("wal/*.log", "wal/000001.log"));
  EXPECT_TRUE(M("*", "x"));
  EXPECT_FALSE(M("*", "a/b"));
  EXPECT_TRUE(M("a*b*c", "aXXbYYc"));
  EXPECT_FALSE(M("a*b*c", "aXXbYY"));
}

TEST(Glob, DoubleStarCrossesDirectories) {
  EXPECT_TRUE(M("**/*.wal", "x.wal")) << "**/ matches no directory at all";
  EXPECT_TRUE(M("**/*.wal", "a/b/c/x.wal"));
  EXPECT_FALSE(M("**/*.wal", "a/b/x.wall"));
  EXPECT_TRUE(M("db/**", "db/a/b"));
  EXPECT_TRUE(M("db/**", "db")) << "trailing ** matches the directory itself";
  EXPECT_FALSE(M("db/**", "dbx/a"));
  EXPECT_TRUE(M("a/**/z", "a/z"));
  EXPECT_TRUE(M("a/**/z", "a/b/c/z"));
  EXPECT_FALSE(M("a/**/z", "a/b/c/zz"));
  EXPECT_TRUE(M("**", "anything/at/all"));
}

TEST(Glob, QuestionMarkClassesAndBraces) {
  EXPECT_TRUE(M("00000?.log", "000001.log"));
  EXPECT_FALSE(M("00000?.log", "00001.log"));
  EXPECT_TRUE(M("[0-9][0-9].sst", "42.sst"));
  EXPECT_FALSE(M("[0-9][0-9].sst", "4x.sst"));
  EXPECT_TRUE(M("[!.]*", "data"));
  EXPECT_FALSE(M("[!.]*", ".hidden"));
  EXPECT_TRUE(M("**/*.{dat,db,sst}", "x/y.sst"));
  EXPECT_TRUE(M("**/*.{dat,db,sst}", "y.db"));
  EXPECT_FALSE(M("**/*.{dat,db,sst}", "y.log"));
  EXPECT_TRUE(M("{wal,log}/*", "log/1"));
}

TEST(Glob, IndexAnchors) {
  auto g = [](std::string_view p) { return *Glob::Compile(p); };
  EXPECT_EQ(g("db/**").FirstSegments(), std::vector<std::string>{"db"});
  EXPECT_EQ(g("{db,wal}/*.log").FirstSegments(), (std::vector<std::string>{"db", "wal"}));
  EXPECT_EQ(g("**/x").FirstSegments(), std::vector<std::string>{""});
  EXPECT_EQ(g("d*/x").FirstSegments(), std::vector<std::string>{""});
  EXPECT_EQ(g("**/*.wal").Extensions(), std::vector<std::string>{".wal"});
  EXPECT_EQ(g("**/*.tar.gz").Extensions(), std::vector<std::string>{""})
      << "not a single extension";
  EXPECT_EQ(g("**/x.wal").Extensions(), std::vector<std::string>{""})
      << "a literal name, not any *.wal";
  EXPECT_EQ(g("**/*[0-9]").Extensions(), std::vector<std::string>{""});
}

TEST(Glob, RejectsMalformedPatterns) {
  for (const char* bad : {"", "/abs/path", "a{b", "a}b", "{a{b}}", "x[ab"}) {
    EXPECT_FALSE(Glob::Compile(bad).ok()) << "'" << bad << "' should be rejected";
  }
}

}  // namespace
}  // namespace faultfs::policy
