// Goal: DiffTrees names every kind of difference between two trees (missing and extra names, type,
// content as merged and capped byte ranges, mode, owner, xattrs, symlink target, device, hard
// links) in walk order, reads large and sparse files in chunks, and finds nothing in identical
// trees.
#include "faultfs/core/tree_diff.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "faultfs/core/tree_copy.h"
#include "test_support.h"

namespace faultfs {
namespace {

class TreeDiff : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(mkdir(a_.c_str(), 0755), 0);
    ASSERT_EQ(mkdir(b_.c_str(), 0755), 0);
  }
  std::vector<TreeDifference> Diff(const TreeDiffOptions& options = {}) {
    auto d = DiffTrees(a_, b_, options);
    EXPECT_TRUE(d.ok()) << d.status().ToString();
    return d.ok() ? *d : std::vector<TreeDifference>{};
  }
  // Writes `data` at `offset` of `path`, creating it.
  static void WriteAt(const std::string& path, const std::string& data, off_t offset) {
    const int fd = open(path.c_str(), O_WRONLY | O_CREAT, 0644);
    ASSERT_GE(fd, 0) << path;
    ASSERT_EQ(pwrite(fd, data.data(), data.size(), offset), static_cast<ssize_t>(data.size()));
    close(fd);
  }
  // "kind path expected|actual" for each difference, to compare whole lists at once.
  static std::vector<std::string> Lines(const std::vector<TreeDifference>& diffs) {
    std::vector<std::string> out;
    for (const auto& d : diffs)
      out.push_back(std::string(TreeDiffKindName(d.kind)) + " " + d.path + " " + d.expected + "|" +
                    d.actual);
    return out;
  }

  testing::TempDir tmp_{"treediff"};
  std::string a_ = tmp_ / "a", b_ = tmp_ / "b";
};

TEST_F(TreeDiff, IdenticalTreesHaveNoDifferences) {
  testing::WriteFile(a_ + "/f", "hello");
  ASSERT_EQ(mkdir((a_ + "/d").c_str(), 0700), 0);
  WriteAt(a_ + "/d/sparse", "end", 32 << 20);
  ASSERT_EQ(symlink("d/sparse", (a_ + "/link").c_str()), 0);
  ASSERT_EQ(link((a_ + "/f").c_str(), (a_ + "/d/hard").c_str()), 0);
  ASSERT_EQ(mkfifo((a_ + "/fifo").c_str(), 0600), 0);
  ASSERT_EQ(setxattr((a_ + "/f").c_str(), "user.k", "v", 1, 0), 0);
  ASSERT_TRUE(CopyTree(a_, b_).ok());
  EXPECT_TRUE(Diff().empty());
  EXPECT_TRUE(DiffTrees(a_, a_).ok());
}

TEST_F(TreeDiff, MissingAndExtraNamesAreReportedOncePerSubtree) {
  testing::WriteFile(a_ + "/same", "x");
  testing::WriteFile(b_ + "/same", "x");
  ASSERT_EQ(mkdir((a_ + "/gone").c_str(), 0755), 0);
  testing::WriteFile(a_ + "/gone/inner", "not listed: its directory is");
  testing::WriteFile(a_ + "/f.tmp", "");
  testing::WriteFile(b_ + "/new", "");
  EXPECT_EQ(Lines(Diff()),
            (std::vector<std::string>{"missing f.tmp file|", "missing gone directory|",
                                      "extra new |file"}));
}

TEST_F(TreeDiff, AnotherKindOfObjectIsATypeDifferenceAndNothingMore) {
  testing::WriteFile(a_ + "/x", "data");
  ASSERT_EQ(mkdir((b_ + "/x").c_str(), 0700), 0);
  testing::WriteFile(b_ + "/x/inside", "");
  EXPECT_EQ(Lines(Diff()), (std::vector<std::string>{"type x file|directory"}));
}

