// Goal: a record log from anyone cannot make faultfs write outside the directory it was given.
// Logs whose paths climb out (".."), are absolute, or whose header points the snapshot elsewhere
// are refused when read, naming the record; a snapshot symlink that points outside is never
// followed by `crash materialize` or `replay`; a log that makes a symlink of its own (to a
// directory outside, or up with "..") and then creates, writes or renames through it is refused
// naming the record and the link, with nothing written beside or behind the output; an intact log
// built the same way still works.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <string>
#include <vector>

#include "faultfs/record/log.h"
#include "test_support.h"

namespace faultfs::testing {
namespace {

using record::Op;
using record::OpKind;

Op MakeOp(OpKind kind, std::string path, std::string path2 = "", std::string data = "") {
  Op op;
  op.kind = kind;
  op.path = std::move(path);
  op.path2 = std::move(path2);
  op.data = std::move(data);
  op.mode = kind == OpKind::kMkdir ? 0755 : 0644;
  return op;
}

class HostileLog : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(mkdir(snapshot_.c_str(), 0755), 0);
    ASSERT_EQ(mkdir(outside_.c_str(), 0755), 0);
    WriteFile(snapshot_ + "/f", "old");
  }

  // A well-formed log (valid checksums) of `ops` beside its snapshot; its header lists the
  // snapshot's objects.
  std::string WriteLog(const std::vector<Op>& ops, const std::string& snapshot = "log.base") {
    record::LogHeader header;
    header.snapshot = snapshot;
    struct stat st {};
    EXPECT_EQ(stat(snapshot_.c_str(), &st), 0);
    header.inodes.emplace_back(st.st_ino, "");
    for (const char* name : {"f", "out"}) {
      if (lstat((snapshot_ + "/" + name).c_str(), &st) == 0)
        header.inodes.emplace_back(st.st_ino, name);
    }
    const std::string path = dir_ / "log";
    unlink(path.c_str());
    auto writer = record::LogWriter::Create(path, header);
    EXPECT_TRUE(writer.ok()) << writer.status().ToString();
    for (const Op& op : ops) EXPECT_TRUE((*writer)->Append(op).ok());
    EXPECT_TRUE((*writer)->Sync().ok());
    return path;
  }
  CommandResult Materialize(const std::string& log, const std::string& state) {
    const std::string out = dir_ / ("out-" + std::to_string(runs_++));
    return RunCommand({FaultfsBinary(), "crash", "materialize", log, "--model", "prefix", "--state",
                       state, "--out", out});
  }
  bool Exists(const std::string& path) const {
    struct stat st {};
    return lstat(path.c_str(), &st) == 0;
  }
  // The names in the test's directory other than its own (snapshot, outside, log, outputs).
  std::vector<std::string> Strangers() const {
    std::vector<std::string> names;
    for (const auto& e : std::filesystem::directory_iterator(dir_.path())) {
      const std::string name = e.path().filename().string();
      if (name != "log.base" && name != "outside" && name != "log" && name.rfind("out-", 0) != 0)
        names.push_back(name);
    }
    return names;
  }
  // Materializes the log's last state and replays it; both must refuse it naming `record`, and
  // nothing may appear outside their output directories.
  void ExpectRefusedAndConfined(const std::vector<Op>& ops, const std::string& record) {
    const std::string log = WriteLog(ops);
    const CommandResult m = Materialize(log, std::to_string(ops.size()));
    EXPECT_EQ(m.exit_code, 1) << m.out << m.err;
    EXPECT_NE(m.err.find(record), std::string::npos) << m.err;
    const CommandResult r =
        RunCommand({FaultfsBinary(), "replay", log, "--to", dir_ / "out-replayed"});
    EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
    EXPECT_NE(r.err.find(record), std::string::npos) << r.err;
    EXPECT_TRUE(std::filesystem::is_empty(outside_)) << "written through the log's symlink";
    EXPECT_EQ(Strangers(), std::vector<std::string>{}) << "written beside the output";
    EXPECT_EQ(ReadFile(snapshot_ + "/f"), "old");
  }

  TempDir dir_{"hostile-log"};
  std::string snapshot_ = dir_ / "log.base";
  std::string outside_ = dir_ / "outside";
  int runs_ = 0;
};

