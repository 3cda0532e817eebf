// Goal: the crash-state tools (Enumerate, Materialize, StateBuilder) do what
// docs/persistence-models.md says, on seeded random logs, judged by an independent reference
// written from the document (tests/crash/reference): every state's tree, the set of trees at each
// crash point, and each model's promises.
//
// Environment, for reruns and long runs:
//   FAULTFS_DIFFERENTIAL_LOGS=N        how many logs (default 150)
//   FAULTFS_DIFFERENTIAL_FIRST_SEED=N  the first log's seed (default 1)
//   FAULTFS_DIFFERENTIAL_SEED=N        just this log, every finding printed
//   FAULTFS_DIFFERENTIAL_MODELS=a,b    just these models (reorder-1, reorder-3 ... too)
//   FAULTFS_DIFFERENTIAL_SCRIPT=file   the one log written in `file` (script_log.h) instead
//   FAULTFS_DIFFERENTIAL_DIR=path      where states are built (default /dev/shm when writable:
//                                      on tmpfs a run takes a fifth of its time on ext4)
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <iostream>
#include <map>
#include <optional>
#include <set>
#include <sstream>

#include "differential_check.h"
#include "faultfs/core/random.h"
#include "faultfs/core/tree_copy.h"
#include "faultfs/crash/materialize.h"
#include "random_log.h"
#include "reference/fs.h"
#include "reference/interpret.h"
#include "reference/models.h"
#include "script_log.h"
#include "test_support.h"

