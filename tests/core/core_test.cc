// Goal: the core value types hold their contracts: Status/Result carry errors and refuse misuse,
// errno names round-trip, mountinfo finds real mounts, process state is read correctly.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>

#include "faultfs/core/errno_names.h"
#include "faultfs/core/mountinfo.h"
#include "faultfs/core/process.h"
#include "faultfs/core/status.h"

namespace faultfs {
namespace {

TEST(Status, OkAndErrors) {
  EXPECT_TRUE(Status::Ok().ok());
  const Status e = Status::FromErrno(ENOENT, "opening x");
  EXPECT_FALSE(e.ok());
  EXPECT_EQ(e.code(), ENOENT);
  EXPECT_EQ(e.ToString(), "opening x: No such file or directory");
  const Status inv = Status::Invalid("policy.toml:3:5: expected a number");
  EXPECT_EQ(inv.code(), EINVAL);
  EXPECT_EQ(inv.ToString(), "policy.toml:3:5: expected a number") << "no strerror suffix";
}

Result<int> Half(int x) {
  if (x % 2 != 0) return Status::Invalid("odd");
  return x / 2;
}

Status UsesReturnIfError(int x) {
  FAULTFS_RETURN_IF_ERROR(Half(x).status());
  return Status::Ok();
}

TEST(Result, ValueOrStatus) {
  EXPECT_EQ(*Half(8), 4);
  EXPECT_FALSE(Half(3).ok());
  EXPECT_EQ(Half(3).status().ToString(), "odd");
  EXPECT_TRUE(Half(8).status().ok());
  EXPECT_FALSE(UsesReturnIfError(3).ok());
  EXPECT_TRUE(UsesReturnIfError(4).ok());
}

TEST(ResultDeathTest, ValueOfAnErrorAborts) {
  EXPECT_DEATH((void)Half(3).value(), "invariant violated");
  EXPECT_DEATH((void)Result<int>(Status::Ok()), "OK status");
}

TEST(ErrnoNames, RoundTrip) {
  EXPECT_EQ(ErrnoName(ENOENT), "ENOENT");
  EXPECT_EQ(ErrnoName(ENOSPC), "ENOSPC");
  EXPECT_EQ(ErrnoFromName("EIO"), EIO);
  EXPECT_EQ(ErrnoFromName("EDQUOT"), EDQUOT);
  EXPECT_FALSE(ErrnoFromName("ENOTANERRNO"));
  EXPECT_FALSE(ErrnoFromName("eio")) << "names are case-sensitive, as in C";
  EXPECT_EQ(ErrnoName(99999), "errno 99999");
}

TEST(Mountinfo, FindsRealMounts) {
  const auto proc = FindMount("/proc");
  ASSERT_TRUE(proc);
  EXPECT_EQ(proc->fstype, "proc");
  EXPECT_FALSE(IsFuse(*proc));
  EXPECT_FALSE(FindMount("/proc/self")) << "not a mount point";
  EXPECT_FALSE(ReadMounts().empty());
}

TEST(Process, RunningNameAndZombies) {
  EXPECT_TRUE(ProcessRunning(getpid()));
  EXPECT_FALSE(ProcessRunning(0));
  const pid_t child = fork();
  if (child == 0) _exit(0);
  // Unreaped, the child is a zombie: it has exited, so it is not running.
  for (int i = 0; i < 200 && ProcessRunning(child); ++i) usleep(5000);
  EXPECT_FALSE(ProcessRunning(child));
  waitpid(child, nullptr, 0);
  EXPECT_FALSE(ProcessRunning(child));
  EXPECT_EQ(ProcessName(getpid()), "core_test");
}

}  // namespace
}  // namespace faultfs