TEST_F(HostileLog, PathsThatClimbOutAreRefusedNamingTheRecord) {
  const std::string escaped = "../outside/escaped";
  CommandResult r = Materialize(WriteLog({MakeOp(OpKind::kCreate, escaped)}), "1");
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_NE(r.err.find("record 1 (create '../outside/escaped'): unsafe path component '..'"),
            std::string::npos)
      << r.err;
  EXPECT_FALSE(Exists(outside_ + "/escaped"));
  // The same through a rename's destination and a link's new name.
  r = Materialize(WriteLog({MakeOp(OpKind::kRename, "f", "../outside/moved")}), "1");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("record 1 (rename 'f' -> '../outside/moved')"), std::string::npos) << r.err;
  r = Materialize(WriteLog({MakeOp(OpKind::kLink, "f", "a/../../outside/linked")}), "1");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_FALSE(Exists(outside_ + "/moved"));
  EXPECT_FALSE(Exists(outside_ + "/linked"));
  EXPECT_EQ(ReadFile(snapshot_ + "/f"), "old");
}

TEST_F(HostileLog, AbsolutePathsAndForeignSnapshotsAreRefused) {
  const std::string target = outside_ + "/absolute";
  CommandResult r = Materialize(WriteLog({MakeOp(OpKind::kCreate, target)}), "1");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("record 1"), std::string::npos) << r.err;
  EXPECT_FALSE(Exists(target));
  r = Materialize(WriteLog({MakeOp(OpKind::kCreate, "g")}, "/etc"), "1");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("names the starting snapshot '/etc'"), std::string::npos) << r.err;
  r = Materialize(WriteLog({MakeOp(OpKind::kCreate, "g")}, "../outside"), "1");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("must be the name of a directory beside the log"), std::string::npos)
      << r.err;
}

TEST_F(HostileLog, ImpossibleHistoriesAreRefused) {
  CommandResult r = Materialize(WriteLog({MakeOp(OpKind::kRename, "missing", "g")}), "1");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("'missing' does not exist at that point"), std::string::npos) << r.err;
  r = Materialize(WriteLog({MakeOp(OpKind::kCreate, "f")}), "1");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("'f' already exists at that point"), std::string::npos) << r.err;
}

TEST_F(HostileLog, ASymlinkInTheSnapshotIsNeverFollowed) {
  ASSERT_EQ(symlink(outside_.c_str(), (snapshot_ + "/out").c_str()), 0);
  const std::string log = WriteLog(
      {MakeOp(OpKind::kCreate, "out/evil"), MakeOp(OpKind::kWrite, "out", "", "through the link")});
  CommandResult r = Materialize(log, "1");
  EXPECT_NE(r.exit_code, 0) << r.out;
  EXPECT_FALSE(Exists(outside_ + "/evil"));
  r = RunCommand({FaultfsBinary(), "replay", log, "--to", dir_ / "replayed"});
  EXPECT_NE(r.exit_code, 0) << r.out;
  EXPECT_FALSE(Exists(outside_ + "/evil"));
  EXPECT_TRUE(Exists(dir_ / "outside"));
}

TEST_F(HostileLog, CreatingThroughItsOwnAbsoluteSymlinkIsRefused) {
  ExpectRefusedAndConfined(
      {MakeOp(OpKind::kSymlink, "s", "", outside_), MakeOp(OpKind::kCreate, "s/evil"),
       MakeOp(OpKind::kWrite, "s/evil", "", "through the link")},
      "record 2 (create 's/evil'): 's' is not a directory");
}

TEST_F(HostileLog, MakingADirectoryThroughASymlinkUpIsRefused) {
  ExpectRefusedAndConfined(
      {MakeOp(OpKind::kSymlink, "u", "", ".."), MakeOp(OpKind::kMkdir, "u/climbed")},
      "record 2 (mkdir 'u/climbed'): 'u' is not a directory");
}

TEST_F(HostileLog, RenamingIntoItsOwnSymlinkIsRefused) {
  ExpectRefusedAndConfined(
      {MakeOp(OpKind::kSymlink, "s", "", outside_), MakeOp(OpKind::kRename, "f", "s/f")},
      "record 2 (rename 'f' -> 's/f'): 's' is not a directory");
}

// The negative case: the same kind of log, well-formed, is materialized.
TEST_F(HostileLog, AnIntactLogStillWorks) {
  const std::string log =
      WriteLog({MakeOp(OpKind::kCreate, "g"), MakeOp(OpKind::kWrite, "g", "", "new"),
                MakeOp(OpKind::kRename, "g", "f")});
  const CommandResult r = Materialize(log, "3");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(ReadFile(dir_ / "out-0/f"), "new");
}

}  // namespace
}  // namespace faultfs::testing
