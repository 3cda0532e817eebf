// Goal: a StateBuilder, which lends the files of its pristine copy to states instead of copying
// the snapshot, builds every state exactly as Materialize does (same names, contents, modes,
// owners, xattrs, link counts; same HashTree), for every model's states of a log whose ops write,
// truncate, chmod, link, replace and remove files of the starting state (by inode, by path, and by
// an inode the state does not know). Whatever a checker does to a state (writes, same-size
// rewrites with the old mtime put back, chmods, removals, renames, hard links) does not leak into
// later states, whether its files are lent on to the next state or taken back, or the next state
// is built in place of it: after a state is taken back, the pristine copy equals the snapshot. A
// state that continues the previous one (more ops of the same crash sequence) and finds it
// untouched is built by extending it, with the same result.
#include "faultfs/crash/state_builder.h"

#include <dirent.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>

#include "faultfs/core/tree_copy.h"
#include "faultfs/core/tree_hash.h"
#include "faultfs/crash/materialize.h"
#include "test_log.h"
#include "test_support.h"

namespace faultfs::crash {
namespace {

namespace stdfs = std::filesystem;
using record::Op;
using record::OpKind;

void Write(const std::string& path, const std::string& data) {
  std::ofstream(path, std::ios::binary) << data;
}

// Everything HashTree covers, plus link counts: one line per object, sorted by path.
std::string Describe(const std::string& root) {
  std::map<std::string, std::string> lines;
  for (const auto& e : stdfs::recursive_directory_iterator(root)) {
    const std::string path = e.path().string().substr(root.size());
    struct stat st {};
    EXPECT_EQ(lstat(e.path().c_str(), &st), 0) << path;
    std::string line = std::to_string(st.st_mode) + " " + std::to_string(st.st_uid) + ":" +
                       std::to_string(st.st_gid) + " links " + std::to_string(st.st_nlink);
    if (S_ISREG(st.st_mode)) {
      auto digest = HashFile(e.path());
      line += " size " + std::to_string(st.st_size) + " " + (digest.ok() ? *digest : "?");
    }
    char value[256];
    const ssize_t n = lgetxattr(e.path().c_str(), "user.k", value, sizeof(value));
    if (n >= 0) line += " user.k=" + std::string(value, static_cast<size_t>(n));
    lines[path] = line;
  }
  std::string out;
  for (const auto& [path, line] : lines) out += path + " " + line + "\n";
  return out;
}

std::vector<std::string> RegularFiles(const std::string& root) {
  std::vector<std::string> files;
  for (const auto& e : stdfs::recursive_directory_iterator(root)) {
    if (e.is_regular_file() && !e.is_symlink()) files.push_back(e.path());
  }
  std::sort(files.begin(), files.end());
  return files;
}

class StateBuilderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    snap_ = root_ + "/snap";
    stdfs::create_directories(snap_ + "/d");
    Write(snap_ + "/a", std::string(5000, 'a'));
    Write(snap_ + "/b", "bee");
    Write(snap_ + "/c", "sea");
    Write(snap_ + "/d/e", std::string(9000, 'e'));
    Write(snap_ + "/d/f", "eff");
    Write(snap_ + "/big", std::string(1 << 20, 'B'));
    Write(snap_ + "/h1", "linked");
    ASSERT_EQ(link((snap_ + "/h1").c_str(), (snap_ + "/h2").c_str()), 0);
    ASSERT_EQ(symlink("a", (snap_ + "/sym").c_str()), 0);
    Write(snap_ + "/x", "ex");
    ASSERT_EQ(setxattr((snap_ + "/x").c_str(), "user.k", "v1", 2, 0), 0);
    log_.header.inodes = {{1, ""},    {2, "a"},   {3, "b"},  {4, "c"},  {5, "d"},    {6, "d/e"},
                          {7, "d/f"}, {8, "big"}, {9, "h1"}, {9, "h2"}, {10, "sym"}, {11, "x"}};
    Add(OpKind::kWrite, "a", 2, "hello");
    Add(OpKind::kFsync, "a", 2);
    Add(OpKind::kCreate, "n", 20);
    Add(OpKind::kWrite, "n", 20, "new");
    Add(OpKind::kRename, "n", 20, "", "b");  // over a file of the starting state
    Add(OpKind::kUnlink, "c", 4);
    Add(OpKind::kLink, "d/e", 6, "", "d/e2");
    Add(OpKind::kWrite, "d/e2", 6, "X").offset = 3;  // through its new name
    Add(OpKind::kChmod, "d/f", 7).mode = 0600;
    Add(OpKind::kFsyncdir, "d", 5);
    Add(OpKind::kRename, "d", 5, "", "d2");
    Add(OpKind::kWrite, "d2/f", 7, "moved").offset = 1;
    Add(OpKind::kSetxattr, "x", 11, "v2", "user.k");
    Add(OpKind::kTruncate, "big", 8).offset = 1000;
    Add(OpKind::kWrite, "h1", 9, "H");
    Add(OpKind::kFsync, "big", 8);
    Add(OpKind::kWrite, "b", 0, "by path");      // no inode: the path stands in
    Add(OpKind::kWrite, "d2/e", 99, "unknown");  // an inode the state never saw
    Add(OpKind::kRename, "a", 2, "", "x");       // replaces x
    Add(OpKind::kMark, "", 0, "done");
    Add(OpKind::kFsync, "x", 2);
  }

