// Goal: every persistence model defines exactly the crash states its documentation promises
// (docs/persistence-models.md), with stable ids, and enumeration and sampling are deterministic.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <set>

#include "faultfs/core/random.h"
#include "faultfs/crash/state.h"

namespace faultfs::crash {
namespace {

using record::Op;
using record::OpKind;

Op MakeOp(OpKind kind, std::string path, uint64_t ino) {
  Op op;
  op.kind = kind;
  op.path = std::move(path);
  op.ino = ino;
  return op;
}
Op Write(std::string path, uint64_t ino, uint64_t offset, uint64_t size, uint32_t flags = 0) {
  Op op = MakeOp(OpKind::kWrite, std::move(path), ino);
  op.offset = offset;
  op.data.assign(size, 'x');
  op.flags = flags;
  return op;
}
Op Rename(std::string from, std::string to, uint64_t ino) {
  Op op = MakeOp(OpKind::kRename, std::move(from), ino);
  op.path2 = std::move(to);
  return op;
}
Op Mark(std::string text) {
  Op op = MakeOp(OpKind::kMark, "", 0);
  op.data = std::move(text);
  return op;
}

// "f" + 3 -> "f3" (appended: `Numbered("f", i)` trips GCC 12's -Wrestrict false positive).
std::string Numbered(std::string stem, uint64_t i) {
  stem += std::to_string(i);
  return stem;
}

// Numbers the ops as the recorder does.
std::vector<Op> Log(std::vector<Op> ops) {
  for (size_t i = 0; i < ops.size(); ++i) ops[i].seq = i + 1;
  return ops;
}

Model M(std::string_view name) {
  auto model = ParseModel(name);
  EXPECT_TRUE(model.ok()) << model.status().ToString();
  return model.ok() ? *model : Model{};
}

// "3" whole, "3[0,4096)" a piece, "3z"/"3g" zeros/garbage, "3u" a rename's target removal.
std::string Render(const Applied& a) {
  std::string s = std::to_string(a.op);
  if (a.begin != 0 || a.end != UINT64_MAX) {
    s += "[";  // appended piece by piece: `"[" + ...` trips GCC 12's -Wrestrict false positive
    s += std::to_string(a.begin);
    s += ",";
    s += std::to_string(a.end);
    s += ")";
  }
  if (a.fill == Applied::Fill::kZeros) s += "z";
  if (a.fill == Applied::Fill::kGarbage) s += "g";
  if (a.part == Applied::Part::kUnlinkTarget) s += "u";
  return s;
}
std::string Render(const Deviation& d) {
  switch (d.kind) {
    case Deviation::Kind::kOmitted:
      return "omit " + std::to_string(d.op) + "<" + std::to_string(d.later);
    case Deviation::Kind::kReordered:
      return "reorder " + std::to_string(d.op) + "<" + std::to_string(d.later);
    case Deviation::Kind::kTorn:
      return "torn " + std::to_string(d.op);
    case Deviation::Kind::kEntryNotDurable:
      return "entry " + std::to_string(d.op) + " @" + d.dir;
    case Deviation::Kind::kDataNotDurable:
      return "data " + std::to_string(d.op);
    case Deviation::Kind::kLostWith:
      return "lost " + std::to_string(d.op) + " with " + std::to_string(d.later);
  }
  return "?";
}
// "id: applied | deviations", e.g. "4.1: 0 1 | entry 3 @d".
std::vector<std::string> Render(const Enumeration& e) {
  std::vector<std::string> out;
  for (const CrashState& s : e.states) {
    std::string line = s.id + ":";
    for (const Applied& a : s.applied) (line += " ") += Render(a);
    if (!s.deviations.empty()) line += " |";
    for (size_t i = 0; i < s.deviations.size(); ++i)
      line += (i ? ", " : " ") + Render(s.deviations[i]);
    out.push_back(line);
  }
  return out;
}
std::vector<std::string> States(const std::vector<Op>& ops, std::string_view model,
                                uint64_t max = 1'000'000) {
  const Enumeration e = Enumerate(ops, M(model), 1, max);
  EXPECT_EQ(e.total, e.states.size());
  EXPECT_FALSE(e.sampled);
  return Render(e);
}
using Lines = std::vector<std::string>;

// --- prefix ---

TEST(PrefixModel, OneStatePerCrashPointSkippingPersistencePointsButNotMarkers) {
  const auto ops = Log({MakeOp(OpKind::kCreate, "f", 10), Write("f", 10, 0, 3),
                        MakeOp(OpKind::kFsync, "f", 10), Mark("committed"), Rename("f", "g", 10)});
  EXPECT_EQ(States(ops, "prefix"), (Lines{"0:", "1: 0", "2: 0 1", "4: 0 1", "5: 0 1 4"}));
}

TEST(PrefixModel, EmptyLogHasOnlyTheStartingState) {
  EXPECT_EQ(States({}, "prefix"), (Lines{"0:"}));
}

// --- ext4 ---

std::vector<Op> RandomLog(uint64_t seed);  // below

Op Fdatasync(std::string path, uint64_t ino) {
  return MakeOp(OpKind::kFdatasync, std::move(path), ino);
}
Op Fsync(std::string path, uint64_t ino) { return MakeOp(OpKind::kFsync, std::move(path), ino); }
Op Create(std::string path, uint64_t ino) { return MakeOp(OpKind::kCreate, std::move(path), ino); }

// Goal: the journal keeps a prefix of the metadata ops since the last commit point (the latest
// are lost first); unsynced data is lost; a lost data op adds no crash point.
TEST(Ext4Model, MetadataSinceTheLastCommitIsLostLatestFirst) {
  const auto ops = Log({Create("f", 7), Write("f", 7, 0, 3), Rename("f", "g", 7), Mark("m")});
  EXPECT_EQ(
      States(ops, "ext4"),
      (Lines{"0:", "1: 0", "1.1: | entry 0 @", "3: 0 2 | data 1", "3.1: 0 | data 1, entry 2 @",
             "3.2: | entry 0 @, data 1, entry 2 @", "4: 0 2 | data 1", "4.1: 0 | data 1, entry 2 @",
             "4.2: | entry 0 @, data 1, entry 2 @"}));
}

// Goal: an fsync of a changed file commits every metadata op before it, other files' too (ext4's
// fsync commits the running transaction); an fsync of a file nothing changed since commits
// nothing.
TEST(Ext4Model, FsyncCommitsEverythingOnlyWhenItsFileChanged) {
  const auto all = Log({Create("a", 7), Create("b", 8), Write("a", 7, 0, 2), Fsync("a", 7)});
  EXPECT_EQ(States(all, "ext4"),
            (Lines{"0:", "1: 0", "1.1: | entry 0 @", "2: 0 1", "2.1: 0 | entry 1 @",
                   "2.2: | entry 0 @, entry 1 @", "4: 0 1 2"}));
  const auto unchanged = Log({Create("a", 7), Fsync("a", 7), Create("b", 8), Fsync("a", 7)});
  EXPECT_EQ(States(unchanged, "ext4"),
            (Lines{"0:", "1: 0", "1.1: | entry 0 @", "2: 0", "3: 0 2", "3.1: 0 | entry 2 @",
                   "4: 0 2", "4.1: 0 | entry 2 @"}));
}

// Goal: fdatasync commits the journal only when the file's size or allocation changed since the
// last commit: an overwrite inside the file does not, an append does.
TEST(Ext4Model, FdatasyncCommitsForAnAppendNotForAnOverwrite) {
  const std::vector<Op> start{Create("f", 7), Write("f", 7, 0, 4), Fsync("f", 7), Create("g", 8)};
  auto overwrite = start;
  overwrite.push_back(Write("f", 7, 0, 2));
  overwrite.push_back(Fdatasync("f", 7));
  EXPECT_EQ(States(Log(overwrite), "ext4").back(), "6.1: 0 1 4 | entry 3 @");
  auto append = start;
  append.push_back(Write("f", 7, 4, 2));
  append.push_back(Fdatasync("f", 7));
  EXPECT_EQ(States(Log(append), "ext4").back(), "6: 0 1 3 4");
}

// Goal: ALICE's "safe rename" on ext4 (auto_da_alloc): the data of a file renamed over another is
// on disk once the rename is; a rename to a new name gives no such promise.
TEST(Ext4Model, ARenameOverAFileCommitsTheRenamedFilesData) {
  const auto over = Log({Create("f", 7), Fsync("f", 7), Create("t", 8), Write("t", 8, 0, 3),
                         Rename("t", "f", 8), Mark("m")});
  EXPECT_EQ(States(over, "ext4").back(), "6.2: 0 | entry 2 @, data 3, entry 4 @");
  const Lines states = States(over, "ext4");
  EXPECT_NE(std::find(states.begin(), states.end(), "6: 0 2 3 4"), states.end());
  EXPECT_NE(std::find(states.begin(), states.end(), "6.1: 0 2 | data 3, entry 4 @"), states.end());
  const auto fresh = Log({Create("t", 8), Write("t", 8, 0, 3), Rename("t", "f", 8), Mark("m")});
  const Lines renamed = States(fresh, "ext4");
  EXPECT_NE(std::find(renamed.begin(), renamed.end(), "4: 0 2 | data 1"), renamed.end())
      << "renamed to a new name, empty: possible on ext4";
}

// Goal: ALICE's ext4-ordered properties on random logs: directory operations reach the disk in
// order (an entry op on disk implies every earlier one is), and a data op is never on disk
// without the metadata before it that was committed with its fsync.
TEST(Ext4Model, DirectoryOperationsPersistInOrderOnRandomLogs) {
  for (uint64_t seed = 1; seed <= 60; ++seed) {
    const auto ops = RandomLog(seed);
    for (const CrashState& s : Enumerate(ops, M("ext4"), seed, UINT64_MAX).states) {
      bool gap = false;
      for (uint32_t i = 0; i < s.crash_point; ++i) {
        if (!record::IsEntryKind(ops[i].kind)) continue;
        const bool on_disk = std::any_of(s.applied.begin(), s.applied.end(),
                                         [&](const Applied& a) { return a.op == i; });
        EXPECT_FALSE(on_disk && gap) << "seed " << seed << " state " << s.id << " op " << i;
        gap = gap || !on_disk;
      }
    }
  }
}

// --- pp and pp-strict ---

// create d/f.tmp; write; fsync the file; rename d/f.tmp -> d/f; fsync the directory d.
std::vector<Op> AtomicReplace() {
  return Log({MakeOp(OpKind::kCreate, "d/f.tmp", 11), Write("d/f.tmp", 11, 0, 3),
              MakeOp(OpKind::kFsync, "d/f.tmp", 11), Rename("d/f.tmp", "d/f", 11),
              MakeOp(OpKind::kFsyncdir, "d", 5)});
}

TEST(PpModel, FileFsyncKeepsTheNewFilesEntry) {
  EXPECT_EQ(States(AtomicReplace(), "pp"),
            (Lines{"0:", "1: 0", "1.1: | entry 0 @d", "3: 0 1", "4: 0 1 3", "4.1: 0 1 | entry 3 @d",
                   "5: 0 1 3"}));
}

TEST(PpStrictModel, OnlyTheDirectoryFsyncKeepsEntries) {
  EXPECT_EQ(States(AtomicReplace(), "pp-strict"),
            (Lines{"0:", "1: 0", "1.1: | entry 0 @d", "3: 0 1", "3.1: 1 | entry 0 @d", "4: 0 1 3",
                   "4.1: 0 1 | entry 3 @d", "4.2: 1 | entry 0 @d, entry 3 @d", "5: 0 1 3"}));
  // The rename needs the create (it moves the name the create made): no state keeps the rename
  // and drops the create.
}

TEST(PpModel, UnsyncedDataAndMetadataAreLostFdatasyncKeepsOnlyData) {
  const auto ops = Log({MakeOp(OpKind::kCreate, "f", 7), Write("f", 7, 0, 4), Mark("wrote"),
                        MakeOp(OpKind::kFdatasync, "f", 7), MakeOp(OpKind::kChmod, "f", 7),
                        MakeOp(OpKind::kFsyncdir, "", 1)});
  // Point 2 (after the lost write) adds nothing; point 5 (after the lost chmod) neither.
  EXPECT_EQ(States(ops, "pp"),
            (Lines{"0:", "1: 0", "1.1: | entry 0 @", "3: 0 | data 1", "3.1: | entry 0 @, data 1",
                   "4: 0 1", "4.1: 1 | entry 0 @", "6: 0 1 | data 4"}));
}

TEST(PpModel, SyncWriteIsDurableByItself) {
  const auto ops =
      Log({Write("f", 7, 0, 4), Write("f", 7, 4, 4, record::kSyncData), Write("f", 7, 8, 4)});
  EXPECT_EQ(States(ops, "pp"), (Lines{"0:", "2: 0 1", "3: 0 1 | data 2"}));
}

TEST(PpModel, RenameIsKeptBySourceDirectoryFsyncOnlyInPp) {
  const auto ops = Log({Rename("a/x", "b/x", 9), MakeOp(OpKind::kFsyncdir, "a", 2)});
  EXPECT_EQ(States(ops, "pp"), (Lines{"0:", "1: 0", "1.1: | entry 0 @b", "2: 0"}));
  EXPECT_EQ(States(ops, "pp-strict"),
            (Lines{"0:", "1: 0", "1.1: | entry 0 @b", "2: 0", "2.1: | entry 0 @b"}));
}

TEST(PpModel, EntriesAreIndependentlyOptional) {
  std::vector<Op> ops;
  for (uint64_t i = 0; i < 5; ++i) ops.push_back(MakeOp(OpKind::kCreate, Numbered("f", i), 20 + i));
  const Enumeration e = Enumerate(Log(ops), M("pp"), 1, 1'000'000);
  EXPECT_EQ(e.total, 1u + 2 + 4 + 8 + 16 + 32);
  std::set<std::string> distinct;
  for (const std::string& line : Render(e)) {
    if (line.starts_with("5")) distinct.insert(line.substr(line.find(':')));
  }
  EXPECT_EQ(distinct.size(), 32u);
}

// --- weak ---

TEST(WeakModel, OneRelaxationPerStateInsideTheEpoch) {
  // create f; append 5 bytes; rename f -> g. The append splits at its byte thirds (no 4 KiB
  // boundary inside): pieces [0,1) [1,3) [3,5). The rename needs the create, so at crash point 3
  // the create cannot be missing.
  const auto ops = Log({MakeOp(OpKind::kCreate, "f", 7), Write("f", 7, 0, 5), Rename("f", "g", 7)});
  const Lines states = States(ops, "weak-rename");
  ASSERT_EQ(states.size(), 1u + 1 + 9 + 10);
  const Lines last(states.end() - 10, states.end());
  EXPECT_EQ(last, (Lines{"3: 0 1 2", "3.1: 0 2 | omit 1<2", "3.2: 0 1[0,1) 2 | torn 1",
                         "3.3: 0 1[0,3) 2 | torn 1", "3.4: 0 1[1,3) 2 | torn 1",
                         "3.5: 0 1[1,5) 2 | torn 1", "3.6: 0 1[3,5) 2 | torn 1",
                         "3.7: 0 1z 2 | torn 1", "3.8: 0 1g 2 | torn 1", "3.9: 0 1 2u | torn 2"}));
  EXPECT_EQ(states[2], "2: 0 1");
  EXPECT_EQ(states[3], "2.1: 1 | omit 0<1");
  // Plain weak renames atomically: the same states but the half rename.
  Lines atomic = states;
  atomic.pop_back();
  EXPECT_EQ(States(ops, "weak"), atomic);
}

TEST(WeakModel, PersistencePointEndsTheEpoch) {
  const auto ops = Log({MakeOp(OpKind::kCreate, "f", 7), MakeOp(OpKind::kFsync, "f", 7),
                        MakeOp(OpKind::kChmod, "f", 7)});
  EXPECT_EQ(States(ops, "weak"), (Lines{"0:", "1: 0", "3: 0 2"}));
}

TEST(WeakModel, WritesSplitAt4KiBBoundariesAndUnknownSizesAreNoAppends) {
  // 10000 bytes at offset 100 cross the boundaries 4096 and 8192; the file's size is unknown.
  const auto ops = Log({Write("f", 7, 100, 10000)});
  EXPECT_EQ(States(ops, "weak"),
            (Lines{"0:", "1: 0", "1.1: 0[0,3996) | torn 0", "1.2: 0[0,8092) | torn 0",
                   "1.3: 0[3996,8092) | torn 0", "1.4: 0[3996,10000) | torn 0",
                   "1.5: 0[8092,10000) | torn 0"}));
}

TEST(WeakModel, NoReplaceRenameCannotBeHalfDone) {
  Op rename = Rename("a", "b", 3);
  rename.flags = 1;  // RENAME_NOREPLACE
  EXPECT_EQ(States(Log({rename}), "weak-rename"), (Lines{"0:", "1: 0"}));
}

// --- reorder-k ---

TEST(ReorderModel, SubsetsOfAtMostKMissingButNeverASuffix) {
  const auto ops = Log({Write("a", 1, 0, 1), Write("b", 2, 0, 1), Write("c", 3, 0, 1)});
  EXPECT_EQ(States(ops, "reorder"),
            (Lines{"0:", "1: 0", "2: 0 1", "2.1: 1 | reorder 0<1", "3: 0 1 2",
                   "3.1: 1 2 | reorder 0<2", "3.2: 0 2 | reorder 1<2",
                   "3.3: 2 | reorder 0<2, reorder 1<2", "3.4: 1 | reorder 0<1"}));
  // reorder-1 enumerates the two sets of two too: so few larger sets are not drawn but listed.
  EXPECT_EQ(States(ops, "reorder-1"), States(ops, "reorder"));
}

// Goal: beyond k, a few larger sets per crash point are drawn with the seed: never a suffix,
// never k or fewer, the same for the same seed, ids stable whatever is sampled.
TEST(ReorderModel, LargerSetsAreDrawnWithTheSeed) {
  std::vector<Op> writes;
  for (uint64_t i = 0; i < 12; ++i) writes.push_back(Write(Numbered("f", i), i + 1, 0, 1));
  const auto ops = Log(writes);
  const Enumeration e = Enumerate(ops, M("reorder-1"), 5, 1000);
  std::vector<CrashState> drawn;
  for (const CrashState& s : e.states) {
    if (s.crash_point == 12 && s.id.size() > 3 && std::stoul(s.id.substr(3)) >= 12)
      drawn.push_back(s);
  }
  ASSERT_EQ(drawn.size(), 8u);  // 12.12 .. 12.19, after the plain state and 11 single omissions
  for (const CrashState& s : drawn) {
    SCOPED_TRACE(s.id);
    const size_t missing = 12 - s.applied.size();
    EXPECT_GE(missing, 2u);
    EXPECT_FALSE(s.deviations.empty());  // a suffix would have none
    EXPECT_EQ(s.deviations.size(), missing - (s.applied.empty() ? 0 : 11 - s.applied.back().op));
  }
  EXPECT_EQ(Enumerate(ops, M("reorder-1"), 5, 1000).states, e.states);
  const Enumeration other = Enumerate(ops, M("reorder-1"), 6, 1000);
  EXPECT_NE(other.states, e.states);
  EXPECT_EQ(other.total, e.total);
  EXPECT_EQ(StateAt(ops, M("reorder-1"), 5, 12, 15), drawn[3]);
}

TEST(ReorderModel, OnlyTheCurrentEpochReorders) {
  const auto ops = Log({Write("a", 1, 0, 1), MakeOp(OpKind::kFsync, "a", 1), Write("b", 2, 0, 1),
                        Write("c", 3, 0, 1)});
  EXPECT_EQ(States(ops, "reorder-3"),
            (Lines{"0:", "1: 0", "3: 0 2", "4: 0 2 3", "4.1: 0 3 | reorder 2<3"}));
}

// --- torn ---

TEST(TornModel, PrefixesSuffixesAndMiddleSectorsOfTheLastWrite) {
  const auto ops = Log({Write("f", 7, 0, 8292), MakeOp(OpKind::kFsync, "f", 7), Mark("synced")});
  EXPECT_EQ(States(ops, "torn"),
            (Lines{"0:", "1: 0", "1.1: 0[0,4096) | torn 0", "1.2: 0[0,8192) | torn 0",
                   "1.3: 0[8192,8292) | torn 0", "1.4: 0[4096,8292) | torn 0",
                   "1.5: 0[4096,8192) | torn 0", "3: 0"}));
}

TEST(TornModel, SectorsFollowFileOffsetsAndMarkersDoNotHideTheWrite) {
  const auto ops = Log({Write("f", 7, 500, 100), Mark("acked")});
  EXPECT_EQ(States(ops, "torn-512"),
            (Lines{"0:", "1: 0", "1.1: 0[0,12) | torn 0", "1.2: 0[12,100) | torn 0", "2: 0",
                   "2.1: 0[0,12) | torn 0", "2.2: 0[12,100) | torn 0"}));
  EXPECT_EQ(States(ops, "torn-4096"), (Lines{"0:", "1: 0", "2: 0"}));
}

TEST(TornModel, SyncWritesAreNotTorn) {
  EXPECT_EQ(States(Log({Write("f", 7, 0, 8192, record::kSyncAll)}), "torn"), (Lines{"0:", "1: 0"}));
}

// --- enumeration, sampling, ids ---

std::vector<Op> ManyCreates(uint64_t n) {
  std::vector<Op> ops;
  for (uint64_t i = 0; i < n; ++i)
    ops.push_back(MakeOp(OpKind::kCreate, Numbered("d/f", i), 100 + i));
  return Log(ops);
}

TEST(Enumerate, SameInputsGiveTheSameStates) {
  const auto ops = AtomicReplace();
  for (const char* name : {"prefix", "pp", "pp-strict", "weak", "reorder-2", "torn-512"}) {
    EXPECT_EQ(Enumerate(ops, M(name), 7, 1000).states, Enumerate(ops, M(name), 7, 1000).states)
        << name;
  }
}

TEST(Enumerate, SamplingKeepsEveryPlainStateAndIsSeeded) {
  const auto ops = ManyCreates(10);  // pp-strict: 2^c states at crash point c
  const Enumeration full = Enumerate(ops, M("pp-strict"), 1, UINT64_MAX);
  ASSERT_EQ(full.total, 2047u);
  std::map<std::string, CrashState> by_id;
  for (const CrashState& s : full.states) by_id[s.id] = s;
  const Enumeration a = Enumerate(ops, M("pp-strict"), 1, 50);
  EXPECT_TRUE(a.sampled);
  EXPECT_EQ(a.total, 2047u);
  ASSERT_EQ(a.states.size(), 50u);
  std::set<std::string> ids;
  for (const CrashState& s : a.states) {
    ids.insert(s.id);
    ASSERT_TRUE(by_id.contains(s.id)) << s.id;
    EXPECT_EQ(s, by_id[s.id]) << "a sampled state is the same state as in the full enumeration";
  }
  EXPECT_EQ(ids.size(), 50u);
  for (int c = 0; c <= 10; ++c) EXPECT_TRUE(ids.contains(std::to_string(c))) << c;
  EXPECT_EQ(Enumerate(ops, M("pp-strict"), 1, 50).states, a.states);
  EXPECT_NE(Enumerate(ops, M("pp-strict"), 2, 50).states, a.states);
}

TEST(Enumerate, FewerSlotsThanCrashPointsSamplesPlainStates) {
  const auto ops = ManyCreates(10);
  const Enumeration e = Enumerate(ops, M("prefix"), 3, 4);
  EXPECT_TRUE(e.sampled);
  EXPECT_EQ(e.total, 11u);
  ASSERT_EQ(e.states.size(), 4u);
  for (size_t i = 1; i < e.states.size(); ++i)
    EXPECT_LT(e.states[i - 1].crash_point, e.states[i].crash_point);
  EXPECT_EQ(Enumerate(ops, M("prefix"), 3, 4).states, e.states);
}

TEST(Enumerate, HugeModelsAreCountedNotBuilt) {
  const auto ops = ManyCreates(60);  // pp-strict defines about 2^41 states
  const Enumeration e = Enumerate(ops, M("pp-strict"), 1, 100);
  EXPECT_GT(e.total, uint64_t{1} << 40);
  EXPECT_EQ(e.states.size(), 100u);
}

TEST(Enumerate, LongLogsAreCountedWithoutBuildingEveryState) {
  // 100,000 appends in one epoch: weak alone defines about 5 * 10^9 states.
  std::vector<Op> ops{MakeOp(OpKind::kCreate, "log", 9)};
  for (uint64_t i = 0; i < 100'000; ++i) ops.push_back(Write("log", 9, i * 8, 8));
  ops = Log(ops);
  for (const char* name : {"prefix", "pp", "pp-strict", "weak", "reorder-3", "torn-512"}) {
    const Enumeration e = Enumerate(ops, M(name), 5, 20);
    EXPECT_EQ(e.states.size(), std::min<uint64_t>(e.total, 20)) << name;
    EXPECT_EQ(e.sampled, e.total > 20) << name;
  }
  // pp: the lost appends add no crash points: 0, after the create (2 states), the end (2).
  EXPECT_EQ(Enumerate(ops, M("pp"), 5, 20).total, 5u);
  EXPECT_GT(Enumerate(ops, M("weak"), 5, 20).total, uint64_t{4'000'000'000});
}

// A random small log over two directories and three files (seeded, so failures reproduce).
std::vector<Op> RandomLog(uint64_t seed) {
  Rng rng(seed);
  const std::vector<std::string> files{"a", "d/b", "d/c"};
  std::vector<Op> ops;
  for (int i = 0; i < 14; ++i) {
    const uint64_t f = rng.Below(files.size());
    const std::string& path = files[f];
    switch (rng.Below(9)) {
      case 0:
        ops.push_back(MakeOp(OpKind::kCreate, path, 50 + f));
        break;
      case 1:
        ops.push_back(Rename(path, files[(f + 1) % files.size()], 50 + f));
        break;
      case 2:
        ops.push_back(MakeOp(OpKind::kFsync, path, 50 + f));
        break;
      case 3:
        ops.push_back(MakeOp(OpKind::kFdatasync, path, 50 + f));
        break;
      case 4:
        ops.push_back(MakeOp(OpKind::kFsyncdir, rng.Below(2) != 0 ? "d" : "", 40));
        break;
      case 5:
        ops.push_back(Mark("m"));
        break;
      case 6:
        ops.push_back(MakeOp(OpKind::kChmod, path, 50 + f));
        break;
      default:
        ops.push_back(Write(path, 50 + f, rng.Below(3) * 3000, 1 + rng.Below(9000)));
        break;
    }
  }
  return Log(ops);
}

// Invariants of every state of every model: applied ops are disk ops before the crash point, in
// log order, each once; ids are unique; a sample holds the same states as the full list.
TEST(Enumerate, InvariantsOnRandomLogs) {
  for (uint64_t seed = 1; seed <= 60; ++seed) {
    const auto ops = RandomLog(seed);
    for (const char* name : {"prefix", "pp", "pp-strict", "weak", "reorder-2", "torn-512"}) {
      const Enumeration full = Enumerate(ops, M(name), seed, UINT64_MAX);
      ASSERT_EQ(full.total, full.states.size()) << name << " seed " << seed;
      std::map<std::string, CrashState> by_id;
      for (const CrashState& s : full.states) {
        ASSERT_TRUE(by_id.emplace(s.id, s).second) << name << " duplicate id " << s.id;
        for (size_t i = 0; i < s.applied.size(); ++i) {
          const uint32_t op = s.applied[i].op;
          ASSERT_LT(op, s.crash_point) << name << " " << s.id;
          EXPECT_NE(ops[op].kind, OpKind::kMark);
          EXPECT_NE(ops[op].kind, OpKind::kFsync);
          if (i > 0) {
            ASSERT_LT(s.applied[i - 1].op, op) << name << " " << s.id;
          }
        }
        const bool plain = s.id.find('.') == std::string::npos;
        if (std::string_view(name) == "prefix" ||
            (!plain && std::string_view(name) != "pp" && std::string_view(name) != "pp-strict")) {
          EXPECT_EQ(s.deviations.empty(), plain) << name << " " << s.id;
        }
      }
      const Enumeration sample = Enumerate(ops, M(name), seed, full.total / 2 + 1);
      for (const CrashState& s : sample.states) EXPECT_EQ(s, by_id[s.id]) << name << " " << s.id;
    }
  }
}

// --- names and words ---

TEST(ParseModel, AcceptsEveryNameAndRoundTrips) {
  EXPECT_EQ(M("reorder").k, 2u);
  EXPECT_EQ(M("reorder").Name(), "reorder-2");
  EXPECT_EQ(M("reorder-3").k, 3u);
  EXPECT_EQ(M("torn").sector, 4096u);
  EXPECT_EQ(M("torn-512").sector, 512u);
  EXPECT_EQ(M("pp-strict").kind, ModelKind::kPpStrict);
  for (const char* name : {"prefix", "pp", "pp-strict", "weak", "weak-rename", "reorder-2",
                           "reorder-8", "torn-512", "torn-4096"}) {
    EXPECT_EQ(M(name).Name(), name);
  }
}

TEST(ParseModel, RejectsUnknownNamesListingTheValidOnes) {
  for (const char* name : {"", "fsync", "pp-", "reorder-0", "reorder-9", "reorder-x", "reorder-",
                           "reorder2", "torn-1000", "torn-", "Prefix"}) {
    const auto model = ParseModel(name);
    ASSERT_FALSE(model.ok()) << name;
    EXPECT_NE(model.status().message().find(std::string(name) + "'"), std::string::npos);
    EXPECT_NE(model.status().message().find("pp-strict"), std::string::npos)
        << model.status().message();
  }
}

TEST(Words, OpsAndFindings) {
  const auto ops =
      Log({MakeOp(OpKind::kCreate, "d/f", 3), Write("f", 4, 0, 10), Rename("f.tmp", "f", 4),
           MakeOp(OpKind::kCreate, "g", 5), Mark("acknowledged")});
  EXPECT_EQ(DescribeOp(ops, 2), "op 3 (rename f.tmp -> f)");
  EXPECT_EQ(DescribeOp(ops, 4), "op 5 (mark \"acknowledged\")");
  using K = Deviation::Kind;
  EXPECT_EQ(FindingText(ops, Deviation{.kind = K::kOmitted, .op = 1, .later = 2}),
            "op 2 (write f) must persist before op 3 (rename f.tmp -> f)");
  EXPECT_EQ(FindingText(ops, Deviation{.kind = K::kReordered, .op = 1, .later = 2}),
            "op 2 (write f) must persist before op 3 (rename f.tmp -> f)");
  EXPECT_EQ(FindingText(ops, Deviation{.kind = K::kTorn, .op = 1}),
            "op 2 (write f) must be atomic");
  EXPECT_EQ(FindingText(ops, Deviation{.kind = K::kEntryNotDurable, .op = 0, .dir = "d"}),
            "durability of op 1 (create d/f) needs an fsync of the directory d");
  EXPECT_EQ(FindingText(ops, Deviation{.kind = K::kEntryNotDurable, .op = 3, .dir = ""}),
            "durability of op 4 (create g) needs an fsync of the root directory");
  EXPECT_EQ(FindingText(ops, Deviation{.kind = K::kDataNotDurable, .op = 1}),
            "durability of op 2 (write f) needs an fsync of f");
}

TEST(Words, SummaryNamesTheCrashPointAndDeviations) {
  const Enumeration e = Enumerate(AtomicReplace(), M("pp-strict"), 1, 100);
  std::map<std::string, std::string> summary;
  for (const CrashState& s : e.states) summary[s.id] = s.summary;
  EXPECT_EQ(summary["0"], "crash before any op");
  EXPECT_EQ(summary["4.2"],
            "crash after op 4 (rename d/f.tmp -> d/f); loses op 1 (create d/f.tmp), "
            "loses op 4 (rename d/f.tmp -> d/f)");
  const Enumeration w = Enumerate(Log({Write("f", 7, 100, 10000)}), M("weak"), 1, 100);
  EXPECT_EQ(w.states[2].summary,
            "crash after op 1 (write f); tears op 1 (write f): bytes [0, 3996) of 10000");
}

// Goal: each state's count of leading ops that every later state applies too, by position and
// by piece (a torn write is not the whole write).
TEST(SharedPrefixes, CountsTheOpsEveryLaterStateStartsWith) {
  const auto state = [](std::vector<Applied> applied) {
    CrashState s;
    s.applied = std::move(applied);
    return s;
  };
  const std::vector<CrashState> states = {
      state({{.op = 0}, {.op = 1}, {.op = 2}}),
      state({{.op = 0}, {.op = 1}, {.op = 3}}),
      state({{.op = 0}, {.op = 1}, {.op = 3}, {.op = 4}}),
      state({{.op = 0}, {.op = 1}, {.op = 3, .end = 10}}),
      state({{.op = 0}, {.op = 1}, {.op = 3, .end = 10}, {.op = 5}}),
  };
  EXPECT_EQ(SharedPrefixes(states), (std::vector<size_t>{2, 2, 2, 3, 4}));
  EXPECT_TRUE(SharedPrefixes({}).empty());
}

}  // namespace
}  // namespace faultfs::crash
