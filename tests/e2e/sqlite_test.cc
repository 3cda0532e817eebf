// Goal: crashtest finds in SQLite (Debian's sqlite3 CLI) what published crash-consistency work
// found, with each outcome asserted: WAL mode with synchronous=FULL is clean under pp; rollback-
// journal mode with synchronous=FULL loses acknowledged commits unless the journal's unlink is
// made durable by an fsync of its directory; with synchronous=OFF both modes lose acknowledged
// rows for want of an fsync of the database; synchronous=EXTRA makes rollback mode clean, and
// synchronous=NORMAL in WAL mode loses the commits of a connection that stays open. In no state
// is the database itself corrupt. Live
// faults (examples/sqlite/faults.sh): EIO and ENOSPC in the middle of a transaction reach the
// client, and the database stays intact; with no fault the same transaction commits.
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
                          const std::string& model, const std::string& connections = "each") {
    const std::string examples = SourceDir() + "/examples/sqlite";
    return RunCommand(
        {FaultfsBinary(), "crashtest", "--dir", data_, "--workload",
         "sh " + examples + "/workload.sh " + mode + " " + sync + " 3 " + connections, "--check",
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

TEST_F(Sqlite, RollbackModeWithExtraSyncIsCleanUnderPpAndExt4) {
  // synchronous=EXTRA syncs the directory after the journal's unlink: the fix the test above asks
  // for, which SQLite offers.
  for (const char* model : {"pp", "ext4"}) {
    const CommandResult r = Crashtest("delete", "extra", model);
    EXPECT_EQ(r.exit_code, 0) << model << "\n" << r.out << r.err;
  }
}

TEST_F(Sqlite, WalModeWithNormalSyncLosesCommitsOfAnOpenConnectionButNothingIsCorrupt) {
  // A connection that stays open: commits under synchronous=NORMAL wait for a checkpoint to be
  // synced, so acknowledged rows can be lost, also under ext4's model. The same workload with a
  // process per transaction is clean: closing the last connection checkpoints the WAL.
  const CommandResult open = Crashtest("wal", "normal", "pp", "one");
  EXPECT_EQ(open.exit_code, 1) << open.out << open.err;
  EXPECT_NE(open.out.find("fsync db-wal after op"), std::string::npos) << open.out;
  EXPECT_NE(open.out.find("also under the ext4 model"), std::string::npos) << open.out;
  EXPECT_NE(open.out.find("was acknowledged but is missing"), std::string::npos) << open.out;
  ExpectCountsAddUp(open);
  ExpectNoCorruption(open);
  const CommandResult closing = Crashtest("wal", "normal", "pp", "each");
  EXPECT_EQ(closing.exit_code, 0) << closing.out << closing.err;
  const CommandResult full = Crashtest("wal", "full", "pp", "one");
  EXPECT_EQ(full.exit_code, 0) << full.out << full.err;
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

TEST(SqliteFaults, EioAndEnospcMidTransactionReachTheClientAndLeaveTheDatabaseIntact) {
  TempDir dir("sqlite-faults");
  const CommandResult r =
      RunCommand({"sh", SourceDir() + "/examples/sqlite/faults.sh", FaultfsBinary()},
                 {"TMPDIR=" + dir.path()}, 300);
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("every case as expected"), std::string::npos) << r.out;
  // Each of the six cases was run and judged: three per journal mode.
  for (const char* line :
       {"delete control: no fault", "wal    control: no fault",
        "delete EIO on the 2nd write to db ", "wal    EIO on the 2nd write to db-wal",
        "delete ENOSPC", "wal    ENOSPC"}) {
    EXPECT_NE(r.out.find(line), std::string::npos) << line << "\n" << r.out;
  }
  EXPECT_EQ(r.out.find("FAILED"), std::string::npos) << r.out;
}

}  // namespace
}  // namespace faultfs::testing