  Op& Add(OpKind kind, std::string path, uint64_t ino, std::string data = "",
          std::string path2 = "") {
    return AppendOp(log_, kind, std::move(path), ino, std::move(data), std::move(path2));
  }

  // What a checker might do to state `dir`: every third state is left alone, in the others each
  // file gets one of the deeds below (`i` rotates which).
  static void Meddle(const std::string& dir, size_t i) {
    if (i % 3 == 0) return;
    const auto files = RegularFiles(dir);
    // Directories too: a new one holding a moved file, and a changed mode on one of the
    // snapshot's.
    const std::string junk = dir + "/junk" + std::to_string(i);
    ASSERT_EQ(mkdir(junk.c_str(), 0755), 0);
    Write(junk + "/new", "made by the checker");
    if (i % 3 == 2 && !files.empty()) {
      ASSERT_EQ(rename(files.back().c_str(), (junk + "/moved").c_str()), 0);
    }
    if (stdfs::is_directory(dir + "/d")) {
      ASSERT_EQ(chmod((dir + "/d").c_str(), i % 2 == 0 ? 0700 : 0711), 0);
    }
    for (size_t j = 0; j < files.size(); ++j) Meddle(dir, files[j], i + j, j);
  }
  static void Meddle(const std::string& dir, const std::string& f, size_t deed, size_t j) {
    if (!stdfs::exists(f)) return;  // another name of a file renamed or removed already
    switch (deed % 7) {
      case 0:  // append
        std::ofstream(f, std::ios::app) << "checker was here";
        break;
      case 1: {  // rewrite one byte in place, and put the old times back
        struct stat st {};
        ASSERT_EQ(stat(f.c_str(), &st), 0);
        const int fd = open(f.c_str(), O_WRONLY);
        ASSERT_GE(fd, 0);
        if (st.st_size > 0) {
          ASSERT_EQ(pwrite(fd, "#", 1, 0), 1);
        }
        const timespec times[2] = {st.st_atim, st.st_mtim};
        ASSERT_EQ(futimens(fd, times), 0);
        close(fd);
        break;
      }
      case 2:
        ASSERT_EQ(chmod(f.c_str(), 0640), 0);
        break;
      case 3:
        ASSERT_EQ(unlink(f.c_str()), 0);
        break;
      case 4:
        ASSERT_EQ(rename(f.c_str(), (dir + "/renamed" + std::to_string(j)).c_str()), 0);
        break;
      case 5:
        ASSERT_EQ(link(f.c_str(), (dir + "/another-name" + std::to_string(j)).c_str()), 0);
        break;
      default:
        break;  // a checker that only reads
    }
  }

