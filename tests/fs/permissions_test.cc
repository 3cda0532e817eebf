// Goal: for an unprivileged caller, faultfs (a root daemon) gives the same EACCES/EPERM answers as
// the native filesystem, and entries the caller creates belong to the caller (and to a setgid
// directory's group), with set-id bits kept or cleared as natively.
#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <cstdio>
#include <functional>
#include <string>

#include "twin_fixture.h"

namespace faultfs::testing {
namespace {

constexpr uid_t kUser = 1000;
constexpr gid_t kGroup = 1000;
constexpr gid_t kOtherGroup = 500;

// Runs `op` as kUser:kGroup (supplementary groups `groups`) in a child; returns its outcome.
Outcome AsUser(const std::function<long()>& op, std::vector<gid_t> groups = {}) {
  return testing::AsUser(kUser, kGroup, groups, 022, op);
}

class Permissions : public TwinTest {
 protected:
  Permissions() : TwinTest({"--allow-other"}, /*world_traversable=*/true) {}
  void SetUp() override {
    TwinTest::SetUp();
    umask(0);  // fixture modes exactly as written
    Both([](const std::string& r) {
      ASSERT_EQ(chmod(r.c_str(), 0755), 0);
      ASSERT_EQ(close(creat(P(r, "secret").c_str(), 0600)), 0);
      ASSERT_EQ(close(creat(P(r, "public").c_str(), 0644)), 0);
      ASSERT_EQ(close(creat(P(r, "shared").c_str(), 0666)), 0);
      ASSERT_EQ(mkdir(P(r, "open").c_str(), 0777), 0);
      ASSERT_EQ(mkdir(P(r, "sticky").c_str(), 0777), 0);
      ASSERT_EQ(chmod(P(r, "sticky").c_str(), 01777), 0);
      ASSERT_EQ(close(creat(P(r, "sticky/roots").c_str(), 0666)), 0);
      ASSERT_EQ(mkdir(P(r, "sgid").c_str(), 0777), 0);
      ASSERT_EQ(chown(P(r, "sgid").c_str(), 0, kOtherGroup), 0);
      ASSERT_EQ(chmod(P(r, "sgid").c_str(), 02777), 0);
      ASSERT_EQ(close(creat(P(r, "suid").c_str(), 0777)), 0);
      ASSERT_EQ(chmod(P(r, "suid").c_str(), 06777), 0);
    });
  }

  // The same op as kUser on both trees: same outcome, and the expected errno.
  Outcome SameAsUser(const char* what, int expected,
                     const std::function<long(const std::string&)>& op,
                     std::vector<gid_t> groups = {}) {
    const Outcome n = AsUser([&] { return op(native_); }, groups);
    const Outcome m = AsUser([&] { return op(mnt_); }, groups);
    EXPECT_EQ(n, m) << what << ": native vs faultfs";
    EXPECT_EQ(n.err, expected) << what << ": native gave " << n;
    return m;
  }

