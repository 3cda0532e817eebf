// Goal: the built-in oracle demands exactly what the workload made durable: an fsynced file with
// the content it had at its fsync, the names a directory listed at its fsync; it forgives what a
// later op changed again, and a missing name only where the model promises the name.
#include "faultfs/crash/oracle.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "faultfs/crash/materialize.h"
#include "test_log.h"
#include "test_support.h"

namespace faultfs::crash {
namespace {

namespace stdfs = std::filesystem;
using record::Op;
using record::OpKind;

class OracleTest : public ::testing::Test {
 protected:
  void SetUp() override {
    stdfs::create_directory(root_ + "/snap");
    log_.header.inodes = {{1, ""}};
    // create f; write "v1"; fsync f; create g; fsyncdir /; write f "v2" (unsynced)
    Add(OpKind::kCreate, "f", 11);
    Add(OpKind::kWrite, "f", 11, "v1");
    Add(OpKind::kFsync, "f", 11);
    Add(OpKind::kCreate, "g", 12);
    Add(OpKind::kFsyncdir, "", 1);
    Add(OpKind::kWrite, "f", 11, "v2");
  }

  void Add(OpKind kind, std::string path, uint64_t ino, std::string data = "") {
    AppendOp(log_, kind, std::move(path), ino, std::move(data));
  }
  DurabilityOracle Oracle(const char* model) {
    static int n = 0;
    auto o = DurabilityOracle::Build(root_ + "/snap", log_, *ParseModel(model),
                                     root_ + "/oracle" + std::to_string(n++));
    EXPECT_TRUE(o.ok()) << o.status().ToString();
    return std::move(*o);
  }
  // A state directory holding `files` (name -> content).
  std::string State(const std::map<std::string, std::string>& files) {
    static int n = 0;
    const std::string dir = root_ + "/state" + std::to_string(n++);
    stdfs::create_directory(dir);
    for (const auto& [name, content] : files) std::ofstream(dir + "/" + name) << content;
    return dir;
  }

  testing::TempDir tmp_{"oracle"};
  std::string root_ = tmp_.path();
  record::ReadLog log_;
};

TEST_F(OracleTest, DemandsFsyncedContentAndDirectoryNames) {
  DurabilityOracle pp = Oracle("pp");
  EXPECT_EQ(pp.facts(), 2u);
  EXPECT_TRUE(pp.Check(5, State({{"f", "v1"}, {"g", ""}})).empty());
  // Wrong content of the fsynced file.
  auto bad = pp.Check(5, State({{"f", "v0"}, {"g", ""}}));
  ASSERT_EQ(bad.size(), 1u);
  EXPECT_EQ(bad[0], "f (made durable by op 3) does not hold what it held then");
  // A name the directory fsync made durable is gone.
  bad = pp.Check(5, State({{"f", "v1"}}));
  ASSERT_EQ(bad.size(), 1u);
  EXPECT_EQ(bad[0], "g (made durable by op 5) is missing");
}

TEST_F(OracleTest, NothingIsDemandedBeforeThePersistencePointOrAfterALaterChange) {
  DurabilityOracle pp = Oracle("pp");
  EXPECT_TRUE(pp.Check(2, State({})).empty());  // the fsync (op 3) was not issued yet
  // After op 6 rewrote f, either version may be on disk; g must still be there.
  EXPECT_TRUE(pp.Check(6, State({{"f", "anything"}, {"g", ""}})).empty());
  EXPECT_FALSE(pp.Check(6, State({{"f", "anything"}})).empty());
}

TEST_F(OracleTest, StrictModelDoesNotPromiseTheNameOfAnFsyncedFile) {
  // Crash point 3: f fsynced, its directory not yet. pp keeps the name; pp-strict does not.
  EXPECT_FALSE(Oracle("pp").Check(3, State({})).empty());
  EXPECT_TRUE(Oracle("pp-strict").Check(3, State({})).empty());
  EXPECT_FALSE(
      Oracle("pp-strict").Check(3, State({{"f", "v0"}})).empty());  // present: must be right
}

TEST_F(OracleTest, EveryStateOfTheModelsPasses) {
  // The models honour persistence points, so the oracle finds nothing in their states.
  const std::string snap = root_ + "/snap";
  for (const char* name : {"prefix", "pp", "pp-strict", "weak", "reorder-2", "torn-512"}) {
    const Model model = *ParseModel(name);
    DurabilityOracle oracle = Oracle(name);
    const auto states = Enumerate(log_, model, 1, 1000).states;
    int n = 0;
    for (const auto& s : states) {
      const std::string out = root_ + "/" + name + std::to_string(n++);
      stdfs::create_directory(out);
      ASSERT_TRUE(Materialize(snap, log_, s, 1, out).ok());
      EXPECT_TRUE(oracle.Check(s.crash_point, out).empty()) << name << " state " << s.id;
    }
  }
}

}  // namespace
}  // namespace faultfs::crash