  // Builds every state of `model` both ways and compares; meddles with each fast one afterwards.
  // `checkpoints`: the builder is told which ops later states share, and moves its starting
  // point after every 2 more of them.
  void CheckModel(const std::string& model_name, bool meddle = true, bool checkpoints = false) {
    SCOPED_TRACE(model_name);
    auto model = ParseModel(model_name);
    ASSERT_TRUE(model.ok());
    const Enumeration e = Enumerate(log_, *model, 3, 400);
    ASSERT_GT(e.states.size(), 3u);
    auto builder = StateBuilder::Create(snap_, log_, 3, root_ + "/slot", checkpoints ? 2 : 1000);
    ASSERT_TRUE(builder.ok()) << builder.status().ToString();
    const std::vector<size_t> shared = SharedPrefixes(e.states);
    auto snapshot_hash = HashTree(snap_);
    ASSERT_TRUE(snapshot_hash.ok());
    const std::string fast = root_ + "/slot/state", plain = root_ + "/plain";
    for (size_t i = 0; i < e.states.size(); ++i) {
      const CrashState& state = e.states[i];
      SCOPED_TRACE("state " + state.id);
      auto hash = (*builder)->Build(state, fast, checkpoints ? shared[i] : 0);
      ASSERT_TRUE(hash.ok()) << hash.status().ToString();
      stdfs::remove_all(plain);
      stdfs::create_directory(plain);
      ASSERT_TRUE(Materialize(snap_, log_, state, 3, plain).ok());
      EXPECT_EQ(*hash, *HashTree(plain));
      EXPECT_EQ(*hash, *HashTree(fast));  // the lent files' known digests are right
      EXPECT_EQ(Describe(fast), Describe(plain));
      if (meddle) Meddle(fast, i);
      // Every fourth state is taken back here; the others are lent on to the next state, or
      // extended into it.
      if (i % 4 != 3) continue;
      ASSERT_TRUE((*builder)->TakeBack().ok());
      // The pristine copy is a copy of the snapshot, or of the checkpoint.
      const std::string checkpoint = root_ + "/slot/checkpoint";
      EXPECT_EQ(*HashTree(root_ + "/slot/pristine"),
                stdfs::exists(checkpoint) ? *HashTree(checkpoint) : *snapshot_hash);
      EXPECT_FALSE(stdfs::exists(fast));
    }
    if (checkpoints) {
      EXPECT_GT((*builder)->stats().checkpoints, 0u);
      // A state that does not start with the checkpoint's ops is built from the snapshot again.
      auto again = (*builder)->Build(e.states.front(), fast);
      ASSERT_TRUE(again.ok()) << again.status().ToString();
      stdfs::remove_all(plain);
      stdfs::create_directory(plain);
      ASSERT_TRUE(Materialize(snap_, log_, e.states.front(), 3, plain).ok());
      EXPECT_EQ(*again, *HashTree(plain));
      EXPECT_FALSE(stdfs::exists(root_ + "/slot/checkpoint"));
    }
    ASSERT_TRUE((*builder)->TakeBack().ok());
    EXPECT_EQ(*HashTree(root_ + "/slot/pristine"), *snapshot_hash);
    const auto& stats = (*builder)->stats();
    EXPECT_GT(stats.lent, 0u);  // the fast path was taken
    if (model_name != "prefix") {
      EXPECT_GT(stats.reset, 0u);  // states were built in place of the one before
    }
    if (!stdfs::exists(snap_ + "/h2")) {
      // Only states after a take-back (one in four), or after a state that renamed directory d,
      // start from scratch.
      EXPECT_GT(stats.reset, e.states.size() / 3);
    }
    EXPECT_GT(stats.unshared, 0u);
    EXPECT_EQ(stats.recopied > 0, meddle);
    if (model_name == "prefix") {
      EXPECT_GT(stats.extended, 0u);
    }
    builder->reset();
    EXPECT_FALSE(stdfs::exists(root_ + "/slot/pristine"));
  }

