// Goal: a record log that makes a symlink of its own (to a directory outside, or up with "..") and
// then creates, writes or renames through it cannot make `crash materialize` or `replay` touch
// anything outside the directory they build: the log is refused naming the record and the link, and
// nothing appears beside or behind the output.
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

class HostileLogLinks : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(mkdir(snapshot_.c_str(), 0755), 0);
    ASSERT_EQ(mkdir(outside_.c_str(), 0755), 0);
    WriteFile(snapshot_ + "/f", "old");
  }
  // A well-formed log of `ops` beside its snapshot (valid checksums; the header lists "" and f).
  std::string WriteLog(const std::vector<Op>& ops) {
    record::LogHeader header;
    header.snapshot = "log.base";
    struct stat st {};
    EXPECT_EQ(stat(snapshot_.c_str(), &st), 0);
    header.inodes.emplace_back(st.st_ino, "");
    EXPECT_EQ(stat((snapshot_ + "/f").c_str(), &st), 0);
    header.inodes.emplace_back(st.st_ino, "f");
    const std::string path = dir_ / ("log-" + std::to_string(logs_++));
    auto writer = record::LogWriter::Create(path, header);
    EXPECT_TRUE(writer.ok()) << writer.status().ToString();
    for (const Op& op : ops) EXPECT_TRUE((*writer)->Append(op).ok());
    EXPECT_TRUE((*writer)->Sync().ok());
    return path;
  }
  // The names in `dir` other than the test's own.
  std::vector<std::string> Strangers(const std::string& dir) const {
    std::vector<std::string> names;
    for (const auto& e : std::filesystem::directory_iterator(dir)) {
      const std::string name = e.path().filename().string();
      if (name != "log.base" && name != "outside" && name.rfind("log-", 0) != 0 &&
          name.rfind("out-", 0) != 0)
        names.push_back(name);
    }
    return names;
  }
  // Materializes the log's last state and replays it; both must refuse it naming `record`, and
  // nothing may appear outside their output directories.
  void ExpectRefusedAndConfined(const std::vector<Op>& ops, const std::string& record) {
    const std::string log = WriteLog(ops);
    const std::string n = std::to_string(ops.size());
    const CommandResult m =
        RunCommand({FaultfsBinary(), "crash", "materialize", log, "--model", "prefix", "--state", n,
                    "--out", dir_ / ("out-m" + std::to_string(logs_))});
    EXPECT_EQ(m.exit_code, 1) << m.out << m.err;
    EXPECT_NE(m.err.find(record), std::string::npos) << m.err;
    const CommandResult r = RunCommand(
        {FaultfsBinary(), "replay", log, "--to", dir_ / ("out-r" + std::to_string(logs_))});
    EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
    EXPECT_NE(r.err.find(record), std::string::npos) << r.err;
    EXPECT_TRUE(std::filesystem::is_empty(outside_)) << "written through the log's symlink";
    EXPECT_EQ(Strangers(dir_.path()), std::vector<std::string>{}) << "written beside the output";
    EXPECT_EQ(ReadFile(snapshot_ + "/f"), "old");
  }

  TempDir dir_{"hostile-log-links"};
  std::string snapshot_ = dir_ / "log.base";
  std::string outside_ = dir_ / "outside";
  int logs_ = 0;
};

TEST_F(HostileLogLinks, CreatingThroughItsOwnAbsoluteSymlinkIsRefused) {
  ExpectRefusedAndConfined(
      {MakeOp(OpKind::kSymlink, "s", "", outside_), MakeOp(OpKind::kCreate, "s/evil"),
       MakeOp(OpKind::kWrite, "s/evil", "", "through the link")},
      "record 2 (create 's/evil'): 's' is not a directory");
}

TEST_F(HostileLogLinks, MakingADirectoryThroughASymlinkUpIsRefused) {
  ExpectRefusedAndConfined(
      {MakeOp(OpKind::kSymlink, "u", "", ".."), MakeOp(OpKind::kMkdir, "u/climbed")},
      "record 2 (mkdir 'u/climbed'): 'u' is not a directory");
}

TEST_F(HostileLogLinks, RenamingIntoItsOwnSymlinkIsRefused) {
  ExpectRefusedAndConfined(
      {MakeOp(OpKind::kSymlink, "s", "", outside_), MakeOp(OpKind::kRename, "f", "s/f")},
      "record 2 (rename 'f' -> 's/f'): 's' is not a directory");
}

}  // namespace
}  // namespace faultfs::testing