namespace faultfs::crash {
namespace {

namespace ref = reference;
using record::Op;
using record::OpKind;

// Every model of the document (reorder-1 and reorder-3 and up on request: reorder-2 exercises the
// same code, with drawn sets).
const char* const kModels[] = {"prefix",      "ext4",      "pp",       "pp-strict", "weak",
                               "weak-rename", "reorder-2", "torn-512", "torn-4096"};
constexpr size_t kMaxReferenceStates = 1000;  // per model and log: brute force stays cheap

std::optional<uint64_t> EnvNumber(const char* name) {
  const char* v = std::getenv(name);
  if (v == nullptr || *v == '\0') return std::nullopt;
  return std::strtoull(v, nullptr, 10);
}

std::vector<std::string> ModelsToRun() {
  const char* v = std::getenv("FAULTFS_DIFFERENTIAL_MODELS");
  if (v == nullptr || *v == '\0') return {std::begin(kModels), std::end(kModels)};
  std::vector<std::string> out;
  std::stringstream list(v);
  for (std::string m; std::getline(list, m, ',');) out.push_back(m);
  return out;
}

Status FreshDir(const std::string& path) {
  FAULTFS_RETURN_IF_ERROR(RemoveTree(path));
  if (mkdir(path.c_str(), 0755) != 0) return Status::FromErrno(errno, "mkdir " + path);
  return Status::Ok();
}

// Where states are built: a tmpfs when there is one, for speed.
std::string WorkBase() {
  if (const char* dir = std::getenv("FAULTFS_DIFFERENTIAL_DIR"); dir != nullptr && *dir != '\0') {
    return dir;
  }
  return access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "";
}

bool XattrsWork(const std::string& dir) {
  const std::string probe = dir + "/xattr-probe";
  testing::WriteFile(probe, "");
  const bool ok = setxattr(probe.c_str(), "user.probe", "1", 1, 0) == 0;
  std::remove(probe.c_str());
  return ok;
}

// A log, its snapshot, and the reference's view of it.
struct PreparedLog {
  uint64_t generated_from = 0;
  record::ReadLog log;
  std::optional<ref::History> history;
  std::optional<ref::Needs> needs;
};

// The log of `seed`, with `snapshot` holding its starting tree. A log whose states are too many
// for brute force under some model is drawn again from a seed derived from `seed`.
Result<PreparedLog> Prepare(uint64_t seed, const std::string& dir, bool xattrs) {
  const RandomLogOptions options{.xattrs = xattrs};
  for (uint64_t attempt = 0; attempt < 50; ++attempt) {
    PreparedLog p;
    p.generated_from = attempt == 0 ? seed : DeriveSeed(seed, "attempt/" + std::to_string(attempt));
    FAULTFS_RETURN_IF_ERROR(FreshDir(dir + "/scratch"));
    FAULTFS_RETURN_IF_ERROR(FreshDir(dir + "/snapshot"));
    auto log = MakeRandomLog(p.generated_from, options, dir + "/scratch", dir + "/snapshot");
    if (!log.ok()) return log.status();
    p.log = std::move(*log);
    auto start = ref::ReadFs(dir + "/snapshot");
    if (!start.ok()) return start.status();
    auto history = ref::History::Replay(p.log, std::move(*start));
    if (!history.ok()) {
      return Status::Invalid("the generator made an impossible log: " + history.status().message() +
                             "\n" + LogListing(p.log));
    }
    p.history = std::move(*history);
    p.needs.emplace(*p.history);
    bool small = true;
    for (const char* name : kModels) {
      auto states = ref::ModelStates(*p.history, *p.needs, *ref::ParseRefModel(name));
      size_t total = 0;
      for (const auto& point : states.ok() ? *states : std::vector<ref::PointStates>{}) {
        total += point.exact.size() + std::min<size_t>(point.drawn_from.size(), 8);
      }
      small = small && states.ok() && total <= kMaxReferenceStates;
    }
    if (small) return p;
  }
  return Status::Invalid("no log of seed " + std::to_string(seed) + " is small enough");
}

// The log a script file describes (FAULTFS_DIFFERENTIAL_SCRIPT).
Result<PreparedLog> PrepareScript(const std::string& file, const std::string& dir) {
  PreparedLog p;
  FAULTFS_RETURN_IF_ERROR(FreshDir(dir + "/scratch"));
  FAULTFS_RETURN_IF_ERROR(FreshDir(dir + "/snapshot"));
  auto log = ScriptLog(testing::ReadFile(file), dir + "/scratch", dir + "/snapshot");
  if (!log.ok()) return log.status();
  p.log = std::move(*log);
  auto start = ref::ReadFs(dir + "/snapshot");
  if (!start.ok()) return start.status();
  auto history = ref::History::Replay(p.log, std::move(*start));
  if (!history.ok()) return history.status();
  p.history = std::move(*history);
  p.needs.emplace(*p.history);
  return p;
}

std::string Report(uint64_t seed, const PreparedLog& p, const std::string& model,
                   const std::vector<Finding>& findings) {
  std::string out = "seed " + std::to_string(seed) + ", model " + model + ": " +
                    std::to_string(findings.size()) +
                    " finding(s)   (rerun: " + "FAULTFS_DIFFERENTIAL_SEED=" + std::to_string(seed) +
                    " FAULTFS_DIFFERENTIAL_MODELS=" + model + ")\nlog:\n" + LogListing(p.log);
  for (const Finding& f : findings) {
    out += (f.state.empty() ? std::string("* ") : "* state " + f.state + ": ") + f.what + "\n";
  }
  return out;
}

// What one model did over all logs.
struct ModelBook {
  size_t logs = 0;
  size_t failing = 0;
  size_t states = 0;
  std::optional<uint64_t> first_failing_seed;
  std::vector<uint64_t> failing_seeds;
  // Per kind of finding: how many logs show it, and the shortest of them (ops, seed).
  std::map<std::string, size_t> logs_by_kind;
  std::map<std::string, std::pair<size_t, uint64_t>> shortest_by_kind;
  double seconds = 0;
};

TEST(CrashDifferential, EveryModelAgreesWithTheReference) {
  // Goal: on random logs, every model's states are exactly the document's, and build right.
  testing::TempDir root("differential", WorkBase());
  const bool xattrs = XattrsWork(root.path());
  const char* script = std::getenv("FAULTFS_DIFFERENTIAL_SCRIPT");
  if (script != nullptr && *script == '\0') script = nullptr;
  const auto only = script != nullptr ? EnvNumber("FAULTFS_DIFFERENTIAL_SEED").value_or(1)
                                      : EnvNumber("FAULTFS_DIFFERENTIAL_SEED");
  const uint64_t first = only ? *only : EnvNumber("FAULTFS_DIFFERENTIAL_FIRST_SEED").value_or(1);
  const uint64_t count = only ? 1 : EnvNumber("FAULTFS_DIFFERENTIAL_LOGS").value_or(150);
  const std::vector<std::string> models = ModelsToRun();
  std::map<std::string, ModelBook> books;
  std::set<std::string> unknown;
  uint64_t adopted = 0;
  for (uint64_t seed = first; seed < first + count; ++seed) {
    auto p =
        script != nullptr ? PrepareScript(script, root.path()) : Prepare(seed, root.path(), xattrs);
    if (!p.ok()) {
      ADD_FAILURE() << "seed " << seed << ": " << p.status().ToString();
      continue;
    }
    ASSERT_TRUE(FreshDir(root / "work").ok());
    DifferentialCheck check(p->log, root / "snapshot", root / "work", seed, *p->history, *p->needs);
    for (size_t m = 0; m < models.size(); ++m) {
      const std::string& model = models[m];
      if (unknown.contains(model)) continue;
      // The starting tree's source serves as the recorded directory: nothing applied the ops to
      // it, so its files that no op touches are the snapshot's. One builder a log can take them.
      if (m == seed % models.size()) check.OfferRecorded(root / "scratch");
      const auto started = std::chrono::steady_clock::now();
      const std::vector<Finding> findings = check.Check(model);
      if (!findings.empty() && findings.front().kind == "unknown model") {
        ADD_FAILURE() << findings.front().what;
        unknown.insert(model);
        continue;
      }
      ModelBook& book = books[model];
      book.seconds +=
          std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
      ++book.logs;
      book.states += check.states_checked();
      if (findings.empty()) continue;
      ++book.failing;
      book.failing_seeds.push_back(seed);
      std::set<std::string> kinds;
      for (const Finding& f : findings) kinds.insert(f.kind);
      for (const std::string& kind : kinds) {
        ++book.logs_by_kind[kind];
        auto [it, fresh] = book.shortest_by_kind.emplace(kind, std::pair{p->log.ops.size(), seed});
        if (!fresh && p->log.ops.size() < it->second.first) it->second = {p->log.ops.size(), seed};
      }
      if (!book.first_failing_seed || only) ADD_FAILURE() << Report(seed, *p, model, findings);
      if (!book.first_failing_seed) book.first_failing_seed = seed;
    }
    adopted += check.files_adopted();
  }
  // The head start's path was taken: some log had a file no op touches.
  std::cout << adopted << " files taken from recorded directories\n";
  if (script == nullptr && count >= 20) {
    EXPECT_GT(adopted, 0u);
  }
  for (const auto& [model, book] : books) {
    std::cout << "model " << model << ": " << book.failing << " of " << book.logs
              << " logs differ from the reference";
    if (book.first_failing_seed) std::cout << "; first failing seed " << *book.first_failing_seed;
    std::cout << " (" << book.states << " states, " << book.seconds << " s)\n";
    if (!book.failing_seeds.empty()) {
      std::cout << "    failing seeds:";
      for (size_t i = 0; i < book.failing_seeds.size() && i < 30; ++i) {
        std::cout << " " << book.failing_seeds[i];
      }
      std::cout << (book.failing_seeds.size() > 30 ? " ...\n" : "\n");
    }
    for (const auto& [kind, logs] : book.logs_by_kind) {
      const auto [ops, shortest] = book.shortest_by_kind.at(kind);
      std::cout << "    " << kind << ": " << logs << " logs (shortest: seed " << shortest << ", "
                << ops << " ops)\n";
    }
  }
}

// The differential check of one hand-made log, under every model; `snapshot` under `dir`
// holds its starting tree.
void CheckEveryModel(const record::ReadLog& log, const std::string& dir, const std::string& what) {
  auto start = ref::ReadFs(dir + "/snapshot");
  ASSERT_TRUE(start.ok()) << start.status().ToString();
  auto history = ref::History::Replay(log, std::move(*start));
  ASSERT_TRUE(history.ok()) << history.status().ToString();
  const ref::Needs needs(*history);
  ASSERT_TRUE(FreshDir(dir + "/work").ok());
  DifferentialCheck check(log, dir + "/snapshot", dir + "/work", 1, *history, needs);
  for (const std::string& model : ModelsToRun()) {
    const std::vector<Finding> findings = check.Check(model);
    if (findings.empty()) continue;
    std::string text = "model " + model + " on " + what + ":\n" + LogListing(log);
    for (const Finding& f : findings) {
      text += (f.state.empty() ? std::string("* ") : "* state " + f.state + ": ") + f.what + "\n";
    }
    ADD_FAILURE() << text;
  }
}

// The workload of the bug report: the atomic-replace idiom twice, the second time with a new
// inode under the same temporary name.
record::ReadLog ReplaceTwiceLog(const std::string& scratch, const std::string& snapshot) {
  testing::WriteFile(scratch + "/f", "0\n");
  record::ReadLog log;
  EXPECT_TRUE(CopyTree(scratch, snapshot, &log.header.inodes).ok());
  log.header.snapshot = snapshot;
  uint64_t f_ino = 0;
  for (const auto& [ino, path] : log.header.inodes) {
    if (path == "f") f_ino = ino;
  }
  const uint64_t first = uint64_t{1} << 40, second = first + 1;
  auto add = [&](OpKind kind, std::string path, uint64_t ino, std::string data = "",
                 std::string path2 = "") {
    Op op;
    op.seq = log.ops.size() + 1;
    op.kind = kind;
    op.path = std::move(path);
    op.path2 = std::move(path2);
    op.ino = ino;
    op.data = std::move(data);
    op.length = op.data.size();
    op.mode = 0644;
    log.ops.push_back(op);
  };
  add(OpKind::kCreate, "f.tmp", first);
  add(OpKind::kWrite, "f.tmp", first, "1\n");
  add(OpKind::kFsync, "f.tmp", first);
  add(OpKind::kRename, "f.tmp", first, "", "f");
  add(OpKind::kCreate, "f.tmp", second);
  add(OpKind::kWrite, "f.tmp", second, "2\n");
  add(OpKind::kFsync, "f.tmp", second);
  add(OpKind::kRename, "f.tmp", second, "", "f");
  add(OpKind::kMark, "", 0, "two");
  (void)f_ino;  // f's own inode is named by no op: renames name the object they move
  return log;
}

TEST(CrashDifferential, SecondFsyncedReplacementIsNeverLost) {
  // Goal: in tmp; fsync; rename tmp -> f; tmp (new inode); fsync; rename tmp -> f, no pp state
  // after the second fsync loses the second file, and none drops op 4 while keeping op 8.
  testing::TempDir root("replace-twice", WorkBase());
  ASSERT_TRUE(FreshDir(root / "scratch").ok());
  ASSERT_TRUE(FreshDir(root / "snapshot").ok());
  const record::ReadLog log = ReplaceTwiceLog(root / "scratch", root / "snapshot");
  auto pp = ParseModel("pp");
  ASSERT_TRUE(pp.ok());
  const Enumeration e = Enumerate(log, *pp, 1, 10000);
  ASSERT_FALSE(e.sampled);
  for (const CrashState& state : e.states) {
    SCOPED_TRACE("pp state " + state.id);
    bool has_op4 = false, has_op8 = false;
    for (const Applied& a : state.applied) {
      has_op4 = has_op4 || a.op == 3;
      has_op8 = has_op8 || a.op == 7;
    }
    EXPECT_FALSE(has_op8 && !has_op4) << "applies op 8 (rename f.tmp -> f) without op 4";
    if (state.crash_point < 7) continue;
    ASSERT_TRUE(FreshDir(root / "state").ok());
    ASSERT_TRUE(Materialize(root / "snapshot", log, state, 1, root / "state").ok());
    auto tree = ref::ReadTree(root / "state");
    ASSERT_TRUE(tree.ok());
    const bool kept = testing::ReadFile(root / "state/f") == "2\n" ||
                      testing::ReadFile(root / "state/f.tmp") == "2\n";
    EXPECT_TRUE(kept) << "the fsynced second file is lost:\n" << ref::TreeText(*tree);
  }
  // And the whole differential check, every model.
  CheckEveryModel(log, root.path(), "the bug report's log");
}

// The shortest logs found for each kind of disagreement between the builder and the reference
// (script_log.h syntax), kept as cases of their own. Each names what the document says.
const std::pair<const char*, const char*> kMinimalLogs[] = {
    // "Renaming a directory does not change the entries inside it": without the rename, e/g is
    // d/g.
    {"entries of a renamed directory", "dir d\nfile d/x o\n--\nrename d e\ncreate e/g\n"},
    // Rule 3: a link needs the op that made its source name.
    {"a link needs the link before it", "file f abc\n--\nlink f g\nlink g x\n"},
    {"a link needs the rename that made its source (pp-strict)",
     "file x o\ndir e\n--\nlink x t\nrename t e/t\nfsyncdir /\nlink e/t g\n"},
    // Rule 1, with an inode number the filesystem reused: rmdir needs its mkdir.
    {"rmdir needs its mkdir, the inode reused",
     "file a abc\ndir d\n--\nunlink a\nmkdir d/sub ino=@a\nrmdir d/sub\ncreate f\n"},
    // A hard-linked file of the starting state is one object, whatever its names do.
    {"fsync of a hard-linked file after its other name moved",
     "file f abc\nhardlink h f\n--\nwrite f 3 XY\nrename h g\nfsync f\n"},
    {"size of a hard-linked file after its names moved",
     "file f abc\nhardlink h f\n--\ntruncate f 5\nrename f n\nrename h f\nwrite f 5 YZ\n"},
    {"a link and a rename of other names of one file are independent",
     "file f abc\nhardlink h f\n--\nrename h t\nlink f x\n"},
    {"pp: the fsync of a hard-linked file keeps its new name",
     "file f abc\nhardlink h f\n--\nlink h n\nrename f x\nfsync h\n"},
    // ext4: auto_da_alloc flushes the renamed file's writes with a replacing rename...
    {"ext4: a replacing rename carries the writes before it",
     "file a x\nfile f y\n--\nwrite a 0 ZZZZ\nrename a f\n"},
    // ...and not with an exchange, which replaces nothing.
    {"ext4: an exchange carries no writes",
     "file a x\nfile f y\n--\nwrite a 0 ZZ\nrename a f exchange\n"},
    // ext4: an fsync of a file whose name a rename replaced is a commit point.
    {"ext4: fsync of a file that lost a name commits",
     "file f old\nhardlink h f\n--\ncreate t\nrename t f\ncreate g\nfsync h\n"},
    // Rule 4: without the first rename, the second would move d under itself.
    {"a directory's rename needs the way to its destination",
     "dir d\ndir d/sub\n--\nrename d/sub sub\nrename d sub/sub\n"},
    // ...which holds for an empty directory of the starting state too: only the log header says
    // it is a directory (seed 36: d -> e/e kept, mkdir e lost).
    {"an empty starting directory's rename needs the way to its destination",
     "dir d\n--\nmkdir e\nrename d e/e\n"},
};

TEST(CrashDifferential, MinimalLogsFromFindings) {
  // Goal: the shortest logs on which the builder and the reference disagreed agree now.
  testing::TempDir root("minimal", WorkBase());
  for (const auto& [what, script] : kMinimalLogs) {
    SCOPED_TRACE(what);
    ASSERT_TRUE(FreshDir(root / "scratch").ok());
    ASSERT_TRUE(FreshDir(root / "snapshot").ok());
    auto log = ScriptLog(script, root / "scratch", root / "snapshot");
    ASSERT_TRUE(log.ok()) << log.status().ToString();
    CheckEveryModel(*log, root.path(), std::string("\"") + what + "\"");
  }
}

}  // namespace
}  // namespace faultfs::crash