  testing::TempDir tmp_{"sb"};
  std::string root_ = tmp_.path(), snap_;
  record::ReadLog log_;
};

TEST_F(StateBuilderTest, PrefixStatesEqualMaterialize) { CheckModel("prefix"); }
TEST_F(StateBuilderTest, PrefixStatesExtendEachOther) { CheckModel("prefix", false); }
TEST_F(StateBuilderTest, PpStatesUntouchedByTheChecker) { CheckModel("pp", false); }
TEST_F(StateBuilderTest, PpStatesEqualMaterialize) { CheckModel("pp"); }
TEST_F(StateBuilderTest, PpStrictStatesEqualMaterialize) { CheckModel("pp-strict"); }
TEST_F(StateBuilderTest, WeakRenameStatesEqualMaterialize) { CheckModel("weak-rename"); }
TEST_F(StateBuilderTest, ReorderStatesEqualMaterialize) { CheckModel("reorder-3"); }

// Without a multiply linked file in the snapshot (whose changes make a state be built from
// scratch), states are built in place even after a checker made new directories, moved files
// into them and changed a directory's mode.
TEST_F(StateBuilderTest, PpStatesBuiltInPlaceWhateverTheCheckerDid) {
  ASSERT_EQ(unlink((snap_ + "/h2").c_str()), 0);
  CheckModel("pp");
}
TEST_F(StateBuilderTest, WeakStatesBuiltInPlaceWhateverTheCheckerDid) {
  ASSERT_EQ(unlink((snap_ + "/h2").c_str()), 0);
  CheckModel("weak-rename");
}

// Checkpoints: states built from the snapshot with the ops that all later states share applied
// equal Materialize's too, whatever the checker did, and an earlier state is built again from
// the snapshot.
TEST_F(StateBuilderTest, PrefixStatesFromCheckpoints) { CheckModel("prefix", true, true); }
TEST_F(StateBuilderTest, PpStatesFromCheckpoints) {
  ASSERT_EQ(unlink((snap_ + "/h2").c_str()), 0);
  CheckModel("pp", true, true);
}
TEST_F(StateBuilderTest, WeakStatesFromCheckpoints) { CheckModel("weak-rename", true, true); }

// A checker that removes its state directory makes the builder start over from its checkpoint,
// and later checkpoints still reach the new pristine copy (a second review found they did not).
TEST_F(StateBuilderTest, CheckerRemovesTheStateAfterACheckpoint) {
  auto model = ParseModel("prefix");
  ASSERT_TRUE(model.ok());
  const Enumeration e = Enumerate(log_, *model, 3, 400);
  const std::vector<size_t> shared = SharedPrefixes(e.states);
  auto builder = StateBuilder::Create(snap_, log_, 3, root_ + "/slot", 2);
  ASSERT_TRUE(builder.ok());
  const std::string fast = root_ + "/slot/state", plain = root_ + "/plain";
  for (size_t i = 0; i < e.states.size(); ++i) {
    SCOPED_TRACE("state " + e.states[i].id);
    auto hash = (*builder)->Build(e.states[i], fast, shared[i]);
    ASSERT_TRUE(hash.ok()) << hash.status().ToString();
    stdfs::remove_all(plain);
    stdfs::create_directory(plain);
    ASSERT_TRUE(Materialize(snap_, log_, e.states[i], 3, plain).ok());
    EXPECT_EQ(*hash, *HashTree(plain));
    EXPECT_EQ(Describe(fast), Describe(plain));
    if (i % 2 == 0) {
      stdfs::remove_all(fast);  // the checker cleans up after itself
    } else {
      stdfs::rename(fast, root_ + "/moved-away");
      stdfs::remove_all(root_ + "/moved-away");
    }
  }
  EXPECT_GT((*builder)->stats().checkpoints, 1u);
}

