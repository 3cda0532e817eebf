// Goal: directory streams through faultfs list exactly what the native directory lists (names and
// types, for small and large directories, with readdir and readdirplus), resume correctly after
// seekdir, see changes after rewinddir, and fsync.
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <map>
#include <string>
#include <vector>

#include "twin_fixture.h"

namespace faultfs::testing {
namespace {

using Listing = std::map<std::string, unsigned char>;  // name -> d_type

Listing List(const std::string& dir) {
  Listing out;
  DIR* d = opendir(dir.c_str());
  EXPECT_NE(d, nullptr) << dir;
  if (d == nullptr) return out;
  while (dirent* e = readdir(d)) out[e->d_name] = e->d_type;
  closedir(d);
  return out;
}

class DirOps : public TwinTest {};

TEST_F(DirOps, ListingMatchesWithTypes) {
  Both([](const std::string& r) {
    ASSERT_EQ(mkdir(P(r, "sub").c_str(), 0755), 0);
    ASSERT_EQ(close(creat(P(r, "file").c_str(), 0644)), 0);
    ASSERT_EQ(symlink("file", P(r, "link").c_str()), 0);
    ASSERT_EQ(mkfifo(P(r, "fifo").c_str(), 0644), 0);
  });
  const Listing n = List(native_);
  EXPECT_EQ(n.size(), 6U);
  EXPECT_EQ(List(mnt_), n);
  EXPECT_EQ(List(mnt_).at("link"), DT_LNK);
  EXPECT_EQ(List(mnt_).at("sub"), DT_DIR);
  EXPECT_EQ(List(mnt_).at("fifo"), DT_FIFO);
}

TEST_F(DirOps, LargeDirectoryIsListedCompletely) {
  Both([](const std::string& r) {
    ASSERT_EQ(mkdir(P(r, "big").c_str(), 0755), 0);
    for (int i = 0; i < 5000; ++i) {
      const std::string name = "entry-with-a-longish-name-" + std::to_string(i);
      ASSERT_EQ(close(creat(P(r, "big/" + name).c_str(), 0644)), 0);
    }
  });
  const Listing m = List(P(mnt_, "big"));
  EXPECT_EQ(m.size(), 5002U);
  EXPECT_EQ(m, List(P(native_, "big")));
  // Stat every entry after the listing (readdirplus may have filled the kernel's cache).
  for (const auto& [name, type] : m) {
    struct stat st {};
    ASSERT_EQ(lstat(P(mnt_, "big/" + name).c_str(), &st), 0) << name;
  }
}

TEST_F(DirOps, SeekdirResumesAndRewinddirSeesChanges) {
  for (int i = 0; i < 300; ++i)
    ASSERT_EQ(close(creat(P(mnt_, "f" + std::to_string(i)).c_str(), 0644)), 0);
  DIR* d = opendir(mnt_.c_str());
  ASSERT_NE(d, nullptr);
  std::vector<std::string> first;
  long mark = 0;
  for (int i = 0; i < 150; ++i) {
    dirent* e = readdir(d);
    ASSERT_NE(e, nullptr);
    first.emplace_back(e->d_name);
    if (i == 99) mark = telldir(d);
  }
  seekdir(d, mark);
  dirent* e = readdir(d);
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(first[100], e->d_name) << "seekdir(telldir()) resumes at the same entry";
  ASSERT_EQ(close(creat(P(mnt_, "added-later").c_str(), 0644)), 0);
  rewinddir(d);
  bool seen = false;
  size_t count = 0;
  while ((e = readdir(d)) != nullptr) {
    ++count;
    seen = seen || std::string(e->d_name) == "added-later";
  }
  closedir(d);
  EXPECT_TRUE(seen) << "rewinddir re-reads the directory";
  EXPECT_EQ(count, 303U);
}

TEST_F(DirOps, ErrorsAndFsyncdir) {
  Both([](const std::string& r) { ASSERT_EQ(close(creat(P(r, "file").c_str(), 0644)), 0); });
  Same("opendir a file", ENOTDIR, [&](auto r) {
    return static_cast<long>(open(P(r, "file").c_str(), O_RDONLY | O_DIRECTORY));
  });
  Same("opendir missing", ENOENT,
       [&](auto r) { return open(P(r, "nope").c_str(), O_RDONLY | O_DIRECTORY); });
  Same("fsync a directory", 0, [&](auto r) {
    const int fd = open(r.c_str(), O_RDONLY | O_DIRECTORY);
    const int res = fsync(fd) | fdatasync(fd);
    close(fd);
    return res;
  });
}

TEST_F(DirOps, ListingARemovedDirectoryIsEmpty) {
  Both([](const std::string& r) {
    ASSERT_EQ(mkdir(P(r, "gone").c_str(), 0755), 0);
    DIR* d = opendir(P(r, "gone").c_str());
    ASSERT_NE(d, nullptr);
    ASSERT_EQ(rmdir(P(r, "gone").c_str()), 0);
    size_t n = 0;
    while (readdir(d) != nullptr) ++n;
    EXPECT_EQ(n, 0U) << r;
    closedir(d);
  });
}

}  // namespace
}  // namespace faultfs::testing
