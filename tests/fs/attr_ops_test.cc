// Goal: attribute and xattr operations (chmod, chown, truncate, utimens, access, get/set/list/
// remove xattr) give the native results and errnos, and attributes read back fresh after changes.
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "twin_fixture.h"

namespace faultfs::testing {
namespace {

class AttrOps : public TwinTest {
 protected:
  void SetUp() override {
    TwinTest::SetUp();
    Both([](const std::string& r) {
      ASSERT_EQ(close(creat(P(r, "f").c_str(), 0644)), 0);
      ASSERT_EQ(mkdir(P(r, "d").c_str(), 0755), 0);
      ASSERT_EQ(symlink("f", P(r, "l").c_str()), 0);
    });
  }
  struct stat Stat(const std::string& root, const char* name) {
    struct stat st {};
    EXPECT_EQ(lstat(P(root, name).c_str(), &st), 0) << name;
    return st;
  }
};

TEST_F(AttrOps, ChmodIncludingSetIdBits) {
  for (mode_t mode : {0600U, 0755U, 04755U, 02750U, 01777U, 0U}) {
    Same("chmod", 0, [&](auto r) { return chmod(P(r, "f").c_str(), mode); });
    EXPECT_EQ(Stat(mnt_, "f").st_mode, Stat(native_, "f").st_mode) << std::oct << mode;
    EXPECT_EQ(Stat(mnt_, "f").st_mode & 07777, mode);
  }
  Same("chmod missing", ENOENT, [&](auto r) { return chmod(P(r, "nope").c_str(), 0600); });
  Same("fchmodat nofollow on a symlink", EOPNOTSUPP,
       [&](auto r) { return fchmodat(AT_FDCWD, P(r, "l").c_str(), 0600, AT_SYMLINK_NOFOLLOW); });
}

TEST_F(AttrOps, ChownAndLchown) {
  Same("chown", 0, [&](auto r) { return chown(P(r, "f").c_str(), 1234, 5678); });
  EXPECT_EQ(Stat(mnt_, "f").st_uid, 1234U);
  EXPECT_EQ(Stat(mnt_, "f").st_gid, 5678U);
  Same("chown group only", 0,
       [&](auto r) { return chown(P(r, "f").c_str(), static_cast<uid_t>(-1), 42); });
  EXPECT_EQ(Stat(mnt_, "f").st_uid, 1234U);
  EXPECT_EQ(Stat(mnt_, "f").st_gid, 42U);
  Same("lchown", 0, [&](auto r) { return lchown(P(r, "l").c_str(), 77, 77); });
  EXPECT_EQ(Stat(mnt_, "l").st_uid, 77U) << "the link itself changed";
  EXPECT_EQ(Stat(mnt_, "f").st_uid, 1234U) << "not its target";
}

// Goal: chown(-1, -1) changes nothing but, as on the backing filesystem, marks the change time
// (POSIX); the kernel sends it as a setattr with nothing to set.
TEST_F(AttrOps, ChownToTheSameOwnersStillMarksTheChangeTime) {
  for (const std::string& root : {native_, mnt_}) {
    const struct stat before = Stat(root, "f");
    std::this_thread::sleep_for(std::chrono::milliseconds(20));  // past a coarse clock tick
    ASSERT_EQ(chown(P(root, "f").c_str(), static_cast<uid_t>(-1), static_cast<gid_t>(-1)), 0);
    const struct stat after = Stat(root, "f");
    EXPECT_TRUE(after.st_ctim.tv_sec > before.st_ctim.tv_sec ||
                (after.st_ctim.tv_sec == before.st_ctim.tv_sec &&
                 after.st_ctim.tv_nsec > before.st_ctim.tv_nsec))
        << root << ": ctime " << before.st_ctim.tv_sec << "." << before.st_ctim.tv_nsec << " -> "
        << after.st_ctim.tv_sec << "." << after.st_ctim.tv_nsec;
    EXPECT_EQ(after.st_uid, before.st_uid) << root;
  }
}

TEST_F(AttrOps, TruncateByPathAndDescriptor) {
  Same("truncate grow", 0, [&](auto r) { return truncate(P(r, "f").c_str(), 100000); });
  EXPECT_EQ(Stat(mnt_, "f").st_size, 100000);
  Same("truncate shrink", 0, [&](auto r) { return truncate(P(r, "f").c_str(), 10); });
  EXPECT_EQ(Stat(mnt_, "f").st_size, 10);
  Same("truncate a directory", EISDIR, [&](auto r) { return truncate(P(r, "d").c_str(), 0); });
  Same("truncate negative", EINVAL, [&](auto r) { return truncate(P(r, "f").c_str(), -1); });
  Same("ftruncate", 0, [&](auto r) {
    const int fd = open(P(r, "f").c_str(), O_WRONLY);
    const int res = ftruncate(fd, 4096);
    close(fd);
    return res;
  });
  Same("ftruncate read-only fd", EINVAL, [&](auto r) {
    const int fd = open(P(r, "f").c_str(), O_RDONLY);
    const int res = ftruncate(fd, 1);
    const int saved = errno;
    close(fd);
    errno = saved;
    return res;
  });
}

TEST_F(AttrOps, Utimens) {
  const timespec explicit_times[2] = {{1000000000, 123456789}, {1200000000, 987654321}};
  Same("utimensat", 0,
       [&](auto r) { return utimensat(AT_FDCWD, P(r, "f").c_str(), explicit_times, 0); });
  const struct stat st = Stat(mnt_, "f");
  EXPECT_EQ(st.st_atim.tv_sec, 1000000000);
  EXPECT_EQ(st.st_atim.tv_nsec, 123456789);
  EXPECT_EQ(st.st_mtim.tv_sec, 1200000000);
  EXPECT_EQ(st.st_mtim.tv_nsec, 987654321) << "nanoseconds survive";
  const timespec omit_atime[2] = {{0, UTIME_OMIT}, {1300000000, 0}};
  Same("omit atime", 0,
       [&](auto r) { return utimensat(AT_FDCWD, P(r, "f").c_str(), omit_atime, 0); });
  EXPECT_EQ(Stat(mnt_, "f").st_atim.tv_sec, 1000000000);
  EXPECT_EQ(Stat(mnt_, "f").st_mtim.tv_sec, 1300000000);
  Same("now", 0, [&](auto r) { return utimensat(AT_FDCWD, P(r, "f").c_str(), nullptr, 0); });
  EXPECT_GT(Stat(mnt_, "f").st_mtim.tv_sec, 1300000000);
  Same("symlink itself", 0, [&](auto r) {
    return utimensat(AT_FDCWD, P(r, "l").c_str(), explicit_times, AT_SYMLINK_NOFOLLOW);
  });
  EXPECT_EQ(Stat(mnt_, "l").st_mtim.tv_sec, 1200000000);
}

TEST_F(AttrOps, AttributesAreFreshAfterWritesAndSync) {
  Both([](const std::string& r) {
    const int fd = open(P(r, "f").c_str(), O_WRONLY);
    std::string data(1 << 20, 'w');
    ASSERT_EQ(write(fd, data.data(), data.size()), static_cast<ssize_t>(data.size()));
    ASSERT_EQ(fsync(fd), 0);
    close(fd);
  });
  const struct stat n = Stat(native_, "f");
  const struct stat m = Stat(mnt_, "f");
  EXPECT_EQ(m.st_size, 1 << 20);
  EXPECT_EQ(m.st_blocks, n.st_blocks) << "st_blocks must not stay stale after write and fsync";
  EXPECT_GT(m.st_blocks, 0);
}

TEST_F(AttrOps, Access) {
  for (int mask : {F_OK, R_OK, W_OK, R_OK | W_OK}) {
    Same("access", 0, [&](auto r) { return access(P(r, "f").c_str(), mask); });
  }
  Same("access missing", ENOENT, [&](auto r) { return access(P(r, "nope").c_str(), F_OK); });
  Same("execute a non-executable (even root)", EACCES,
       [&](auto r) { return access(P(r, "f").c_str(), X_OK); });
}

TEST_F(AttrOps, Xattrs) {
  Same("set", 0, [&](auto r) { return setxattr(P(r, "f").c_str(), "user.k", "value", 5, 0); });
  Same("create existing", EEXIST,
       [&](auto r) { return setxattr(P(r, "f").c_str(), "user.k", "v", 1, XATTR_CREATE); });
  Same("replace missing", ENODATA,
       [&](auto r) { return setxattr(P(r, "f").c_str(), "user.z", "v", 1, XATTR_REPLACE); });
  Same("replace", 0,
       [&](auto r) { return setxattr(P(r, "f").c_str(), "user.k", "value2", 6, XATTR_REPLACE); });
  Same("size query", 0, [&](auto r) { return getxattr(P(r, "f").c_str(), "user.k", nullptr, 0); });
  char buf[64] = {};
  const Outcome got = Same(
      "get", 0, [&](auto r) { return getxattr(P(r, "f").c_str(), "user.k", buf, sizeof(buf)); });
  EXPECT_EQ(std::string(buf, static_cast<size_t>(got.ret)), "value2");
  Same("buffer too small", ERANGE,
       [&](auto r) { return getxattr(P(r, "f").c_str(), "user.k", buf, 2); });
  Same("get missing", ENODATA,
       [&](auto r) { return getxattr(P(r, "f").c_str(), "user.nope", buf, sizeof(buf)); });
  Same("set on dir", 0, [&](auto r) { return setxattr(P(r, "d").c_str(), "user.dir", "1", 1, 0); });
  Same("user xattr on a symlink", EPERM,
       [&](auto r) { return lsetxattr(P(r, "l").c_str(), "user.k", "v", 1, 0); });
  Same("trusted namespace (root)", 0,
       [&](auto r) { return setxattr(P(r, "f").c_str(), "trusted.t", "t", 1, 0); });
  Same("unknown namespace", EOPNOTSUPP,
       [&](auto r) { return setxattr(P(r, "f").c_str(), "bogus.k", "v", 1, 0); });
  std::vector<char> list(256);
  const Outcome listed = Same(
      "list", 0, [&](auto r) { return listxattr(P(r, "f").c_str(), list.data(), list.size()); });
  std::vector<std::string> names;
  for (size_t i = 0; i < static_cast<size_t>(listed.ret); i += names.back().size() + 1) {
    names.emplace_back(list.data() + i);
  }
  std::sort(names.begin(), names.end());
  EXPECT_EQ(names, (std::vector<std::string>{"trusted.t", "user.k"}));
  Same("list too small", ERANGE,
       [&](auto r) { return listxattr(P(r, "f").c_str(), list.data(), 3); });
  Same("remove", 0, [&](auto r) { return removexattr(P(r, "f").c_str(), "user.k"); });
  Same("remove again", ENODATA, [&](auto r) { return removexattr(P(r, "f").c_str(), "user.k"); });
  std::string big(3000, 'x');
  Same("large value", 0,
       [&](auto r) { return setxattr(P(r, "f").c_str(), "user.big", big.data(), big.size(), 0); });
}

}  // namespace
}  // namespace faultfs::testing