namespace faultfs::crash {
namespace {

// A log on an in-memory starting tree: the root (inode 1) and the given files (inodes 2, 3, ...),
// for checking the reference itself on the document's examples.
using Files = std::vector<std::pair<std::string, std::string>>;  // name, contents

class ReferenceLog {
 public:
  explicit ReferenceLog(const Files& files) {
    start_.objects.emplace_back().mode = S_IFDIR | 0755;
    log_.header.inodes.emplace_back(1, "");
    for (const auto& [name, data] : files) {
      start_.objects[0].entries[name] = static_cast<ref::ObjId>(start_.objects.size());
      start_.objects.emplace_back().data = data;
      log_.header.inodes.emplace_back(start_.objects.size(), name);
    }
  }
  Op& Add(OpKind kind, std::string path, uint64_t ino, std::string data = "",
          std::string path2 = "") {
    Op op;
    op.seq = log_.ops.size() + 1;
    op.kind = kind;
    op.path = std::move(path);
    op.path2 = std::move(path2);
    op.ino = ino;
    op.data = std::move(data);
    op.mode = kind == OpKind::kMkdir ? 0755 : 0644;
    log_.ops.push_back(std::move(op));
    return log_.ops.back();
  }
  // The set of trees the reference model gives at crash point `c`, each as "name=data ...".
  std::set<std::string> Trees(const std::string& model, uint32_t c) {
    auto history = ref::History::Replay(log_, start_);
    EXPECT_TRUE(history.ok()) << history.status().ToString();
    const ref::Needs needs(*history);
    auto points = ref::ModelStates(*history, needs, *ref::ParseRefModel(model));
    EXPECT_TRUE(points.ok());
    std::set<std::string> trees;
    for (const auto& p : *points) {
      if (p.crash_point != c) continue;
      for (const auto& applied : p.exact) {
        const ref::Interpretation in = ref::Interpret(*history, applied, 1);
        EXPECT_TRUE(in.violations.empty()) << in.violations.front();
        std::string text;
        for (const auto& [path, line] : ref::VisibleTree(in.fs)) {
          const ref::ObjId obj = in.fs.objects[in.fs.root].entries.at(path);
          text += (text.empty() ? "" : " ") + path + "=" + in.fs.objects[obj].data;
        }
        trees.insert(text);
      }
    }
    return trees;
  }

