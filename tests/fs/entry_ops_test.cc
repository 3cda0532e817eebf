// Goal: every name operation (lookup, mknod, mkdir, symlink, readlink, link, unlink, rmdir, rename
// with its flags) gives through faultfs exactly the result and errno it gives natively.
#include <fcntl.h>
#include <linux/fs.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <climits>
#include <cstdio>
#include <cstring>

#include "twin_fixture.h"

namespace faultfs::testing {
namespace {

class EntryOps : public TwinTest {
 protected:
  void SetUp() override {
    TwinTest::SetUp();
    Both([](const std::string& r) {
      ASSERT_EQ(mkdir(P(r, "dir").c_str(), 0755), 0);
      ASSERT_EQ(mkdir(P(r, "full").c_str(), 0755), 0);
      ASSERT_EQ(close(creat(P(r, "full/child").c_str(), 0644)), 0);
      ASSERT_EQ(close(creat(P(r, "file").c_str(), 0644)), 0);
    });
  }
};

TEST_F(EntryOps, LookupOfMissingNamesAndThroughFiles) {
  struct stat st {};
  Same("stat missing", ENOENT, [&](auto r) { return stat(P(r, "nope").c_str(), &st); });
  Same("stat under missing dir", ENOENT, [&](auto r) { return stat(P(r, "nope/x").c_str(), &st); });
  Same("stat through a file", ENOTDIR, [&](auto r) { return stat(P(r, "file/x").c_str(), &st); });
  Same("stat existing", 0, [&](auto r) { return stat(P(r, "file").c_str(), &st); });
  const std::string long_name(NAME_MAX + 1, 'n');
  Same("name too long", ENAMETOOLONG, [&](auto r) { return stat(P(r, long_name).c_str(), &st); });
}

TEST_F(EntryOps, NegativeLookupIsForgottenOnceCreated) {
  struct stat st {};
  Same("missing first", ENOENT, [&](auto r) { return stat(P(r, "later").c_str(), &st); });
  Same("create", 0, [&](auto r) { return close(creat(P(r, "later").c_str(), 0600)); });
  Same("then present", 0, [&](auto r) { return stat(P(r, "later").c_str(), &st); });
}

TEST_F(EntryOps, Mkdir) {
  Same("mkdir", 0, [&](auto r) { return mkdir(P(r, "d2").c_str(), 0750); });
  Same("mkdir existing", EEXIST, [&](auto r) { return mkdir(P(r, "d2").c_str(), 0750); });
  Same("mkdir over file", EEXIST, [&](auto r) { return mkdir(P(r, "file").c_str(), 0750); });
  Same("mkdir in missing", ENOENT, [&](auto r) { return mkdir(P(r, "nope/d").c_str(), 0750); });
  Same("mkdir under file", ENOTDIR, [&](auto r) { return mkdir(P(r, "file/d").c_str(), 0750); });
  struct stat n {
  }, m{};
  ASSERT_EQ(stat(P(native_, "d2").c_str(), &n), 0);
  ASSERT_EQ(stat(P(mnt_, "d2").c_str(), &m), 0);
  EXPECT_EQ(n.st_mode, m.st_mode);
  EXPECT_EQ(n.st_nlink, m.st_nlink);
  struct stat parent {};
  ASSERT_EQ(stat(mnt_.c_str(), &parent), 0);
  ASSERT_EQ(stat(native_.c_str(), &n), 0);
  EXPECT_EQ(parent.st_nlink, n.st_nlink) << "parent link count counts the new subdirectory";
}

TEST_F(EntryOps, MknodFifoSocketAndRegular) {
  Same("mkfifo", 0, [&](auto r) { return mkfifo(P(r, "fifo").c_str(), 0640); });
  Same("mkfifo existing", EEXIST, [&](auto r) { return mkfifo(P(r, "fifo").c_str(), 0640); });
  Same("mknod socket", 0, [&](auto r) { return mknod(P(r, "sock").c_str(), S_IFSOCK | 0600, 0); });
  Same("mknod regular", 0, [&](auto r) { return mknod(P(r, "reg").c_str(), S_IFREG | 0600, 0); });
  for (const char* name : {"fifo", "sock", "reg"}) {
    struct stat n {
    }, m{};
    ASSERT_EQ(lstat(P(native_, name).c_str(), &n), 0);
    ASSERT_EQ(lstat(P(mnt_, name).c_str(), &m), 0);
    EXPECT_EQ(n.st_mode, m.st_mode) << name;
  }
  // A socket bound through the mount is a socket node in the backing directory.
  const int s = socket(AF_UNIX, SOCK_STREAM, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  const std::string path = P(mnt_, "bound.sock");
  ASSERT_LT(path.size(), sizeof(addr.sun_path));
  std::snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", path.c_str());
  EXPECT_EQ(bind(s, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0) << std::strerror(errno);
  close(s);
  struct stat st {};
  ASSERT_EQ(lstat(P(backing_, "bound.sock").c_str(), &st), 0);
  EXPECT_TRUE(S_ISSOCK(st.st_mode));
}

TEST_F(EntryOps, SymlinkAndReadlink) {
  Same("symlink", 0, [&](auto r) { return symlink("file", P(r, "link").c_str()); });
  Same("symlink existing", EEXIST, [&](auto r) { return symlink("x", P(r, "link").c_str()); });
  Same("dangling symlink", 0, [&](auto r) { return symlink("nowhere", P(r, "dangling").c_str()); });
  char buf[PATH_MAX];
  const Outcome o =
      Same("readlink", 0, [&](auto r) { return readlink(P(r, "link").c_str(), buf, sizeof(buf)); });
  EXPECT_EQ(std::string(buf, static_cast<size_t>(o.ret)), "file");
  Same("readlink of a file", EINVAL,
       [&](auto r) { return readlink(P(r, "file").c_str(), buf, sizeof(buf)); });
  Same("readlink missing", ENOENT,
       [&](auto r) { return readlink(P(r, "nope").c_str(), buf, sizeof(buf)); });
  struct stat st {};
  Same("stat follows", 0, [&](auto r) { return stat(P(r, "link").c_str(), &st); });
  EXPECT_TRUE(S_ISREG(st.st_mode));
  Same("stat dangling", ENOENT, [&](auto r) { return stat(P(r, "dangling").c_str(), &st); });
  Same("open O_NOFOLLOW on link", ELOOP,
       [&](auto r) { return open(P(r, "link").c_str(), O_RDONLY | O_NOFOLLOW); });
  // A target longer than a page still round-trips.
  const std::string long_target(PATH_MAX - 1, 'x');
  Same("long symlink", 0,
       [&](auto r) { return symlink(long_target.c_str(), P(r, "longlink").c_str()); });
  const Outcome lo = Same("readlink long", 0, [&](auto r) {
    return readlink(P(r, "longlink").c_str(), buf, sizeof(buf));
  });
  EXPECT_EQ(lo.ret, PATH_MAX - 1);
}

TEST_F(EntryOps, HardLinks) {
  Same("link", 0, [&](auto r) { return link(P(r, "file").c_str(), P(r, "hard").c_str()); });
  Same("link existing", EEXIST,
       [&](auto r) { return link(P(r, "file").c_str(), P(r, "hard").c_str()); });
  Same("link missing", ENOENT,
       [&](auto r) { return link(P(r, "nope").c_str(), P(r, "h2").c_str()); });
  Same("link a directory", EPERM,
       [&](auto r) { return link(P(r, "dir").c_str(), P(r, "h3").c_str()); });
  struct stat a {
  }, b{};
  ASSERT_EQ(stat(P(mnt_, "file").c_str(), &a), 0);
  ASSERT_EQ(stat(P(mnt_, "hard").c_str(), &b), 0);
  EXPECT_EQ(a.st_ino, b.st_ino) << "both names are one inode";
  EXPECT_EQ(a.st_nlink, 2U);
  Same("unlink one name", 0, [&](auto r) { return unlink(P(r, "hard").c_str()); });
  ASSERT_EQ(stat(P(mnt_, "file").c_str(), &a), 0);
  EXPECT_EQ(a.st_nlink, 1U) << "link count drops after unlink";
}

TEST_F(EntryOps, UnlinkAndRmdir) {
  Same("unlink missing", ENOENT, [&](auto r) { return unlink(P(r, "nope").c_str()); });
  Same("unlink a directory", EISDIR, [&](auto r) { return unlink(P(r, "dir").c_str()); });
  Same("rmdir a file", ENOTDIR, [&](auto r) { return rmdir(P(r, "file").c_str()); });
  Same("rmdir non-empty", ENOTEMPTY, [&](auto r) { return rmdir(P(r, "full").c_str()); });
  Same("rmdir .", EINVAL, [&](auto r) { return rmdir(P(r, "dir/.").c_str()); });
  Same("rmdir", 0, [&](auto r) { return rmdir(P(r, "dir").c_str()); });
  Same("unlink", 0, [&](auto r) { return unlink(P(r, "file").c_str()); });
  Same("unlink again", ENOENT, [&](auto r) { return unlink(P(r, "file").c_str()); });
}

TEST_F(EntryOps, UnlinkedOpenFileStaysUsable) {
  Both([](const std::string& r) {
    const int fd = open(P(r, "file").c_str(), O_RDWR);
    ASSERT_GE(fd, 0);
    ASSERT_EQ(unlink(P(r, "file").c_str()), 0);
    ASSERT_EQ(pwrite(fd, "abc", 3, 0), 3);
    struct stat st {};
    ASSERT_EQ(fstat(fd, &st), 0);
    EXPECT_EQ(st.st_size, 3);
    EXPECT_EQ(st.st_nlink, 0U);
    char buf[4] = {};
    EXPECT_EQ(pread(fd, buf, 3, 0), 3);
    EXPECT_STREQ(buf, "abc");
    close(fd);
  });
}

TEST_F(EntryOps, Rename) {
  Same("rename file", 0,
       [&](auto r) { return rename(P(r, "file").c_str(), P(r, "moved").c_str()); });
  Same("rename missing", ENOENT,
       [&](auto r) { return rename(P(r, "file").c_str(), P(r, "x").c_str()); });
  Same("rename dir over file", ENOTDIR,
       [&](auto r) { return rename(P(r, "dir").c_str(), P(r, "moved").c_str()); });
  Same("rename file over dir", EISDIR,
       [&](auto r) { return rename(P(r, "moved").c_str(), P(r, "dir").c_str()); });
  Same("rename dir over non-empty dir", ENOTEMPTY,
       [&](auto r) { return rename(P(r, "dir").c_str(), P(r, "full").c_str()); });
  Same("rename dir into itself", EINVAL,
       [&](auto r) { return rename(P(r, "dir").c_str(), P(r, "dir/sub").c_str()); });
  Same("rename dir over empty dir", 0,
       [&](auto r) { return rename(P(r, "full").c_str(), P(r, "dir").c_str()); });
  Same("rename file over file", 0, [&](auto r) {
    return close(creat(P(r, "other").c_str(), 0600)) |
           rename(P(r, "other").c_str(), P(r, "moved").c_str());
  });
  struct stat st {};
  Same("old name gone", ENOENT, [&](auto r) { return stat(P(r, "other").c_str(), &st); });
  Same("child moved with dir", 0, [&](auto r) { return stat(P(r, "dir/child").c_str(), &st); });
}

TEST_F(EntryOps, RenameNoreplaceAndExchange) {
  Both([](const std::string& r) {
    ASSERT_EQ(close(creat(P(r, "a").c_str(), 0600)), 0);
    ASSERT_EQ(close(creat(P(r, "b").c_str(), 0640)), 0);
  });
  auto rename2 = [](const std::string& r, const char* from, const char* to, unsigned flags) {
    return renameat2(AT_FDCWD, P(r, from).c_str(), AT_FDCWD, P(r, to).c_str(), flags);
  };
  Same("noreplace onto existing", EEXIST,
       [&](auto r) { return rename2(r, "a", "b", RENAME_NOREPLACE); });
  Same("noreplace onto new", 0, [&](auto r) { return rename2(r, "a", "c", RENAME_NOREPLACE); });
  Same("exchange", 0, [&](auto r) { return rename2(r, "c", "b", RENAME_EXCHANGE); });
  struct stat st {};
  ASSERT_EQ(stat(P(mnt_, "b").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600U) << "exchange swapped the two inodes";
  Same("exchange with missing", ENOENT,
       [&](auto r) { return rename2(r, "c", "nope", RENAME_EXCHANGE); });
  Same("exchange file and dir", 0, [&](auto r) { return rename2(r, "b", "dir", RENAME_EXCHANGE); });
  Same("both flags", EINVAL,
       [&](auto r) { return rename2(r, "b", "c", RENAME_EXCHANGE | RENAME_NOREPLACE); });
}

TEST_F(EntryOps, RenameAcrossMountsIsExdev) {
  // Out of the mount into the native tree: a different filesystem, so EXDEV as with any two mounts.
  EXPECT_EQ(rename(P(mnt_, "file").c_str(), P(native_, "file-from-mount").c_str()), -1);
  EXPECT_EQ(errno, EXDEV);
  EXPECT_EQ(link(P(mnt_, "file").c_str(), P(native_, "link-from-mount").c_str()), -1);
  EXPECT_EQ(errno, EXDEV);
}

}  // namespace
}  // namespace faultfs::testing