TEST_F(TreeDiff, MetadataDifferences) {
  for (const std::string& root : {a_, b_}) {
    testing::WriteFile(root + "/m", "");
    ASSERT_EQ(symlink(root == a_ ? "one" : "two", (root + "/l").c_str()), 0);
  }
  ASSERT_EQ(chmod((a_ + "/m").c_str(), 0600), 0);
  ASSERT_EQ(chmod((b_ + "/m").c_str(), 0644), 0);
  ASSERT_EQ(chown((b_ + "/m").c_str(), 1234, 5678), 0);
  ASSERT_EQ(setxattr((a_ + "/m").c_str(), "user.same", "1", 1, 0), 0);
  ASSERT_EQ(setxattr((b_ + "/m").c_str(), "user.same", "1", 1, 0), 0);
  ASSERT_EQ(setxattr((a_ + "/m").c_str(), "user.k", "old\n", 4, 0), 0);
  ASSERT_EQ(setxattr((b_ + "/m").c_str(), "user.k", "new", 3, 0), 0);
  ASSERT_EQ(setxattr((a_ + "/m").c_str(), "user.only", "", 0, 0), 0);
  const std::string owner = std::to_string(getuid()) + ":" + std::to_string(getgid());
  EXPECT_EQ(Lines(Diff()),
            (std::vector<std::string>{
                "symlink l one|two", "mode m 0600|0644", "owner m " + owner + "|1234:5678",
                "xattrs m user.k=\"old\\x0a\", user.only=\"\"|user.k=\"new\""}));
}

TEST_F(TreeDiff, DeviceNumbersAndTheRootsOwnMetadata) {
  if (mknod((a_ + "/dev").c_str(), S_IFCHR | 0600, makedev(1, 3)) != 0)
    GTEST_SKIP() << "cannot make device nodes here";
  ASSERT_EQ(mknod((b_ + "/dev").c_str(), S_IFCHR | 0600, makedev(1, 5)), 0);
  ASSERT_EQ(chmod(b_.c_str(), 0700), 0);
  EXPECT_EQ(Lines(Diff()), (std::vector<std::string>{"mode  0755|0700", "device dev 1:3|1:5"}));
}

TEST_F(TreeDiff, HardLinksThatAreNotLinksOnTheOtherSide) {
  testing::WriteFile(a_ + "/f", "same");
  ASSERT_EQ(link((a_ + "/f").c_str(), (a_ + "/g").c_str()), 0);
  testing::WriteFile(b_ + "/f", "same");
  testing::WriteFile(b_ + "/g", "same");
  EXPECT_EQ(Lines(Diff()), (std::vector<std::string>{"links f g|", "links g f|"}));
}

TEST_F(TreeDiff, ALinkInsideAMissingDirectoryIsStillAnotherName) {
  testing::WriteFile(a_ + "/db", "x");
  ASSERT_EQ(mkdir((a_ + "/e").c_str(), 0755), 0);
  ASSERT_EQ(mkdir((a_ + "/e/f").c_str(), 0755), 0);
  ASSERT_EQ(link((a_ + "/db").c_str(), (a_ + "/e/f/hard").c_str()), 0);
  testing::WriteFile(b_ + "/db", "x");
  EXPECT_EQ(Lines(Diff()),
            (std::vector<std::string>{"links db e/f/hard|", "missing e directory|"}));
}

TEST_F(TreeDiff, ContentRangesAreMergedAndSizesCompared) {
  const std::string full(12290, 'a');
  std::string crash = full.substr(0, 8192);
  for (size_t i = 4096; i < 8192; ++i) crash[i] = 'b';
  testing::WriteFile(a_ + "/db", full);
  testing::WriteFile(b_ + "/db", crash);
  const auto diffs = Diff();
  ASSERT_EQ(diffs.size(), 1U);
  EXPECT_EQ(diffs[0].kind, TreeDiffKind::kContent);
  EXPECT_EQ(diffs[0].expected_size, 12290U);
  EXPECT_EQ(diffs[0].actual_size, 8192U);
  // Past its end the shorter file reads as zeros: the rest of the longer one differs.
  EXPECT_EQ(diffs[0].ranges, (std::vector<ByteRange>{{4096, 12290}}));
  EXPECT_EQ(diffs[0].range_count, 1U);
}