 private:
  ref::Fs start_;
  record::ReadLog log_;
};

using Trees = std::set<std::string>;

TEST(CrashReference, FollowsTheDocumentsExamples) {
  // Goal: the reference gives the states the document spells out for its own examples.
  {  // pp: the fsync of the file keeps its name; pp-strict: only fsyncdir does.
    ReferenceLog log(Files{{"f", "old"}});
    log.Add(OpKind::kCreate, "f.tmp", 10);
    log.Add(OpKind::kWrite, "f.tmp", 10, "new");
    log.Add(OpKind::kFsync, "f.tmp", 10);
    log.Add(OpKind::kRename, "f.tmp", 10, "", "f");
    log.Add(OpKind::kFsyncdir, "", 1);
    EXPECT_EQ(log.Trees("pp", 4), (Trees{"f=new", "f=old f.tmp=new"}));
    EXPECT_EQ(log.Trees("pp-strict", 4), (Trees{"f=new", "f=old f.tmp=new", "f=old"}));
    EXPECT_EQ(log.Trees("pp-strict", 5), (Trees{"f=new"}));
    // ext4: the fsync committed the create; the rename may be lost.
    EXPECT_EQ(log.Trees("ext4", 4), (Trees{"f=new", "f=old f.tmp=new"}));
  }
  {  // ext4: an append then a replacing rename persists the data with the rename.
    ReferenceLog log(Files{{"f", "old"}});
    log.Add(OpKind::kCreate, "f.tmp", 10);
    log.Add(OpKind::kWrite, "f.tmp", 10, "new");
    log.Add(OpKind::kRename, "f.tmp", 10, "", "f");
    EXPECT_EQ(log.Trees("ext4", 3), (Trees{"f=new", "f=old f.tmp=", "f=old"}));
    EXPECT_EQ(log.Trees("pp", 3), (Trees{"f=", "f=old f.tmp=", "f=old"}));
  }
  {  // ext4: an fsync of one file makes every earlier directory op durable; an append followed
     // by another op is not ordered with it.
    ReferenceLog log(Files{{"f", "old"}});
    log.Add(OpKind::kCreate, "a", 10);
    log.Add(OpKind::kCreate, "b", 11);
    log.Add(OpKind::kWrite, "b", 11, "x");
    log.Add(OpKind::kFsync, "b", 11);
    log.Add(OpKind::kWrite, "f", 2, "+").offset = 3;
    log.Add(OpKind::kCreate, "g", 12);
    EXPECT_EQ(log.Trees("ext4", 4), (Trees{"a= b=x f=old"}));
    EXPECT_EQ(log.Trees("ext4", 6), (Trees{"a= b=x f=old g=", "a= b=x f=old"}));
  }
  {  // torn: 3s - 4 variants; weak: a write across pages in 3 pieces, 5 variants.
    ReferenceLog log(Files{{"f", ""}});
    log.Add(OpKind::kWrite, "f", 2, std::string(3 * 4096, 'w'));
    EXPECT_EQ(log.Trees("torn-4096", 1).size(), 1u + 5);
    EXPECT_EQ(log.Trees("torn-512", 1).size(), 1u + 3 * 24 - 4);
    EXPECT_EQ(log.Trees("weak", 1).size(), 1u + 5);  // the size of f is unknown: no append
  }
  {  // reorder-1 on a three-op epoch gives the same states as reorder-2.
    ReferenceLog log(Files{});
    log.Add(OpKind::kCreate, "a", 10);
    log.Add(OpKind::kCreate, "b", 11);
    log.Add(OpKind::kCreate, "c", 12);
    EXPECT_EQ(log.Trees("reorder-1", 3), log.Trees("reorder-2", 3));
    EXPECT_EQ(log.Trees("reorder-2", 3).size(), 1u + 2 + 2 + 0);
  }
}

}  // namespace
}  // namespace faultfs::crash
