// Goal: `faultfs mount DIR` over a non-empty directory serves its existing contents, and after
// unmount DIR holds exactly what the writes through the mount made it (checked against the same
// operations applied to a native copy).
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <string>

#include "test_support.h"

namespace faultfs::testing {
namespace {

namespace stdfs = std::filesystem;

std::string Read(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void Populate(const std::string& root) {
  stdfs::create_directories(root + "/db/wal");
  std::ofstream(root + "/db/data.bin") << std::string(100000, 'D');
  std::ofstream(root + "/db/wal/000001.log") << "entry-1\n";
  std::ofstream(root + "/CURRENT") << "MANIFEST-1\n";
  stdfs::create_symlink("db/data.bin", root + "/data-link");
}

// The workload: what a database might do in its data directory.
void Mutate(const std::string& root) {
  std::ofstream(root + "/db/wal/000001.log", std::ios::app) << "entry-2\n";
  std::ofstream(root + "/MANIFEST-2") << "new manifest\n";
  stdfs::rename(root + "/MANIFEST-2", root + "/CURRENT");
  stdfs::remove(root + "/db/data.bin");
  stdfs::create_directories(root + "/db/sst");
  std::ofstream(root + "/db/sst/1.sst") << std::string(5000, 'S');
}

// Path -> (type, mode, content or target) for every entry under root.
std::map<std::string, std::string> Tree(const std::string& root) {
  std::map<std::string, std::string> out;
  for (const auto& e : stdfs::recursive_directory_iterator(root)) {
    const std::string rel = e.path().string().substr(root.size());
    struct stat st {};
    lstat(e.path().c_str(), &st);
    std::string v = std::to_string(st.st_mode);
    if (S_ISREG(st.st_mode)) v += " " + Read(e.path());
    if (S_ISLNK(st.st_mode)) v += " -> " + stdfs::read_symlink(e.path()).string();
    out[rel] = v;
  }
  return out;
}

TEST(InPlace, ServesExistingContentsAndKeepsWrites) {
  TempDir dir("inplace");
  const std::string data = dir / "data";
  const std::string expected = dir / "expected";
  Populate(data);
  Populate(expected);
  const auto before = Tree(data);

  FaultfsMount mount;
  ASSERT_EQ(mount.Start(data, data), "");
  ASSERT_TRUE(IsFuseMount(data)) << "DIR itself is now the mount";
  EXPECT_EQ(Tree(data), before) << "existing contents are served through the mount";
  EXPECT_EQ(Read(data + "/db/wal/000001.log"), "entry-1\n");
  Mutate(data);
  Mutate(expected);
  EXPECT_EQ(Tree(data), Tree(expected)) << "through the mount";
  ASSERT_EQ(mount.Stop().exit_code, 0);

  ASSERT_FALSE(IsFuseMount(data)) << "unmounted";
  EXPECT_EQ(Tree(data), Tree(expected)) << "the plain directory holds what the writes made it";
}

TEST(InPlace, RelativePathMountsTheSameDirectory) {
  TempDir dir("inplace-rel");
  const std::string data = dir / "data";
  stdfs::create_directories(data);
  std::ofstream(data + "/x") << "x";
  const CommandResult r = RunCommand(
      {"/bin/sh", "-c", "cd '" + dir.path() + "' && exec '" + FaultfsBinary() + "' mount data"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("(in place)"), std::string::npos) << r.out;
  EXPECT_TRUE(IsFuseMount(data));
  EXPECT_EQ(Read(data + "/x"), "x");
  EXPECT_EQ(RunCommand({FaultfsBinary(), "umount", data}).exit_code, 0);
  EXPECT_FALSE(IsFuseMount(data));
}

}  // namespace
}  // namespace faultfs::testing