TEST_F(TreeDiff, ZerosPastTheShorterFilesEndAreOnlyASizeDifference) {
  testing::WriteFile(a_ + "/f", std::string(100, 'x') + std::string(50, '\0'));
  testing::WriteFile(b_ + "/f", std::string(100, 'x'));
  const auto diffs = Diff();
  ASSERT_EQ(diffs.size(), 1U);
  EXPECT_TRUE(diffs[0].ranges.empty());
  EXPECT_EQ(diffs[0].expected_size, 150U);
}

TEST_F(TreeDiff, ManyRangesAreCappedButCounted) {
  std::string a(4000, 'a'), b = a;
  for (size_t i = 0; i < a.size(); i += 10) b[i] = 'b';  // 400 separate bytes
  testing::WriteFile(a_ + "/f", a);
  testing::WriteFile(b_ + "/f", b);
  const auto diffs = Diff({.max_ranges = 3});
  ASSERT_EQ(diffs.size(), 1U);
  EXPECT_EQ(diffs[0].ranges, (std::vector<ByteRange>{{0, 1}, {10, 11}, {20, 21}}));
  EXPECT_EQ(diffs[0].range_count, 400U);
}

TEST_F(TreeDiff, LargeSparseFilesAreComparedInChunksAcrossBoundaries) {
  constexpr off_t kMiB = 1 << 20;
  for (const std::string& root : {a_, b_}) {
    WriteAt(root + "/big", std::string(3 * kMiB, 'd'), 0);
    WriteAt(root + "/big", "tail", 3 * kMiB + 1024 * kMiB);  // 1 GiB hole in the middle
  }
  WriteAt(b_ + "/big", std::string(10, 'X'), kMiB - 5);  // across the first chunk boundary
  WriteAt(b_ + "/big", "Y", 2 * kMiB + 7);
  WriteAt(b_ + "/big", "T", 3 * kMiB + 1024 * kMiB + 3);
  const auto diffs = Diff();
  ASSERT_EQ(diffs.size(), 1U);
  const auto far = static_cast<uint64_t>(3 * kMiB + 1024 * kMiB + 3);
  EXPECT_EQ(
      diffs[0].ranges,
      (std::vector<ByteRange>{{kMiB - 5, kMiB + 5}, {2 * kMiB + 7, 2 * kMiB + 8}, {far, far + 1}}));
  EXPECT_EQ(diffs[0].expected_size, diffs[0].actual_size);
}

TEST_F(TreeDiff, DifferencesComeInWalkOrder) {
  for (const std::string& root : {a_, b_}) {
    ASSERT_EQ(mkdir((root + "/a").c_str(), 0755), 0);
    testing::WriteFile(root + "/a/b", root == a_ ? "1" : "2");
    testing::WriteFile(root + "/a0", root == a_ ? "1" : "2");
  }
  ASSERT_EQ(chmod((b_ + "/a").c_str(), 0700), 0);
  const auto diffs = Diff();
  ASSERT_EQ(diffs.size(), 3U);
  EXPECT_EQ(diffs[0].path, "a");
  EXPECT_EQ(diffs[1].path, "a/b");
  EXPECT_EQ(diffs[2].path, "a0");
}

TEST_F(TreeDiff, AMissingRootIsAnError) {
  const auto d = DiffTrees(a_, tmp_ / "nope");
  ASSERT_FALSE(d.ok());
  EXPECT_NE(d.status().ToString().find("nope"), std::string::npos) << d.status().ToString();
}

}  // namespace
}  // namespace faultfs