// The pristine copy starts without the files that can be lent: the first state gets them
// straight from the snapshot (one copy, not two), and they go to the pristine copy when taken
// back, which then equals the snapshot.
TEST_F(StateBuilderTest, TheFirstStateCopiesTheSnapshotOnce) {
  auto builder = StateBuilder::Create(snap_, log_, 3, root_ + "/slot");
  ASSERT_TRUE(builder.ok());
  const std::string pristine = root_ + "/slot/pristine", fast = root_ + "/slot/state";
  EXPECT_FALSE(stdfs::exists(pristine + "/a"));
  EXPECT_FALSE(stdfs::exists(pristine + "/d/e"));
  EXPECT_TRUE(stdfs::exists(pristine + "/h1"));  // several names: copied, never lent
  EXPECT_TRUE(stdfs::is_symlink(pristine + "/sym"));
  CrashState first;
  first.id = "first";
  first.applied = {Applied{0}};  // write a
  auto hash = (*builder)->Build(first, fast);
  ASSERT_TRUE(hash.ok()) << hash.status().ToString();
  stdfs::create_directory(root_ + "/plain");
  ASSERT_TRUE(Materialize(snap_, log_, first, 3, root_ + "/plain").ok());
  EXPECT_EQ(*hash, *HashTree(root_ + "/plain"));
  EXPECT_EQ(*hash, *HashTree(fast));               // the digests learned while hashing are right
  EXPECT_FALSE(stdfs::exists(pristine + "/d/e"));  // lent to the state
  ASSERT_TRUE((*builder)->TakeBack().ok());
  EXPECT_EQ(*HashTree(pristine), *HashTree(snap_));
}

TEST_F(StateBuilderTest, AStateThatCannotBeBuiltLeavesThePristineCopyWhole) {
  // A write to a symlink fails (ELOOP is not "its target did not survive") after most ops were
  // applied; the next state is still exact.
  Add(OpKind::kWrite, "sym", 10, "through a symlink");
  CrashState bad;
  bad.id = "bad";
  for (uint32_t i = 0; i < log_.ops.size(); ++i) bad.applied.push_back(Applied{i});
  auto builder = StateBuilder::Create(snap_, log_, 3, root_ + "/slot");
  ASSERT_TRUE(builder.ok());
  EXPECT_FALSE((*builder)->Build(bad, root_ + "/slot/state").ok());
  CrashState good;
  good.id = "good";
  good.applied = {Applied{0}, Applied{2}, Applied{4}};
  auto hash = (*builder)->Build(good, root_ + "/slot/state");
  ASSERT_TRUE(hash.ok());
  stdfs::create_directory(root_ + "/plain");
  ASSERT_TRUE(Materialize(snap_, log_, good, 3, root_ + "/plain").ok());
  EXPECT_EQ(*hash, *HashTree(root_ + "/plain"));
  ASSERT_TRUE((*builder)->TakeBack().ok());
  EXPECT_EQ(*HashTree(root_ + "/slot/pristine"), *HashTree(snap_));
}

