// Goal: a command started by SpawnSubprocess/RunSubprocess gets stdio and nothing else of the
// caller's descriptors, its output lands in the file asked for, and its exit is reported.
#include "faultfs/core/subprocess.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <string>

#include "test_support.h"

namespace faultfs {
namespace {

TEST(Subprocess, ReportsTheExitAndWritesTheOutputFile) {
  // Goal: the exit code and the output file are the command's.
  testing::TempDir dir("subprocess");
  SubprocessSpec spec;
  spec.command = "echo hello; exit 3";
  spec.output = dir / "out";
  auto ran = RunSubprocess(spec);
  ASSERT_TRUE(ran.ok()) << ran.status().ToString();
  EXPECT_EQ(ran->exit_code, 3);
  EXPECT_EQ(FileTail(spec.output, 100), "hello\n");
}

TEST(Subprocess, InheritsNoDescriptorButStdio) {
  // Goal: a descriptor the caller left inheritable (a socket, as Asio's can be) is closed in
  // the command; an inherited socket kept connections open after the caller closed them.
  int pair[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, pair), 0);  // no SOCK_CLOEXEC on purpose
  SubprocessSpec spec;
  spec.command = "test -e /proc/$$/fd/" + std::to_string(pair[0]) + " && exit 7; exit 0";
  auto ran = RunSubprocess(spec);
  close(pair[0]);
  close(pair[1]);
  ASSERT_TRUE(ran.ok()) << ran.status().ToString();
  EXPECT_EQ(ran->exit_code, 0) << "the command saw the caller's socket";
  // The negative case: stdio is still there.
  spec.command = "test -e /proc/$$/fd/1 && exit 7; exit 0";
  auto stdio = RunSubprocess(spec);
  ASSERT_TRUE(stdio.ok());
  EXPECT_EQ(stdio->exit_code, 7);
}

}  // namespace
}  // namespace faultfs
