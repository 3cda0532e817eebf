// Goal: the ready policies fire under a real SQLite (Debian's sqlite3 CLI) running in the mount:
// fsync-failure.toml fails the third fsync of its log in WAL mode (-wal) and in rollback mode
// (-journal), and SQLite reports the I/O error; torn-writes.toml is aimed at SQLite's page writes
// (its rule matches them; under the old 16 KiB threshold it never did). The engine-level test
// (tests/engine/ready_policies_test.cc) covers the other databases' file layouts.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <nlohmann/json.hpp>

#include "test_support.h"

namespace faultfs::testing {
namespace {

class ReadyPolicies : public ::testing::Test {
 protected:
  void SetUp() override {
    for (const auto& d : {backing_, mnt_}) ASSERT_EQ(mkdir(d.c_str(), 0755), 0);
  }
  void Mount(const std::string& policy) {
    ASSERT_EQ(mount_.Start(backing_, mnt_, {"--policy", SourceDir() + "/policies/" + policy}), "");
  }
  // 20 transactions of one row each (a few pages), in `mode`, synchronous=FULL.
  CommandResult Sqlite(const std::string& mode) {
    std::string sql = "PRAGMA journal_mode=" + mode + "; PRAGMA synchronous=FULL;";
    sql += " CREATE TABLE t(x);";
    for (int i = 0; i < 20; ++i) sql += " INSERT INTO t VALUES(randomblob(3000));";
    return RunCommand({"sqlite3", mnt_ + "/app.db", sql}, {}, 120);
  }
  // The rule's counters, from ctl rules --json.
  nlohmann::json Rule(const std::string& id) {
    const CommandResult r = RunCommand({FaultfsBinary(), "ctl", mnt_, "rules", "--json"});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    const nlohmann::json reply = nlohmann::json::parse(r.out);
    for (const auto& rule : reply["rules"])
      if (rule["id"] == id) return rule;
    ADD_FAILURE() << "no rule " << id << " in " << r.out;
    return {};
  }

  TempDir dir_{"ready"};
  std::string backing_ = dir_ / "backing", mnt_ = dir_ / "mnt";
  FaultfsMount mount_;
};

TEST_F(ReadyPolicies, FsyncFailureFailsSqlitesWalFsync) {
  Mount("fsync-failure.toml");
  const CommandResult r = Sqlite("WAL");
  EXPECT_NE(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.err.find("disk I/O error"), std::string::npos) << r.err;
  EXPECT_EQ(Rule("wal-fsync-fails")["fired"], 1) << "the third fsync of app.db-wal";
}

TEST_F(ReadyPolicies, FsyncFailureFailsSqlitesRollbackJournalFsync) {
  Mount("fsync-failure.toml");
  const CommandResult r = Sqlite("DELETE");
  EXPECT_NE(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.err.find("disk I/O error"), std::string::npos) << r.err;
  EXPECT_EQ(Rule("wal-fsync-fails")["fired"], 1) << "the third fsync of app.db-journal";
}

TEST_F(ReadyPolicies, TornWritesAimAtSqlitesPages) {
  Mount("torn-writes.toml");
  (void)Sqlite("WAL");  // a torn page may or may not make SQLite fail: what matters is the aim
  EXPECT_GE(Rule("torn-pages")["matched"].get<uint64_t>(), 20U)
      << "every 4 KiB page write SQLite makes is a candidate";
}

}  // namespace
}  // namespace faultfs::testing