  void ExpectSameOwnerAndMode(const std::string& rel, uid_t uid, gid_t gid) {
    struct stat n {
    }, m{};
    ASSERT_EQ(lstat(P(native_, rel).c_str(), &n), 0) << rel;
    ASSERT_EQ(lstat(P(mnt_, rel).c_str(), &m), 0) << rel;
    EXPECT_EQ(m.st_uid, n.st_uid) << rel;
    EXPECT_EQ(m.st_gid, n.st_gid) << rel;
    EXPECT_EQ(m.st_mode, n.st_mode) << rel;
    EXPECT_EQ(m.st_uid, uid) << rel;
    EXPECT_EQ(m.st_gid, gid) << rel;
  }
};

TEST_F(Permissions, ReadWriteAndCreateDenied) {
  SameAsUser("read 0600", EACCES, [](auto r) { return open(P(r, "secret").c_str(), O_RDONLY); });
  SameAsUser("write 0644", EACCES, [](auto r) { return open(P(r, "public").c_str(), O_WRONLY); });
  SameAsUser("read 0644", 0, [](auto r) { return close(open(P(r, "public").c_str(), O_RDONLY)); });
  SameAsUser("create in 0755", EACCES,
             [](auto r) { return open(P(r, "new").c_str(), O_CREAT | O_WRONLY, 0644); });
  SameAsUser("mkdir in 0755", EACCES, [](auto r) { return mkdir(P(r, "newdir").c_str(), 0755); });
  SameAsUser("unlink in 0755", EACCES, [](auto r) { return unlink(P(r, "public").c_str()); });
  SameAsUser("truncate 0644", EACCES, [](auto r) { return truncate(P(r, "public").c_str(), 0); });
  SameAsUser("access R_OK 0600", EACCES,
             [](auto r) { return access(P(r, "secret").c_str(), R_OK); });
  SameAsUser("user xattr without write", EACCES,
             [](auto r) { return setxattr(P(r, "public").c_str(), "user.x", "1", 1, 0); });
  SameAsUser("trusted xattr", EPERM,
             [](auto r) { return setxattr(P(r, "shared").c_str(), "trusted.x", "1", 1, 0); });
}

TEST_F(Permissions, OwnerOnlyOperationsArePermissionErrors) {
  SameAsUser("chmod root's file", EPERM,
             [](auto r) { return chmod(P(r, "shared").c_str(), 0777); });
  SameAsUser("chown root's file", EPERM,
             [](auto r) { return chown(P(r, "shared").c_str(), kUser, kGroup); });
  const timespec times[2] = {{1, 0}, {2, 0}};
  SameAsUser("set explicit times on root's file", EPERM,
             [&](auto r) { return utimensat(AT_FDCWD, P(r, "shared").c_str(), times, 0); });
  SameAsUser("touch a writable file (times = now)", 0,
             [](auto r) { return utimensat(AT_FDCWD, P(r, "shared").c_str(), nullptr, 0); });
  SameAsUser("O_NOATIME on another's file", EPERM,
             [](auto r) { return open(P(r, "public").c_str(), O_RDONLY | O_NOATIME); });
  SameAsUser("unlink another's file in a sticky dir", EPERM,
             [](auto r) { return unlink(P(r, "sticky/roots").c_str()); });
  SameAsUser("rename another's file in a sticky dir", EPERM, [](auto r) {
    return rename(P(r, "sticky/roots").c_str(), P(r, "sticky/mine").c_str());
  });
}

TEST_F(Permissions, CreatedEntriesBelongToTheCaller) {
  SameAsUser("create", 0, [](auto r) {
    return close(open(P(r, "open/file").c_str(), O_CREAT | O_WRONLY, 0666));
  });
  ExpectSameOwnerAndMode("open/file", kUser, kGroup);
  SameAsUser("mkdir", 0, [](auto r) { return mkdir(P(r, "open/dir").c_str(), 0777); });
  ExpectSameOwnerAndMode("open/dir", kUser, kGroup);
  SameAsUser("symlink", 0, [](auto r) { return symlink("file", P(r, "open/link").c_str()); });
  ExpectSameOwnerAndMode("open/link", kUser, kGroup);
  SameAsUser("mkfifo", 0, [](auto r) { return mkfifo(P(r, "open/fifo").c_str(), 0666); });
  ExpectSameOwnerAndMode("open/fifo", kUser, kGroup);
  SameAsUser("hard link keeps the owner", 0,
             [](auto r) { return link(P(r, "open/file").c_str(), P(r, "open/hard").c_str()); });
  ExpectSameOwnerAndMode("open/hard", kUser, kGroup);
  SameAsUser("chown own file to a foreign group", EPERM,
             [](auto r) { return chown(P(r, "open/file").c_str(), kUser, 4242); });
  SameAsUser("chown own file to a member group", 0,
             [](auto r) { return chown(P(r, "open/file").c_str(), kUser, kOtherGroup); },
             {kOtherGroup});
  SameAsUser("setuid file of one's own", 0, [](auto r) {
    return close(open(P(r, "open/mine-suid").c_str(), O_CREAT | O_WRONLY, 04755));
  });
  ExpectSameOwnerAndMode("open/mine-suid", kUser, kGroup);
  SameAsUser("setgid file of one's own group", 0, [](auto r) {
    return close(open(P(r, "open/mine-sgid").c_str(), O_CREAT | O_WRONLY, 02755));
  });
  ExpectSameOwnerAndMode("open/mine-sgid", kUser, kGroup);
}

TEST_F(Permissions, SetgidDirectoryGivesItsGroup) {
  SameAsUser("create in setgid dir", 0, [](auto r) {
    return close(open(P(r, "sgid/file").c_str(), O_CREAT | O_WRONLY, 0644));
  });
  ExpectSameOwnerAndMode("sgid/file", kUser, kOtherGroup);
  SameAsUser("mkdir in setgid dir", 0,
             [](auto r) { return mkdir(P(r, "sgid/dir").c_str(), 0755); });
  ExpectSameOwnerAndMode("sgid/dir", kUser, kOtherGroup);
  struct stat st {};
  ASSERT_EQ(stat(P(mnt_, "sgid/dir").c_str(), &st), 0);
  EXPECT_TRUE(st.st_mode & S_ISGID) << "subdirectories inherit setgid";
}

TEST_F(Permissions, WriteByAnotherUserClearsSetIdBits) {
  SameAsUser("write to a setuid file", 0, [](auto r) {
    const int fd = open(P(r, "suid").c_str(), O_WRONLY);
    const long res = fd < 0 ? -1 : write(fd, "x", 1);
    close(fd);
    return res < 0 ? res : 0;
  });
  struct stat n {
  }, m{};
  ASSERT_EQ(stat(P(native_, "suid").c_str(), &n), 0);
  ASSERT_EQ(stat(P(mnt_, "suid").c_str(), &m), 0);
  EXPECT_EQ(m.st_mode, n.st_mode);
  EXPECT_EQ(m.st_mode & S_ISUID, 0U) << "the kernel killed setuid on write";
}

// How an unprivileged caller (or root) changes a file's contents.
enum class Change { kWrite, kTruncate, kTruncatingOpen };

long ApplyChange(Change c, const std::string& path) {
  switch (c) {
    case Change::kWrite: {
      const int fd = open(path.c_str(), O_WRONLY);
      const long res = fd < 0 ? -1 : write(fd, "x", 1);
      close(fd);
      return res < 0 ? res : 0;
    }
    case Change::kTruncate:
      return truncate(path.c_str(), 0);
    case Change::kTruncatingOpen: {
      const int fd = open(path.c_str(), O_WRONLY | O_TRUNC);
      return fd < 0 ? -1 : close(fd);
    }
  }
  return -1;
}

// The daemon kills set-id bits itself (FUSE_HANDLE_KILLPRIV_V2): each way of changing a file, by
// an unprivileged caller and by root, with setuid and setgid (with and without group-execute, the
// caller in the file's group or not) must leave the mode the native filesystem leaves.
TEST_F(Permissions, SetIdBitsGoAsNativelyOnWriteTruncateAndTruncatingOpen) {
  struct Case {
    mode_t mode;
    gid_t group;
  };
  const Case cases[] = {{06777, 0}, {04666, 0}, {02676, 0}, {02666, 0}, {02666, kGroup}, {0666, 0}};
  int n = 0;
  for (const Change change : {Change::kWrite, Change::kTruncate, Change::kTruncatingOpen}) {
    for (const Case& c : cases) {
      for (const bool as_root : {false, true}) {
        const std::string rel = "setid-" + std::to_string(n++);
        char mode[8];
        std::snprintf(mode, sizeof(mode), "%04o", c.mode);
        const std::string what = rel + " (mode " + mode + ", group " + std::to_string(c.group) +
                                 ", change " + std::to_string(static_cast<int>(change)) +
                                 (as_root ? ", by root)" : ", by the user)");
        Both([&](const std::string& r) {
          ASSERT_EQ(close(creat(P(r, rel).c_str(), 0644)), 0);
          ASSERT_EQ(chown(P(r, rel).c_str(), 0, c.group), 0);
          ASSERT_EQ(chmod(P(r, rel).c_str(), c.mode), 0);
          ASSERT_EQ(truncate(P(r, rel).c_str(), 10), 0);
        });
        if (as_root) {
          Same(what.c_str(), 0, [&](auto r) { return ApplyChange(change, P(r, rel)); });
        } else {
          SameAsUser(what.c_str(), 0, [&](auto r) { return ApplyChange(change, P(r, rel)); });
        }
        struct stat native {
        }, mounted{};
        ASSERT_EQ(stat(P(native_, rel).c_str(), &native), 0);
        ASSERT_EQ(stat(P(mnt_, rel).c_str(), &mounted), 0);
        EXPECT_EQ(mounted.st_mode, native.st_mode) << what;
        ASSERT_EQ(stat(P(backing_, rel).c_str(), &mounted), 0);
        EXPECT_EQ(mounted.st_mode, native.st_mode) << what << ", on the backing file";
      }
    }
  }
}

// A file capability (security.capability) goes on a write, by root too, as natively.
TEST_F(Permissions, AWriteRemovesAFileCapability) {
  vfs_cap_data cap{};
  cap.magic_etc = VFS_CAP_REVISION_2 | VFS_CAP_FLAGS_EFFECTIVE;
  cap.data[0].permitted = 1U << CAP_NET_BIND_SERVICE;
  const size_t cap_size = XATTR_CAPS_SZ_2;
  Both([&](const std::string& r) {
    ASSERT_EQ(close(creat(P(r, "capable").c_str(), 0755)), 0);
    ASSERT_EQ(setxattr(P(r, "capable").c_str(), "security.capability", &cap, cap_size, 0), 0)
        << r << ": " << std::strerror(errno);
  });
  const Outcome present = Same("capability present", 0, [](auto r) {
    return getxattr(P(r, "capable").c_str(), "security.capability", nullptr, 0);
  });
  EXPECT_EQ(present.ret, static_cast<long>(cap_size));
  Same("write as root", 0, [](auto r) { return ApplyChange(Change::kWrite, P(r, "capable")); });
  Same("capability gone", ENODATA,
       [](auto r) { return getxattr(P(r, "capable").c_str(), "security.capability", nullptr, 0); });
}

// Small appends cost one round trip each, or none in passthrough: the kernel does not ask for
// security.capability before every write (it did: one GETXATTR per write, until the daemon took
// over killing set-id bits).
TEST_F(Permissions, AppendsAskForNoXattr) {
  const std::string path = P(mnt_, "wal");
  const int fd = open(path.c_str(), O_CREAT | O_WRONLY | O_APPEND, 0644);
  ASSERT_GE(fd, 0) << std::strerror(errno);
  const uint64_t writes_before = RequestCount(mnt_, "write");
  const uint64_t getxattrs_before = RequestCount(mnt_, "getxattr");
  const std::string record(128, 'r');
  for (int i = 0; i < 200; ++i) ASSERT_EQ(write(fd, record.data(), record.size()), 128);
  close(fd);
  EXPECT_EQ(RequestCount(mnt_, "write") - writes_before, PassthroughOn(mnt_) ? 0U : 200U)
      << "every append reached the daemon, unless the kernel served it in passthrough";
  EXPECT_LE(RequestCount(mnt_, "getxattr") - getxattrs_before, 1U)
      << "a GETXATTR per write: the kernel still checks security.capability itself";
  struct stat st {};
  ASSERT_EQ(stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_size, 200 * 128);
}

}  // namespace
}  // namespace faultfs::testing
