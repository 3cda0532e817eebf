// Goal: rebuilding a crash state applies exactly the ops the state lists to the starting
// snapshot: ops find their objects by inode across renames, ops whose target did not survive have
// no effect, pieces and fills of torn writes land where they should, and the same inputs give
// byte-identical trees. Replay applies everything and stops, naming the op, at the first failure.
#include "faultfs/crash/materialize.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/xattr.h>

#include <filesystem>
#include <fstream>

#include "faultfs/core/tree_hash.h"
#include "test_log.h"
#include "test_support.h"

namespace faultfs::crash {
namespace {

namespace stdfs = std::filesystem;
using record::Op;
using record::OpKind;

class MaterializeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    snap_ = root_ + "/snap";
    stdfs::create_directory(snap_);
    std::ofstream(snap_ + "/old") << "old";
    log_.header.inodes = {{1, ""}, {2, "old"}};
  }

  Op& Add(OpKind kind, std::string path, uint64_t ino, std::string data = "",
          std::string path2 = "") {
    return AppendOp(log_, kind, std::move(path), ino, std::move(data), std::move(path2));
  }
  // Builds the state that applies `ops` (indices) in order, into a fresh directory.
  std::string Build(const std::vector<Applied>& applied, const std::string& name = "out") {
    const std::string out = root_ + "/" + name;
    stdfs::create_directory(out);
    CrashState state;
    state.id = "t";
    state.applied = applied;
    Status s = Materialize(snap_, log_, state, 7, out);
    EXPECT_TRUE(s.ok()) << s.ToString();
    return out;
  }
  static std::vector<Applied> All(size_t n) {
    std::vector<Applied> v;
    for (uint32_t i = 0; i < n; ++i) v.push_back(Applied{i});
    return v;
  }
  static std::string Read(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  }

  testing::TempDir tmp_{"mat"};
  std::string root_ = tmp_.path(), snap_;
  record::ReadLog log_;
};

TEST_F(MaterializeTest, WritesFollowTheirInodeAcrossRenames) {
  Add(OpKind::kMkdir, "d", 10);
  Add(OpKind::kCreate, "d/f", 11);
  Add(OpKind::kRename, "d", 10, "", "e");
  Add(OpKind::kWrite, "e/f", 11, "hello");
  Add(OpKind::kRename, "old", 2, "", "e/g");
  Add(OpKind::kWrite, "e/g", 2, "NEW");
  const std::string all = Build(All(6), "all");
  EXPECT_EQ(Read(all + "/e/f"), "hello");
  EXPECT_EQ(Read(all + "/e/g"), "NEW");
  EXPECT_FALSE(stdfs::exists(all + "/old"));
  // Without the directory rename the write still reaches the file, under its old name.
  const std::string partial = Build({{0}, {1}, {3}, {5}}, "partial");
  EXPECT_EQ(Read(partial + "/d/f"), "hello");
  EXPECT_EQ(Read(partial + "/old"), "NEW");  // the pre-existing file, found by its inode
  EXPECT_FALSE(stdfs::exists(partial + "/e"));
}

TEST_F(MaterializeTest, OpsOnObjectsThatDidNotSurviveHaveNoEffect) {
  Add(OpKind::kCreate, "f", 11);
  Add(OpKind::kWrite, "f", 11, "data");
  Add(OpKind::kMkdir, "d", 12);
  Add(OpKind::kCreate, "d/g", 13);
  Add(OpKind::kWrite, "d/g", 13, "lost with d");
  const std::string out = Build({{1}, {3}, {4}});  // neither the create of f nor the mkdir
  EXPECT_FALSE(stdfs::exists(out + "/f"));
  EXPECT_FALSE(stdfs::exists(out + "/d"));
  EXPECT_EQ(Read(out + "/old"), "old");
}

// Goal: a state that applies an op without an op it needs is refused, naming both, instead of
// being built with the op skipped (or applied to whatever holds the name).
TEST_F(MaterializeTest, AStateThatNoFilesystemCouldHaveIsRefused) {
  Add(OpKind::kCreate, "f", 11);
  Add(OpKind::kRename, "f", 11, "", "g");
  const std::string out = root_ + "/refused";
  stdfs::create_directory(out);
  CrashState state;
  state.id = "t";
  state.applied = {{1}};  // the rename without the create that made its source
  const Status s = Materialize(snap_, log_, state, 7, out);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("op 2 (rename f -> g) is applied without op 1 (create f)"),
            std::string::npos)
      << s.ToString();
}

TEST_F(MaterializeTest, UnlinkedFileKeepsNoName) {
  Add(OpKind::kCreate, "tmp", 11);
  Add(OpKind::kUnlink, "tmp", 11);
  Add(OpKind::kWrite, "tmp", 11, "ghost");  // written through a descriptor after the unlink
  const std::string out = Build(All(3));
  EXPECT_FALSE(stdfs::exists(out + "/tmp"));
}