// Goal: a builder given a head start (the snapshot's digests; the recorded directory to take
// untouched files from) builds the very states Materialize does. It takes a file from the
// recorded directory only when no op touched it and it is still as the snapshot has it (a file an
// op wrote, even kept at the same size and mtime, is copied from the snapshot), and only once.
TEST_F(StateBuilderTest, AHeadStartBuildsTheSameStates) {
  Write(snap_ + "/u1", "untouched one");
  Write(snap_ + "/d/u2", "untouched two");
  Write(snap_ + "/u3", "changed behind the mount's back");
  const std::string recorded = root_ + "/recorded";
  stdfs::create_directory(recorded);
  ASSERT_TRUE(CopyTree(snap_, recorded).ok());
  // The log names objects by their inode numbers in the recorded directory.
  std::map<uint64_t, uint64_t> real;
  InodeNames inodes;
  for (const auto& [fake, path] : log_.header.inodes) {
    struct stat st {};
    ASSERT_EQ(lstat((recorded + "/" + path).c_str(), &st), 0) << path;
    real[fake] = st.st_ino;
    inodes.emplace_back(st.st_ino, path);
  }
  for (const char* path : {"u1", "d/u2", "u3"}) {
    struct stat st {};
    ASSERT_EQ(lstat((recorded + "/" + path).c_str(), &st), 0) << path;
    inodes.emplace_back(st.st_ino, path);
  }
  log_.header.inodes = inodes;
  for (Op& op : log_.ops) {
    if (op.ino != 0) op.ino = real.count(op.ino) != 0 ? real[op.ino] : (1ull << 62) + op.ino;
  }
  // The recording wrote `a` (same size and times here: only the log tells); `u3` was changed
  // from outside the mount.
  struct stat a {};
  ASSERT_EQ(lstat((recorded + "/a").c_str(), &a), 0);
  Write(recorded + "/a", std::string(5000, 'z'));
  const timespec times[2] = {a.st_atim, a.st_mtim};
  ASSERT_EQ(utimensat(AT_FDCWD, (recorded + "/a").c_str(), times, AT_SYMLINK_NOFOLLOW), 0);
  Write(recorded + "/u3", "changed");

  auto digests = SnapshotDigests::Of(snap_);
  ASSERT_TRUE(digests.ok()) << digests.status().ToString();
  auto model = ParseModel("pp");
  ASSERT_TRUE(model.ok());
  const Enumeration e = Enumerate(log_, *model, 3, 400);
  for (int round = 0; round < 2; ++round) {  // the second builder finds nothing left to take
    SCOPED_TRACE("builder " + std::to_string(round));
    auto builder =
        StateBuilder::Create(snap_, log_, 3, root_ + "/slot", 1000, HeadStart{&*digests, recorded});
    ASSERT_TRUE(builder.ok()) << builder.status().ToString();
    const std::string fast = root_ + "/slot/state", plain = root_ + "/plain";
    for (const CrashState& state : e.states) {
      SCOPED_TRACE("state " + state.id);
      auto hash = (*builder)->Build(state, fast);
      ASSERT_TRUE(hash.ok()) << hash.status().ToString();
      stdfs::remove_all(plain);
      stdfs::create_directory(plain);
      ASSERT_TRUE(Materialize(snap_, log_, state, 3, plain).ok());
      EXPECT_EQ(*hash, *HashTree(plain));
      EXPECT_EQ(*hash, *HashTree(fast));
      EXPECT_EQ(Describe(fast), Describe(plain));
    }
    EXPECT_EQ((*builder)->stats().adopted, round == 0 ? 2u : 0u);
    ASSERT_TRUE((*builder)->TakeBack().ok());
    EXPECT_EQ(*HashTree(root_ + "/slot/pristine"), *HashTree(snap_));
  }
  EXPECT_FALSE(stdfs::exists(recorded + "/u1"));
  EXPECT_FALSE(stdfs::exists(recorded + "/d/u2"));
  EXPECT_TRUE(stdfs::exists(recorded + "/u3"));
  EXPECT_TRUE(stdfs::exists(recorded + "/a"));
}

// Goal: a snapshot digest serves only a file whose stat is still the one it was read with.
TEST_F(StateBuilderTest, SnapshotDigestsServeOnlyUnchangedFiles) {
  auto digests = SnapshotDigests::Of(snap_);
  ASSERT_TRUE(digests.ok()) << digests.status().ToString();
  struct stat st {};
  ASSERT_EQ(lstat((snap_ + "/b").c_str(), &st), 0);
  const std::string* known = digests->Find("b", st);
  ASSERT_NE(known, nullptr);
  EXPECT_EQ(*known, *HashFileEntry(snap_ + "/b"));
  EXPECT_EQ(digests->Find("h1", st), nullptr);  // several names: never lent, never listed
  Write(snap_ + "/b", "bea");                   // same size
  ASSERT_EQ(lstat((snap_ + "/b").c_str(), &st), 0);
  EXPECT_EQ(digests->Find("b", st), nullptr);
}

}  // namespace
}  // namespace faultfs::crash
