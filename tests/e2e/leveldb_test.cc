// Goal: the LevelDB case study (examples/leveldb) finds what it says it finds in Debian's
// LevelDB, each outcome asserted: a synchronous put makes the asynchronous puts before it durable
// under ext4's model, and under pp the CURRENT file's rename needs a directory fsync; asynchronous
// puts alone are lost even under ext4's model; a torn append to the log is harmless with the
// default options and, with paranoid_checks, leaves a database that refuses to open.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <string>

#include "crashtest_output.h"
#include "test_support.h"

namespace faultfs::testing {
namespace {

class LevelDb : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_EQ(mkdir(data_.c_str(), 0755), 0); }
  CommandResult Crashtest(const std::string& scenario, const std::string& model,
                          const std::string& check = "check") {
    const std::string program = LEVELDB_EXAMPLE;
    return RunCommand({FaultfsBinary(), "crashtest", "--dir", data_, "--workload",
                       program + " workload " + scenario, "--check", program + " " + check,
                       "--model", model, "--seed", "1"},
                      {"TMPDIR=" + dir_.path()}, 600);
  }
  static void ExpectCountsAddUp(const CommandResult& r) {
    EXPECT_EQ(CrashtestFindingStates(r.out), CrashtestFailed(r.out)) << r.out;
  }

  TempDir dir_{"leveldb"};
  std::string data_ = dir_ / "data";
};

TEST_F(LevelDb, ASyncPutMakesTheAsyncPutsBeforeItDurableUnderExt4) {
  const CommandResult r = Crashtest("sync-barrier", "ext4");
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_EQ(CrashtestFailed(r.out), 0) << r.out;
}

TEST_F(LevelDb, UnderPpTheCurrentRenameNeedsADirectoryFsyncThatExt4DoesNotNeed) {
  const CommandResult r = Crashtest("sync-barrier", "pp");
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_NE(r.out.find("fsync the directory db after op"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("-> db/CURRENT)"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("needs a filesystem weaker than ext4"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("CURRENT points to a non-existent file"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("also under the ext4 model"), std::string::npos) << r.out;
  ExpectCountsAddUp(r);
}

TEST_F(LevelDb, AsyncPutsAloneAreLostEvenUnderExt4) {
  const CommandResult r = Crashtest("async", "ext4");
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_NE(r.out.find("fsync db/000003.log after op"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("was acknowledged but is missing"), std::string::npos) << r.out;
  ExpectCountsAddUp(r);
}

TEST_F(LevelDb, ATornLogAppendIsHarmlessByDefaultAndStopsAParanoidOpen) {
  const CommandResult lenient = Crashtest("torn", "torn-512");
  EXPECT_EQ(lenient.exit_code, 0) << lenient.out << lenient.err;
  const CommandResult paranoid = Crashtest("torn", "torn-512", "check --paranoid");
  EXPECT_EQ(paranoid.exit_code, 1) << paranoid.out << paranoid.err;
  EXPECT_NE(paranoid.out.find("tear-proof"), std::string::npos) << paranoid.out;
  EXPECT_NE(paranoid.out.find("Corruption: checksum mismatch"), std::string::npos) << paranoid.out;
  ExpectCountsAddUp(paranoid);
}

}  // namespace
}  // namespace faultfs::testing
