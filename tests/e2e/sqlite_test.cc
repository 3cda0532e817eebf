// Goal: crashtest finds in SQLite (Debian's sqlite3 CLI) what published crash-consistency work
// found, with each outcome asserted: WAL mode with synchronous=FULL is clean under pp; rollback-
// journal mode with synchronous=FULL loses acknowledged commits unless the journal's unlink is
// made durable by an fsync of its directory; with synchronous=OFF both modes lose acknowledged
// rows for want of an fsync of the database. In no state is the database itself corrupt.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include "crashtest_output.h"
#include "test_support.h"

namespace faultfs::testing {
namespace {

class Sqlite : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_EQ(mkdir(data_.c_str(), 0755), 0); }
  CommandResult Crashtest(const std::string& mode, const std::string& sync,
                          const std::string& model) {
    const std::string examples = SourceDir() + "/examples/sqlite";
    return RunCommand(
        {FaultfsBinary(), "crashtest", "--dir", data_, "--workload",
         "sh " + examples + "/workload.sh " + mode + " " + sync + " 3", "--check",
         "sh " + examples + "/check.sh", "--model", model, "--seed", "1", "--max-states", "400"},
        {"TMPDIR=" + dir_.path()}, 600);
  }
  // Every failing state is counted once, under the finding that explains it.
  static void ExpectCountsAddUp(const CommandResult& r) {
    EXPECT_EQ(CrashtestFindingStates(r.out), CrashtestFailed(r.out)) << r.out;
  }
  static void ExpectNoCorruption(const CommandResult& r) {
    EXPECT_EQ(r.out.find("integrity_check:"), std::string::npos) << r.out;
    EXPECT_EQ(r.out.find("sqlite3 failed"), std::string::npos) << r.out;
  }

  TempDir dir_{"sqlite"};
  std::string data_ = dir_ / "data";
};

TEST_F(Sqlite, WalModeWithFullSyncIsCleanUnderPp) {
  const CommandResult r = Crashtest("wal", "full", "pp");
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find(" 0 failed"), std::string::npos) << r.out;
}

TEST_F(Sqlite, RollbackModeWithFullSyncNeedsADirectoryFsyncOfTheJournalUnlink) {
  const CommandResult r = Crashtest("delete", "full", "pp");
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_NE(r.out.find("fsync the root directory after op"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("(unlink db-journal)"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("was acknowledged but is missing"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("also under the ext4 model"), std::string::npos) << r.out;
  ExpectCountsAddUp(r);
  ExpectNoCorruption(r);
}

TEST_F(Sqlite, WithoutSyncBothModesLoseAcknowledgedRows) {
  for (const char* mode : {"wal", "delete"}) {
    const CommandResult r = Crashtest(mode, "off", "pp");
    EXPECT_EQ(r.exit_code, 1) << mode << "\n" << r.out << r.err;
    EXPECT_NE(r.out.find(". fsync db after op"), std::string::npos) << mode << "\n" << r.out;
    ExpectCountsAddUp(r);
    ExpectNoCorruption(r);
  }
}

}  // namespace
}  // namespace faultfs::testing
