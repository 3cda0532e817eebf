// Goal: the Redis case study (examples/redis/run.sh) comes out as its README says on Debian's
// Redis 7: with appendfsync always no acknowledged key is lost under the ext4 model or after a
// live power cut, while the AOF's first creation needs directory fsyncs under pp; everysec loses
// acknowledged keys; a torn AOF tail stops the server from starting; a byte of the AOF corrupted
// on read reaches a client as a wrong value. Each checker runs a redis-server per crash state,
// on its own port, and none is left running.
#include <gtest/gtest.h>

#include <string>

#include "test_support.h"

namespace faultfs::testing {
namespace {

TEST(Redis, TheCaseStudyComesOutAsItsReadmeSays) {
  TempDir dir("redis");
  const CommandResult r = RunCommand(
      {"bash", SourceDir() + "/examples/redis/run.sh"},
      {"FAULTFS=" + FaultfsBinary(), "RESULTS=" + dir.path(), "TMPDIR=" + dir.path()}, 600);
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("every case came out as expected"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("UNEXPECTED"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("FAILED"), std::string::npos) << r.out;
  // The findings behind the failing cases, by name.
  EXPECT_NE(r.out.find("fsync the directory appendonlydir after op"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("needs a filesystem weaker than ext4"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("fsync appendonlydir/appendonly.aof.1.incr.aof after op"), std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("tear-proof"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("recovered; 0 of 20 acknowledged keys lost"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("key2 holds \"val\\x00e-2\""), std::string::npos) << r.out;
  // Every server the checkers and the live cases started is gone.
  EXPECT_EQ(RunCommand({"pgrep", "-f", "redis-server.*" + dir.path()}).exit_code, 1);
}

}  // namespace
}  // namespace faultfs::testing
