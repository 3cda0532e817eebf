// TwinTest: a native directory and a faultfs mount (over a separate backing directory on the same
// disk) side by side. Tests run the same operation on both and require the same result and errno:
// the passthrough must behave exactly like the filesystem beneath it.
#pragma once

#include <grp.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <functional>
#include <ostream>
#include <string>
#include <vector>

#include "test_support.h"

namespace faultfs::testing {

struct Outcome {
  long ret = 0;
  int err = 0;  // errno when ret < 0, else 0
  bool operator==(const Outcome&) const = default;
};

inline std::ostream& operator<<(std::ostream& os, const Outcome& o) {
  return os << "{ret " << o.ret << ", errno " << o.err << " (" << std::strerror(o.err) << ")}";
}

class TwinTest : public ::testing::Test {
 protected:
  // `world_traversable`: put the trees where unprivileged children can reach them.
  explicit TwinTest(std::vector<std::string> mount_args = {}, bool world_traversable = false)
      : dir_("twin", world_traversable ? "/tmp" : ""), mount_args_(std::move(mount_args)) {
    if (world_traversable) chmod(dir_.path().c_str(), 0755);
  }

  void SetUp() override {
    native_ = dir_ / "native";
    backing_ = dir_ / "backing";
    mnt_ = dir_ / "mnt";
    for (const auto& d : {native_, backing_, mnt_}) ASSERT_EQ(mkdir(d.c_str(), 0755), 0) << d;
    ASSERT_EQ(mount_.Start(backing_, mnt_, mount_args_), "");
    ASSERT_TRUE(IsFuseMount(mnt_)) << "not on faultfs: " << mnt_;
  }

  // Runs fn(root) on the native tree, then on the mount.
  template <typename Fn>
  void Both(Fn&& fn) {
    fn(native_);
    fn(mnt_);
  }

  template <typename Fn>
  static Outcome Try(Fn&& fn) {
    errno = 0;
    const long ret = static_cast<long>(fn());
    return {ret, ret < 0 ? errno : 0};
  }

  // Runs `op(root)` on both trees: the outcomes must match each other and `expected_errno`
  // (0 = success). Returns the mount's outcome.
  template <typename Fn>
  Outcome Same(const char* what, int expected_errno, Fn&& op) {
    const Outcome native = Try([&] { return op(native_); });
    const Outcome mounted = Try([&] { return op(mnt_); });
    EXPECT_EQ(native, mounted) << what << ": native vs faultfs";
    EXPECT_EQ(native.err, expected_errno)
        << what << ": native gave " << native << ", test expected errno " << expected_errno;
    return mounted;
  }

  TempDir dir_;
  std::string native_, backing_, mnt_;
  FaultfsMount mount_;
  std::vector<std::string> mount_args_;
};

inline std::string P(const std::string& root, const std::string& rel) { return root + "/" + rel; }

// Runs `op` in a child process as `uid`:`gid` with supplementary `groups` and umask `mask`;
// returns its outcome (the child's errno with it).
inline Outcome AsUser(uid_t uid, gid_t gid, const std::vector<gid_t>& groups, mode_t mask,
                      const std::function<long()>& op) {
  int p[2];
  if (pipe(p) != 0) return {-1, errno};
  const pid_t pid = fork();
  if (pid == 0) {
    Outcome o{-1, EPERM};
    if (setgroups(groups.size(), groups.data()) == 0 && setgid(gid) == 0 && setuid(uid) == 0) {
      umask(mask);
      errno = 0;
      o.ret = op();
      o.err = o.ret < 0 ? errno : 0;
    }
    (void)!write(p[1], &o, sizeof(o));
    _exit(0);
  }
  close(p[1]);
  Outcome o{-1, EIO};
  (void)!read(p[0], &o, sizeof(o));
  close(p[0]);
  waitpid(pid, nullptr, 0);
  return o;
}

}  // namespace faultfs::testing
