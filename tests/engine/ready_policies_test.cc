// Goal: the ready policies in policies/ fire where a user of each common database expects them
// to, on that database's real file layout, and not elsewhere: the log fsyncs of PostgreSQL 15
// (pg_wal segments), SQLite (-wal in WAL mode, -journal in rollback mode), Redis 7 (the
// append-only files in appendonlydir/, and appendonly.aof of older versions) and LevelDB/RocksDB
// (NNNNNN.log) are what fsync-failure.toml and power-cut-wal-fsync.toml count, while their data
// files, control files and text logs are not; torn-writes.toml tears page-sized writes (SQLite's
// 4 KiB pages, PostgreSQL's 8 KiB blocks) and never small ones.
//
// The layouts are the files each database creates in a fresh data directory (PostgreSQL 15
// initdb + one table, Redis 7.0 with appendonly yes, LevelDB 1.23 and RocksDB 7 after a few puts,
// SQLite 3.40 in each journal mode).
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "engine_test_util.h"
#include "faultfs/policy/parse.h"

namespace faultfs::engine {
namespace {

using policy::Op;

std::unique_ptr<FaultEngine> ReadyPolicy(const std::string& name) {
  const auto parsed =
      policy::ParsePolicyFile(std::string(FAULTFS_SOURCE_DIR) + "/policies/" + name);
  for (const auto& e : parsed.errors) ADD_FAILURE() << e.ToString();
  auto engine = std::make_unique<FaultEngine>(7);
  EXPECT_TRUE(parsed.ok() && engine->Load(*parsed.policy).ok()) << name;
  return engine;
}

struct Layout {
  const char* database;
  std::vector<std::string> logs;    // fsynced write-ahead or append-only logs
  std::vector<std::string> others;  // data, control and text-log files that get fsynced too
};

const std::vector<Layout>& Layouts() {
  static const std::vector<Layout> kLayouts = {
      {"PostgreSQL 15",
       {"pg_wal/000000010000000000000001", "pg_wal/000000010000000000000002"},
       {"base/5/16384", "base/1/1259", "global/pg_control", "pg_xact/0000",
        "pg_multixact/offsets/0000", "pg_logical/replorigin_checkpoint", "postmaster.pid",
        "log/postgresql-2026-12-07_000000.log"}},
      {"SQLite (WAL)", {"app.db-wal"}, {"app.db", "app.db-shm"}},
      {"SQLite (rollback)", {"app.db-journal"}, {"app.db"}},
      {"Redis 7",
       {"appendonlydir/appendonly.aof.1.incr.aof", "appendonly.aof"},
       {"appendonlydir/appendonly.aof.manifest", "appendonlydir/appendonly.aof.1.base.rdb",
        "dump.rdb", "temp-1234.rdb"}},
      {"LevelDB",
       {"db/000003.log"},
       {"db/MANIFEST-000002", "db/000005.ldb", "db/CURRENT", "db/LOG"}},
      {"RocksDB",
       {"db/000004.log"},
       {"db/MANIFEST-000005", "db/000010.sst", "db/OPTIONS-000007", "db/IDENTITY", "db/LOG"}},
  };
  return kLayouts;
}

// The third fsync of a log is the one these policies aim at: the first two pass, the third fires;
// no fsync of any other file of the database ever fires, however many.
void ExpectThirdLogFsyncFires(const std::string& policy_file) {
  for (const Layout& layout : Layouts()) {
    SCOPED_TRACE(policy_file + " on " + layout.database);
    for (const std::string& log : layout.logs) {
      auto engine = ReadyPolicy(policy_file);
      for (int i = 0; i < 5; ++i) {
        for (const std::string& other : layout.others) {
          EXPECT_TRUE(engine->Decide(Ctx(Op::kFsync, other)).passes()) << other;
          EXPECT_TRUE(engine->Decide(Ctx(Op::kFdatasync, other)).passes()) << other;
        }
      }
      EXPECT_TRUE(engine->Decide(Ctx(Op::kFsync, log)).passes()) << log;
      EXPECT_TRUE(engine->Decide(Ctx(Op::kFdatasync, log)).passes()) << log;
      EXPECT_FALSE(engine->Decide(Ctx(Op::kFsync, log)).passes()) << log << ": the third";
    }
  }
}

TEST(ReadyPolicies, FsyncFailureHitsEachDatabasesLogAndNothingElse) {
  ExpectThirdLogFsyncFires("fsync-failure.toml");
}

TEST(ReadyPolicies, PowerCutAtWalFsyncHitsEachDatabasesLogAndNothingElse) {
  ExpectThirdLogFsyncFires("power-cut-wal-fsync.toml");
}

// Page-sized writes are torn now and then (5%); writes smaller than a page never are.
TEST(ReadyPolicies, TornWritesTearPagesOfEveryDatabaseAndNeverSmallWrites) {
  struct PageWrite {
    const char* database;
    const char* file;
    uint64_t page;
  };
  for (const PageWrite& w :
       {PageWrite{"SQLite", "app.db", 4096}, PageWrite{"PostgreSQL", "base/5/16384", 8192},
        PageWrite{"LevelDB", "db/000005.ldb", 4096}}) {
    SCOPED_TRACE(w.database);
    auto engine = ReadyPolicy("torn-writes.toml");
    int torn = 0;
    for (uint64_t i = 0; i < 1000; ++i) {
      torn += engine->Decide(Ctx(Op::kWrite, w.file, i * w.page, w.page)).passes() ? 0 : 1;
      EXPECT_TRUE(engine->Decide(Ctx(Op::kWrite, w.file, i * w.page, 100)).passes())
          << "a 100-byte write";
    }
    EXPECT_GT(torn, 20) << "about 5% of 1000 page writes";
    EXPECT_LT(torn, 100);
  }
}

}  // namespace
}  // namespace faultfs::engine
