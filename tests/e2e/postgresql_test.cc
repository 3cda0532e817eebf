// Goal: the PostgreSQL case study (examples/postgresql/run.sh) comes out as its README says on
// Debian's PostgreSQL 15, each case asserted by the script and its key outcomes here: an fsync
// error on the WAL or a data file stops the server with a PANIC instead of a reported success,
// a power cut at a WAL fsync keeps every acknowledged commit with amcheck and pg_checksums clean,
// fsync=off loses them, and a torn page stops recovery with full_page_writes off and is repaired
// with it on. The server runs as the postgres user on --allow-other mounts; nothing is left.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <string>

#include "test_support.h"

namespace faultfs::testing {
namespace {

TEST(PostgreSql, TheCaseStudyComesOutAsItsReadmeSays) {
  // The postgres user must reach the mounts: under /tmp, not under the test root (whose
  // ancestors, in a fresh clone from mktemp -d, only root may enter).
  TempDir dir("postgresql", "/tmp");
  ASSERT_EQ(chmod(dir.path().c_str(), 0755), 0);
  const CommandResult r = RunCommand({"bash", SourceDir() + "/examples/postgresql/run.sh"},
                                     {"FAULTFS=" + FaultfsBinary(), "TMPDIR=" + dir.path()}, 600);
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("every case came out as expected"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("FAILED"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("server stopped: PANIC could not fdatasync file"), std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("server stopped: PANIC could not fsync file \"base/"), std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("invalid page in block"), std::string::npos) << r.out;
  EXPECT_EQ(RunCommand({"pgrep", "-f", "postgres -D " + dir.path()}).exit_code, 1)
      << "a server was left running";
}

}  // namespace
}  // namespace faultfs::testing
