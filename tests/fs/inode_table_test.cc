// Goal: the inode table (no FUSE involved) counts lookups exactly, frees inodes at zero, keeps the
// descriptor cache within its bound by closing idle descriptors, reopens evicted ones from their
// file handle, never evicts a descriptor in use, and frees an inode forgotten under a lease only
// when the lease ends.
#include "inode_table.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "test_support.h"

namespace faultfs::fs {
namespace {

class InodeTableTest : public ::testing::Test {
 protected:
  void SetUp() override {
    for (int i = 0; i < kFiles; ++i) std::ofstream(dir_ / ("f" + std::to_string(i))) << i;
  }
  InodeTable MakeTable(size_t max_fds) {
    return InodeTable(UniqueFd(open(dir_.path().c_str(), O_RDONLY | O_DIRECTORY)), max_fds,
                      FdBudget::RaiseLimit());
  }
  // What a FUSE lookup does: an O_PATH descriptor and its stat, handed to the table.
  Inode& Lookup(InodeTable& table, const std::string& name) {
    UniqueFd fd(open((dir_ / name).c_str(), O_PATH | O_NOFOLLOW));
    struct stat st {};
    EXPECT_EQ(fstat(fd.get(), &st), 0);
    return table.Ref(st, std::move(fd));
  }
  static constexpr int kFiles = 64;
  testing::TempDir dir_{"inodes"};
};

TEST_F(InodeTableTest, SameInodeForSameFileAndExactCounts) {
  InodeTable table = MakeTable(1000);
  Inode& a = Lookup(table, "f1");
  Inode& b = Lookup(table, "f1");
  EXPECT_EQ(&a, &b) << "one inode per (st_ino, st_dev)";
  std::filesystem::create_hard_link(dir_ / "f1", dir_ / "hard");
  EXPECT_EQ(&Lookup(table, "hard"), &a) << "hard links share the inode";
  EXPECT_EQ(table.size(), 2U);  // root + f1
  table.Unref(a, 2);
  EXPECT_EQ(table.size(), 2U) << "one lookup still counted";
  table.Unref(a, 1);
  EXPECT_EQ(table.size(), 1U) << "freed at zero";
  EXPECT_EQ(table.cached_fds(), 0U) << "its descriptor was closed";
}

TEST_F(InodeTableTest, ForgettingMoreThanLookedUpIsAnInvariantViolation) {
  InodeTable table = MakeTable(1000);
  Inode& a = Lookup(table, "f2");
  EXPECT_DEATH(table.Unref(a, 2), "exceeds lookup count");
}

TEST_F(InodeTableTest, CacheStaysBoundedAndEvictedInodesReopen) {
  constexpr size_t kMax = 16;
  InodeTable table = MakeTable(kMax);
  std::vector<Inode*> inodes;
  for (int i = 0; i < kFiles; ++i) {
    inodes.push_back(&Lookup(table, "f" + std::to_string(i)));
    EXPECT_LE(table.cached_fds(), kMax + 1) << "bounded after inode " << i;
  }
  for (int round = 0; round < 2; ++round) {
    for (int i = 0; i < kFiles; ++i) {
      auto fd = table.Fd(*inodes[static_cast<size_t>(i)]);
      ASSERT_TRUE(fd.ok()) << fd.status().ToString();
      struct stat st {};
      ASSERT_EQ(fstatat(fd->get(), "", &st, AT_EMPTY_PATH), 0);
      EXPECT_EQ(st.st_ino, inodes[static_cast<size_t>(i)]->key().ino) << "reopened the same file";
    }
  }
  EXPECT_LE(table.cached_fds(), kMax + 1);
}

TEST_F(InodeTableTest, DescriptorsInUseAreNeverEvicted) {
  InodeTable table = MakeTable(4);
  Inode& held = Lookup(table, "f0");
  auto lease = table.Fd(held);
  ASSERT_TRUE(lease.ok());
  const int fd = lease->get();
  for (int i = 1; i < kFiles; ++i) Lookup(table, "f" + std::to_string(i));
  struct stat st {};
  EXPECT_EQ(fstat(fd, &st), 0) << "the leased descriptor stayed open through evictions";
  EXPECT_EQ(st.st_ino, held.key().ino);
}

TEST_F(InodeTableTest, InodeForgottenUnderALeaseIsFreedByTheLease) {
  InodeTable table = MakeTable(1000);
  Inode& a = Lookup(table, "f3");
  {
    auto lease = table.Fd(a);
    ASSERT_TRUE(lease.ok());
    table.Unref(a, 1);  // the kernel forgot it while an op still held the descriptor
    EXPECT_EQ(table.size(), 1U) << "out of the table at once";
    struct stat st {};
    EXPECT_EQ(fstat(lease->get(), &st), 0) << "but its descriptor lives until the lease ends";
  }
  EXPECT_EQ(table.cached_fds(), 0U) << "the lease freed it";
}

TEST_F(InodeTableTest, UnlinkedInodesKeepTheirDescriptor) {
  InodeTable table = MakeTable(2);
  Inode& doomed = Lookup(table, "f5");
  std::filesystem::remove(dir_ / "f5");  // no handle can reopen it now
  for (int i = 10; i < 30; ++i) Lookup(table, "f" + std::to_string(i));
  auto fd = table.Fd(doomed);
  ASSERT_TRUE(fd.ok()) << "an unlinked inode was not evicted: " << fd.status().ToString();
}

TEST_F(InodeTableTest, ReusedInodeNumberGetsANewInode) {
  InodeTable table = MakeTable(2);
  Inode& old_inode = Lookup(table, "f1");
  for (int i = 10; i < 30; ++i) Lookup(table, "f" + std::to_string(i));  // evicts f1's descriptor
  // The kernel reports f1's number again, but for another file (what ext4 does once f1 is
  // deleted and its number handed out anew): simulated with f1's stat and f2's descriptor.
  struct stat st {};
  ASSERT_EQ(stat((dir_ / "f1").c_str(), &st), 0);
  Inode& fresh = table.Ref(st, UniqueFd(open((dir_ / "f2").c_str(), O_PATH)));
  EXPECT_NE(&fresh, &old_inode) << "a different file must not share the old inode";
  EXPECT_EQ(&Lookup(table, "f2"), &Lookup(table, "f2")) << "lookups stay stable";
  table.Unref(old_inode, 1);  // the kernel's forget of the retired inode frees it
  table.Unref(fresh, 1);
}

TEST_F(InodeTableTest, SameFileAfterEvictionKeepsItsInode) {
  InodeTable table = MakeTable(2);
  Inode& first = Lookup(table, "f1");
  for (int i = 10; i < 30; ++i) Lookup(table, "f" + std::to_string(i));
  EXPECT_EQ(&Lookup(table, "f1"), &first) << "same handle: not a reused number";
}

}  // namespace
}  // namespace faultfs::fs
