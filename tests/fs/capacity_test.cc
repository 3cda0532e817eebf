// Goal: with a [capacity] budget, df reports the budget; writes, fallocate, create and mkdir fail
// with the chosen errno exactly at the boundary (a write that only partly fits is cut short, as
// on Linux), and each refusal or cut is in the event log; reads, listings, overwrites in place and
// writes into preallocated space keep working; removing, truncating and replacing files gives space
// back; the tree's existing usage counts; and a budget can be set and lifted while mounted.
#include <dirent.h>
#include <fcntl.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "policy_mount.h"

namespace faultfs::testing {
namespace {

constexpr long kBlock = 4096;
const std::string kChunk(kBlock, 'c');

class Capacity : public PolicyMountTest {
 protected:
  struct statvfs Df() {
    struct statvfs st {};
    EXPECT_EQ(statvfs(mnt_.c_str(), &st), 0);
    return st;
  }
  long FreeBytes() {
    const struct statvfs st = Df();
    return static_cast<long>(st.f_bavail * st.f_frsize);
  }
  // Appends 4 KiB chunks to `name` until a write fails; returns the bytes written and the errno.
  std::pair<long, int> Fill(const std::string& name) {
    const int fd = open(M(name).c_str(), O_CREAT | O_WRONLY | O_APPEND, 0644);
    EXPECT_GE(fd, 0);
    long total = 0;
    int err = 0;
    for (int i = 0; i < 100000; ++i) {
      const ssize_t n = write(fd, kChunk.data(), kChunk.size());
      if (n < 0) {
        err = errno;
        break;
      }
      total += n;
    }
    close(fd);
    return {total, err};
  }
};

TEST_F(Capacity, DfReportsTheBudgetAndWritesStopExactlyAtIt) {
  Mount("[capacity]\nbytes = \"1 MiB\"\n");
  const struct statvfs st = Df();
  EXPECT_EQ(st.f_blocks * st.f_frsize, 1U << 20) << "df shows the budget as the disk size";
  EXPECT_EQ(FreeBytes(), 1L << 20);
  const auto [written, err] = Fill("log");
  EXPECT_EQ(written, 1L << 20) << "every byte of the budget is usable, not one more";
  EXPECT_EQ(err, ENOSPC);
  EXPECT_EQ(FreeBytes(), 0);
  EXPECT_EQ(ReadFile(M("log")).size(), 1U << 20) << "reads keep working on a full disk";
  EXPECT_TRUE(std::filesystem::exists(M("log")));
  EXPECT_EQ(std::distance(std::filesystem::directory_iterator(mnt_), {}), 1) << "listings too";
  EXPECT_EQ(Write(M("log"), std::string(8192, 'o'), 4096), 8192)
      << "overwriting in place needs no space";
}

TEST_F(Capacity, ConcurrentWritersTogetherGetExactlyTheBudget) {
  Mount("[capacity]\nbytes = \"2 MiB\"\n");
  std::vector<std::thread> writers;
  std::atomic<long> total{0};
  for (int t = 0; t < 4; ++t) {
    writers.emplace_back([&, t] {
      const auto [written, err] = Fill("w" + std::to_string(t));
      total += written;
      EXPECT_EQ(err, ENOSPC);
    });
  }
  for (auto& w : writers) w.join();
  EXPECT_EQ(total.load(), 2L << 20) << "no writer got past the budget, none was refused early";
  EXPECT_EQ(FreeBytes(), 0);
}

TEST_F(Capacity, AWriteThatPartlyFitsIsCutShort) {
  Mount("[capacity]\nbytes = \"16 KiB\"\n");
  EXPECT_EQ(Write(M("a"), std::string(12 * 1024, 'a')), 12 * 1024);
  EXPECT_EQ(Write(M("b"), std::string(8192, 'b')), 4096) << "one block left: a short write";
  EXPECT_EQ(Write(M("c"), "x"), -ENOSPC);
  EXPECT_EQ(ReadFile(B("b")), std::string(4096, 'b'));
  // What the application was told is in the event log, like any fault; the write that fit is not.
  const auto events = Events();
  ASSERT_EQ(events.size(), 2U);
  EXPECT_EQ(events[0]["rule"], "capacity");
  EXPECT_EQ(events[0]["op"], "write");
  EXPECT_EQ(events[0]["path"], "b");
  EXPECT_EQ(events[0]["result"], "short: 4096 of 8192 bytes written (the capacity is used up)");
  EXPECT_EQ(events[1]["path"], "c");
  EXPECT_EQ(events[1]["result"], "ENOSPC");
}

TEST_F(Capacity, RemovingTruncatingAndReplacingGiveSpaceBack) {
  Mount("[capacity]\nbytes = \"64 KiB\"\n");
  EXPECT_EQ(Write(M("a"), std::string(32 * 1024, 'a')), 32 * 1024);
  EXPECT_EQ(Write(M("b"), std::string(32 * 1024, 'b')), 32 * 1024);
  EXPECT_EQ(FreeBytes(), 0);
  ASSERT_EQ(unlink(M("a").c_str()), 0);
  EXPECT_EQ(FreeBytes(), 32 * 1024);
  ASSERT_EQ(truncate(M("b").c_str(), 8192), 0);
  EXPECT_EQ(FreeBytes(), 56 * 1024);
  EXPECT_EQ(Write(M("c"), std::string(16 * 1024, 'c')), 16 * 1024);
  ASSERT_EQ(rename(M("c").c_str(), M("b").c_str()), 0) << "replaces b (8 KiB)";
  EXPECT_EQ(FreeBytes(), 48 * 1024);
  const int fd = open(M("b").c_str(), O_WRONLY | O_TRUNC);
  ASSERT_GE(fd, 0);
  close(fd);
  EXPECT_EQ(FreeBytes(), 64 * 1024) << "O_TRUNC frees too";
}

TEST_F(Capacity, HardLinksAreChargedOnceAndFreedWithTheLastName) {
  Mount("[capacity]\nbytes = \"64 KiB\"\ninodes = 10\n");
  EXPECT_EQ(Write(M("a"), std::string(16 * 1024, 'a')), 16 * 1024);
  ASSERT_EQ(link(M("a").c_str(), M("a2").c_str()), 0);
  EXPECT_EQ(FreeBytes(), 48 * 1024);
  EXPECT_EQ(Df().f_ffree, 9U) << "a link is not a new inode";
  ASSERT_EQ(unlink(M("a").c_str()), 0);
  EXPECT_EQ(FreeBytes(), 48 * 1024) << "still reachable as a2";
  ASSERT_EQ(unlink(M("a2").c_str()), 0);
  EXPECT_EQ(FreeBytes(), 64 * 1024);
  EXPECT_EQ(Df().f_ffree, 10U);
}

TEST_F(Capacity, InodesRunOutForCreateMkdirSymlinkButNotForExistingFiles) {
  Mount("[capacity]\ninodes = 4\nerrno = \"EDQUOT\"\n");
  EXPECT_EQ(Df().f_files, 4U);
  ASSERT_EQ(mkdir(M("d").c_str(), 0755), 0);
  EXPECT_EQ(Write(M("d/f"), "x"), 1);
  ASSERT_EQ(symlink("f", M("d/s").c_str()), 0);
  EXPECT_EQ(Write(M("g"), "x"), 1);
  EXPECT_EQ(Df().f_ffree, 0U);
  EXPECT_EQ(Write(M("h"), "x"), -EDQUOT);
  EXPECT_EQ(mkdir(M("e").c_str(), 0755), -1);
  EXPECT_EQ(errno, EDQUOT);
  EXPECT_EQ(symlink("f", M("t").c_str()), -1);
  EXPECT_EQ(errno, EDQUOT);
  EXPECT_EQ(Write(M("g"), "yy"), 2) << "opening an existing file with O_CREAT needs no inode";
  EXPECT_EQ(open(M("g").c_str(), O_CREAT | O_EXCL | O_WRONLY, 0644), -1);
  EXPECT_EQ(errno, EEXIST) << "an existing name is still EEXIST, not EDQUOT";
  // Each refusal is an event (and the EEXIST, which is not the budget's, is not).
  std::vector<std::string> refused;
  for (const auto& e : Events()) {
    EXPECT_EQ(e["rule"], "capacity");
    EXPECT_EQ(e["result"], "EDQUOT");
    refused.push_back(e["op"].get<std::string>() + " " + e["path"].get<std::string>());
  }
  EXPECT_EQ(refused, (std::vector<std::string>{"create h", "mkdir e", "symlink t"}));
  ASSERT_EQ(unlink(M("d/s").c_str()), 0);
  EXPECT_EQ(Write(M("h"), "x"), 1) << "a removed object's inode comes back";
  ASSERT_EQ(unlink(M("d/f").c_str()), 0);
  ASSERT_EQ(rmdir(M("d").c_str()), 0);
  EXPECT_EQ(Df().f_ffree, 2U);
}

TEST_F(Capacity, FallocateIsAllOrNothingAndPreallocatedSpaceStaysWritable) {
  Mount("[capacity]\nbytes = \"1 MiB\"\n");
  const int fd = open(M("wal").c_str(), O_CREAT | O_RDWR, 0644);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(fallocate(fd, FALLOC_FL_KEEP_SIZE, 0, 512 * 1024), 0) << "preallocate half the disk";
  EXPECT_EQ(FreeBytes(), 512 * 1024);
  EXPECT_EQ(fallocate(fd, 0, 512 * 1024, 1 << 20), -1) << "more than is left: nothing is allocated";
  EXPECT_EQ(errno, ENOSPC);
  EXPECT_EQ(FreeBytes(), 512 * 1024);
  const auto [written, err] = Fill("other");
  EXPECT_EQ(written, 512 * 1024);
  EXPECT_EQ(err, ENOSPC);
  // The disk is full, yet writes into the preallocated range succeed: what preallocation is for.
  const std::string record(64 * 1024, 'r');
  for (off_t off = 0; off < 512 * 1024; off += static_cast<off_t>(record.size())) {
    ASSERT_EQ(pwrite(fd, record.data(), record.size(), off), static_cast<ssize_t>(record.size()))
        << off;
  }
  EXPECT_EQ(pwrite(fd, "x", 1, 512 * 1024), -1) << "one byte past it is not";
  EXPECT_EQ(errno, ENOSPC);
  ASSERT_EQ(fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0, 64 * 1024), 0);
  EXPECT_EQ(FreeBytes(), 64 * 1024) << "punching a hole frees";
  close(fd);
}

TEST_F(Capacity, TheTreesExistingUsageCounts) {
  WriteFile(B("old"), std::string(256 * 1024, 'o'));
  ASSERT_EQ(mkdir(B("dir").c_str(), 0755), 0);
  ASSERT_EQ(link(B("old").c_str(), B("dir/old-link").c_str()), 0);
  Mount("[capacity]\nbytes = \"1 MiB\"\ninodes = 100\n");
  EXPECT_EQ(FreeBytes(), 768 * 1024) << "the existing file, counted once despite two names";
  EXPECT_EQ(Df().f_ffree, 98U) << "old and dir";
}

// A database's data dir already holds files: room left fits any of them, and a budget the tree
// already fills is said at once (at mount on the terminal, and in the reply to ctl load or add).
TEST_F(Capacity, RoomLeftCountsFromTheTreeAndAFullBudgetIsReportedAtLoad) {
  for (int i = 0; i < 30; ++i) WriteFile(B("f" + std::to_string(i)), "x");
  Mount("[capacity]\nfree_inodes = 5\n");
  EXPECT_EQ(Df().f_ffree, 5U);
  for (int i = 0; i < 5; ++i) EXPECT_EQ(Write(M("new" + std::to_string(i)), "y"), 1);
  EXPECT_EQ(Write(M("one-too-many"), "y"), -ENOSPC);
  WriteFile(dir_ / "small.toml", "[capacity]\ninodes = 10\n");
  CommandResult r = RunCommand({FaultfsBinary(), "ctl", mnt_, "load", dir_ / "small.toml"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("warning: capacity: the tree already has 35 inodes, and the budget is 10"),
            std::string::npos)
      << r.out;
  WriteFile(dir_ / "roomy.toml", "[capacity]\nfree_inodes = 10\n");
  r = RunCommand({FaultfsBinary(), "ctl", mnt_, "load", dir_ / "roomy.toml", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_FALSE(nlohmann::json::parse(r.out).contains("warning")) << r.out;
}

TEST_F(Capacity, ABudgetTheTreeAlreadyFillsIsReportedAtMount) {
  for (int i = 0; i < 10; ++i) WriteFile(B("f" + std::to_string(i)), "x");
  WriteFile(dir_ / "tight.toml", "[capacity]\ninodes = 3\n");
  const std::string mnt = dir_ / "own-mnt";
  ASSERT_EQ(mkdir(mnt.c_str(), 0755), 0);
  const CommandResult r =
      RunCommand({FaultfsBinary(), "mount", "--policy", dir_ / "tight.toml", backing_, mnt});
  const CommandResult down = RunCommand({FaultfsBinary(), "umount", mnt});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(down.exit_code, 0) << down.err;
  EXPECT_NE(r.err.find("faultfs mount: warning: capacity: the tree already has 10 inodes, and the "
                       "budget is 3: every create and mkdir fails with ENOSPC"),
            std::string::npos)
      << r.err;
}

TEST_F(Capacity, NoBudgetMeansTheRealDisk) {
  Mount("[[rule]]\nops = [\"write\"]\npath = \"never\"\naction = \"errno\"\nerrno = \"EIO\"\n");
  struct statvfs native {};
  ASSERT_EQ(statvfs(backing_.c_str(), &native), 0);
  EXPECT_EQ(Df().f_blocks, native.f_blocks)
      << "without [capacity], df shows the backing filesystem";
}

TEST_F(Capacity, ABudgetCanBeSetAndLiftedLive) {
  Mount("");
  EXPECT_EQ(Write(M("a"), std::string(64 * 1024, 'a')), 64 * 1024);
  WriteFile(dir_ / "small.toml", "[capacity]\nbytes = \"128 KiB\"\n");
  CommandResult r = RunCommand({FaultfsBinary(), "ctl", mnt_, "load", dir_ / "small.toml"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(FreeBytes(), 64 * 1024) << "the file written before counts";
  EXPECT_EQ(Write(M("b"), std::string(128 * 1024, 'b')), 64 * 1024);
  EXPECT_EQ(Write(M("c"), "x"), -ENOSPC);
  r = RunCommand({FaultfsBinary(), "ctl", mnt_, "status", "--json"});
  const auto status = nlohmann::json::parse(r.out);
  EXPECT_EQ(status["capacity"]["bytes"], 128 * 1024);
  EXPECT_EQ(status["capacity"]["bytes_used"], 128 * 1024);
  WriteFile(dir_ / "none.toml", "");
  r = RunCommand({FaultfsBinary(), "ctl", mnt_, "load", dir_ / "none.toml"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(Write(M("c"), "x"), 1) << "lifted";
}

}  // namespace
}  // namespace faultfs::testing
