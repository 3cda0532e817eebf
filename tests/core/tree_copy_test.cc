// Goal: CopyTree reproduces a tree exactly (contents, holes, directories, symlinks, fifos, hard
// links as links, modes, owners, xattrs, mtimes) and refuses a bad destination; RemoveTree removes
// everything and accepts a missing path.
#include "faultfs/core/tree_copy.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <string>

#include "test_support.h"

namespace faultfs {
namespace {

class TreeCopy : public ::testing::Test {
 protected:
  void SetUp() override {
    from_ = root_ + "/from";
    to_ = root_ + "/to";
    ASSERT_EQ(mkdir(from_.c_str(), 0755), 0);
    ASSERT_EQ(mkdir(to_.c_str(), 0755), 0);
  }
  static std::string Read(const std::string& p) {
    std::ifstream in(p, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  }
  testing::TempDir tmp_{"treecopy"};
  std::string root_ = tmp_.path(), from_, to_;
};

TEST_F(TreeCopy, ReproducesEveryKindOfEntry) {
  std::ofstream(from_ + "/file") << "hello";
  ASSERT_EQ(mkdir((from_ + "/dir").c_str(), 0710), 0);
  std::ofstream(from_ + "/dir/inner") << "inner";
  ASSERT_EQ(chmod((from_ + "/file").c_str(), 0640), 0);
  ASSERT_EQ(chown((from_ + "/file").c_str(), 1234, 5678), 0);
  ASSERT_EQ(symlink("dir/inner", (from_ + "/link").c_str()), 0);
  ASSERT_EQ(link((from_ + "/file").c_str(), (from_ + "/dir/hard").c_str()), 0);
  ASSERT_EQ(mkfifo((from_ + "/fifo").c_str(), 0600), 0);
  ASSERT_EQ(setxattr((from_ + "/file").c_str(), "user.k", "v", 1, 0), 0);
  const int fd = open((from_ + "/sparse").c_str(), O_CREAT | O_WRONLY, 0644);
  ASSERT_EQ(pwrite(fd, "end", 3, 64 << 20), 3);
  close(fd);
  const timespec old_times[2] = {{1000, 0}, {2000, 0}};
  ASSERT_EQ(utimensat(AT_FDCWD, (from_ + "/dir/inner").c_str(), old_times, 0), 0);

  ASSERT_TRUE(CopyTree(from_, to_).ok());

  EXPECT_EQ(Read(to_ + "/file"), "hello");
  EXPECT_EQ(Read(to_ + "/dir/inner"), "inner");
  struct stat st {
  }, st2{};
  ASSERT_EQ(stat((to_ + "/file").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0640U);
  EXPECT_EQ(st.st_uid, 1234U);
  EXPECT_EQ(st.st_gid, 5678U);
  EXPECT_EQ(st.st_nlink, 2U) << "hard links stay links";
  ASSERT_EQ(stat((to_ + "/dir/hard").c_str(), &st2), 0);
  EXPECT_EQ(st.st_ino, st2.st_ino);
  ASSERT_EQ(stat((to_ + "/dir").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0710U);
  char target[64] = {};
  ASSERT_EQ(readlink((to_ + "/link").c_str(), target, sizeof(target) - 1), 9);
  EXPECT_STREQ(target, "dir/inner");
  ASSERT_EQ(lstat((to_ + "/fifo").c_str(), &st), 0);
  EXPECT_TRUE(S_ISFIFO(st.st_mode));
  char value[8] = {};
  EXPECT_EQ(getxattr((to_ + "/file").c_str(), "user.k", value, sizeof(value)), 1);
  EXPECT_STREQ(value, "v");
  ASSERT_EQ(stat((to_ + "/sparse").c_str(), &st), 0);
  EXPECT_EQ(st.st_size, (64 << 20) + 3);
  EXPECT_LT(st.st_blocks * 512, 1 << 20) << "holes stay holes";
  ASSERT_EQ(stat((to_ + "/dir/inner").c_str(), &st), 0);
  EXPECT_EQ(st.st_mtim.tv_sec, 2000);
}

TEST_F(TreeCopy, BadDestinationsFailWithTheirPath) {
  const Status missing = CopyTree(from_, root_ + "/nowhere");
  EXPECT_FALSE(missing.ok());
  EXPECT_NE(missing.ToString().find("nowhere"), std::string::npos) << missing.ToString();
  std::ofstream(from_ + "/a") << "a";
  std::ofstream(to_ + "/a") << "already here";
  EXPECT_FALSE(CopyTree(from_, to_).ok()) << "never overwrites";
  EXPECT_EQ(Read(to_ + "/a"), "already here");
}

TEST_F(TreeCopy, RemoveTreeRemovesAllAndAcceptsMissing) {
  ASSERT_EQ(mkdir((from_ + "/d").c_str(), 0755), 0);
  std::ofstream(from_ + "/d/f") << "x";
  ASSERT_TRUE(RemoveTree(from_).ok());
  struct stat st {};
  EXPECT_NE(lstat(from_.c_str(), &st), 0);
  EXPECT_TRUE(RemoveTree(from_).ok()) << "already gone";
}

}  // namespace
}  // namespace faultfs