TEST_F(MaterializeTest, PiecesAndFillsOfWrites) {
  Add(OpKind::kCreate, "f", 11);
  Add(OpKind::kWrite, "f", 11, "abcdefgh");
  Add(OpKind::kCreate, "z", 12);
  Add(OpKind::kWrite, "z", 12, "abcd");
  Add(OpKind::kCreate, "r", 13);
  Add(OpKind::kWrite, "r", 13, std::string(64, 'x'));
  Applied piece{1, 2, 5};
  Applied zeros{3};
  zeros.fill = Applied::Fill::kZeros;
  Applied garbage{5};
  garbage.fill = Applied::Fill::kGarbage;
  const std::string out = Build({{0}, piece, {2}, zeros, {4}, garbage});
  EXPECT_EQ(Read(out + "/f"), std::string("\0\0cde", 5));  // bytes 2..5 at offset 2
  EXPECT_EQ(Read(out + "/z"), std::string(4, '\0'));
  const std::string junk = Read(out + "/r");
  EXPECT_EQ(junk.size(), 64u);
  EXPECT_NE(junk, std::string(64, 'x'));
  EXPECT_EQ(junk, Read(Build({{4}, garbage}, "again") + "/r"));  // garbage comes from the seed
}

TEST_F(MaterializeTest, HalfRenameRemovesOnlyTheTarget) {
  Add(OpKind::kCreate, "new", 11);
  Add(OpKind::kRename, "new", 11, "", "old");
  Applied half{1};
  half.part = Applied::Part::kUnlinkTarget;
  const std::string out = Build({{0}, half});
  EXPECT_TRUE(stdfs::exists(out + "/new"));
  EXPECT_FALSE(stdfs::exists(out + "/old"));
}

TEST_F(MaterializeTest, ExchangeSwapsNames) {
  Add(OpKind::kCreate, "a", 11);
  Add(OpKind::kRename, "a", 11, "", "old").flags = RENAME_EXCHANGE;
  Add(OpKind::kWrite, "a", 2, "was-old");  // inode 2 (the old file) is now called "a"
  const std::string out = Build(All(3));
  EXPECT_EQ(Read(out + "/a"), "was-old");
  EXPECT_EQ(Read(out + "/old"), "");
}

TEST_F(MaterializeTest, MetadataOpsAndLinks) {
  Add(OpKind::kCreate, "f", 11);
  Add(OpKind::kChmod, "f", 11).mode = 0600;
  Add(OpKind::kSetxattr, "f", 11, "v", "user.k");
  Add(OpKind::kLink, "f", 11, "", "g");
  Add(OpKind::kSymlink, "s", 12, "f");
  Add(OpKind::kTruncate, "g", 11).offset = 10;
  const std::string out = Build(All(6));
  struct stat st {};
  ASSERT_EQ(stat((out + "/f").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0600u);
  EXPECT_EQ(st.st_nlink, 2u);
  EXPECT_EQ(st.st_size, 10);
  char value[8] = {};
  EXPECT_EQ(getxattr((out + "/g").c_str(), "user.k", value, sizeof(value)), 1);
  EXPECT_EQ(stdfs::read_symlink(out + "/s"), "f");
}

TEST_F(MaterializeTest, SameInputsGiveIdenticalTrees) {
  Add(OpKind::kMkdir, "d", 10);
  Add(OpKind::kCreate, "d/f", 11);
  Add(OpKind::kWrite, "d/f", 11, std::string(100000, 'q'));
  Applied garbage{2, 10, 90000};
  garbage.fill = Applied::Fill::kGarbage;
  auto one = HashTree(Build({{0}, {1}, garbage}, "one"));
  auto two = HashTree(Build({{0}, {1}, garbage}, "two"));
  auto other = HashTree(Build({{0}, {1}, {2}}, "other"));
  ASSERT_TRUE(one.ok() && two.ok() && other.ok());
  EXPECT_EQ(*one, *two);
  EXPECT_NE(*one, *other);
}

TEST_F(MaterializeTest, ReplayAppliesEverythingAndNamesTheFailingOp) {
  Add(OpKind::kCreate, "f", 11);
  Add(OpKind::kWrite, "f", 11, "x");
  Add(OpKind::kFsync, "f", 11);
  Add(OpKind::kMark, "", 0, "done");
  const std::string dir = root_ + "/replay";
  stdfs::copy(snap_, dir, stdfs::copy_options::recursive);
  int seen = 0;
  ASSERT_TRUE(Replay(log_, dir, 4, [&](const Op&) { ++seen; }).ok());
  EXPECT_EQ(seen, 4);
  EXPECT_EQ(Read(dir + "/f"), "x");
  // Replaying again: the create finds its file already there.
  Status again = Replay(log_, dir, 4);
  ASSERT_FALSE(again.ok());
  EXPECT_NE(again.message().find("op 1 (create f)"), std::string::npos) << again.ToString();
}

}  // namespace
}  // namespace faultfs::crash
