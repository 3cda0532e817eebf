// Goal: the engine fires a rule exactly when every targeting key, counter, time window and chain
// allows it, and never otherwise; decisions are reproducible from the seed; a rule's draws do not
// depend on the other rules; counters survive live rule changes and restart on a new policy.
#include "faultfs/engine/engine.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <set>
#include <string>
#include <thread>

#include "engine_test_util.h"
#include "faultfs/policy/parse.h"

namespace faultfs::engine {
namespace {

using policy::Op;

TEST(Engine, NoRulesPassEverything) {
  FaultEngine e(1);
  for (size_t op = 0; op < policy::kOpCount; ++op) {
    EXPECT_TRUE(e.Decide(Ctx(static_cast<Op>(op))).passes());
    EXPECT_FALSE(e.Targets(static_cast<Op>(op)));
  }
}

TEST(Engine, OpsTargetOnlyTheirOps) {
  auto e = Loaded("[[rule]]\nops = [\"write\"]\naction = \"errno\"\nerrno = \"EIO\"\n");
  EXPECT_EQ(Err(*e, Ctx(Op::kWrite)), EIO);
  EXPECT_EQ(Err(*e, Ctx(Op::kRead)), 0) << "a rule on write must not fire on read";
  EXPECT_TRUE(e->Targets(Op::kWrite));
  EXPECT_FALSE(e->Targets(Op::kRead));
}

TEST(Engine, PathGlobsAndRegexes) {
  auto e = Loaded(R"([[rule]]
ops = ["fsync"]
path = "**/*.wal"
action = "errno"
errno = "EIO"
[[rule]]
ops = ["unlink"]
path_regex = "db/[0-9]+\\.sst"
action = "errno"
errno = "EBUSY"
)");
  EXPECT_EQ(Err(*e, Ctx(Op::kFsync, "a/b/log.wal")), EIO);
  EXPECT_EQ(Err(*e, Ctx(Op::kFsync, "a/b/log.wal.old")), 0);
  EXPECT_EQ(Err(*e, Ctx(Op::kUnlink, "db/123.sst")), EBUSY);
  EXPECT_EQ(Err(*e, Ctx(Op::kUnlink, "db/123.sst.tmp")), 0) << "regexes are anchored";
  EXPECT_TRUE(e->NeedsPath(Op::kFsync));
  EXPECT_FALSE(e->NeedsPath(Op::kRead));
}

TEST(Engine, RenameMatchesEitherPath) {
  auto e = Loaded(
      "[[rule]]\nops = [\"rename\"]\npath = \"CURRENT\"\naction = \"errno\"\nerrno = \"EIO\"\n");
  OpContext c = Ctx(Op::kRename, "MANIFEST.tmp");
  c.path2 = "CURRENT";
  EXPECT_EQ(Err(*e, c), EIO);
  c.path2 = "OTHER";
  EXPECT_EQ(Err(*e, c), 0);
}

TEST(Engine, TypeOffsetSizeFlagsAndCaller) {
  auto e = Loaded(R"([[rule]]
ops = ["write"]
file_type = "regular"
offset = [4096, 8192]
size = [512, 1024]
flags = ["O_DIRECT"]
uid = 1000
action = "errno"
errno = "EIO"
)");
  OpContext hit = Ctx(Op::kWrite, "f", 4096, 512);
  hit.open_flags = O_WRONLY | O_DIRECT;
  EXPECT_EQ(Err(*e, hit), EIO);
  OpContext c = hit;
  c.mode = S_IFDIR;
  EXPECT_EQ(Err(*e, c), 0) << "file type";
  c = hit;
  c.offset = 8192;
  EXPECT_EQ(Err(*e, c), 0) << "offset range end is exclusive";
  c = hit;
  c.offset = 4000;
  c.size = 512;
  EXPECT_EQ(Err(*e, c), EIO) << "a write overlapping the range counts";
  c = hit;
  c.size = 1024;
  EXPECT_EQ(Err(*e, c), 0) << "size range end is exclusive";
  c = hit;
  c.open_flags = O_WRONLY;
  EXPECT_EQ(Err(*e, c), 0) << "flags";
  c = hit;
  c.uid = 0;
  EXPECT_EQ(Err(*e, c), 0) << "uid";
}

TEST(Engine, ProcessName) {
  auto e = Loaded(
      "[[rule]]\nops = [\"read\"]\nprocess = \"engine_test\"\naction = \"errno\"\nerrno = \"EIO\"\n"
      "[[rule]]\nops = [\"write\"]\nprocess = \"postgres\"\naction = \"errno\"\nerrno = \"EIO\"\n");
  EXPECT_EQ(Err(*e, Ctx(Op::kRead)), EIO);
  EXPECT_EQ(Err(*e, Ctx(Op::kWrite)), 0);
}

TEST(Engine, ProbabilityEdgesAndRate) {
  auto never =
      Loaded("[[rule]]\nops = [\"read\"]\nprobability = 0\naction = \"errno\"\nerrno = \"EIO\"\n");
  auto always =
      Loaded("[[rule]]\nops = [\"read\"]\nprobability = 1\naction = \"errno\"\nerrno = \"EIO\"\n");
  auto half = Loaded(
      "[[rule]]\nops = [\"read\"]\nprobability = 0.5\naction = \"errno\"\nerrno = \"EIO\"\n");
  int n_never = 0, n_always = 0, n_half = 0;
  for (int i = 0; i < 10000; ++i) {
    n_never += Err(*never, Ctx(Op::kRead)) != 0;
    n_always += Err(*always, Ctx(Op::kRead)) != 0;
    n_half += Err(*half, Ctx(Op::kRead)) != 0;
  }
  EXPECT_EQ(n_never, 0) << "probability 0 means never";
  EXPECT_EQ(n_always, 10000) << "probability 1 means always";
  EXPECT_NEAR(n_half, 5000, 300);
}

TEST(Engine, Counting) {
  auto nth = Loaded("[[rule]]\nops = [\"read\"]\nnth = 3\naction = \"errno\"\nerrno = \"EIO\"\n");
  auto every =
      Loaded("[[rule]]\nops = [\"read\"]\nevery = 3\naction = \"errno\"\nerrno = \"EIO\"\n");
  auto after = Loaded(
      "[[rule]]\nops = [\"read\"]\nafter = 3\nmax_times = 2\naction = \"errno\"\nerrno = "
      "\"EIO\"\n");
  std::string a, b, c;
  for (int i = 0; i < 8; ++i) {
    a += Err(*nth, Ctx(Op::kRead)) ? 'X' : '.';
    b += Err(*every, Ctx(Op::kRead)) ? 'X' : '.';
    c += Err(*after, Ctx(Op::kRead)) ? 'X' : '.';
  }
  EXPECT_EQ(a, "..X.....");
  EXPECT_EQ(b, "..X..X..");
  EXPECT_EQ(c, "...XX...");
}

TEST(Engine, CountsOnlyCallsThatMatchTheOtherKeys) {
  auto e = Loaded(
      "[[rule]]\nops = [\"read\"]\npath = \"a\"\nnth = 2\naction = \"errno\"\nerrno = \"EIO\"\n");
  EXPECT_EQ(Err(*e, Ctx(Op::kRead, "a")), 0);
  EXPECT_EQ(Err(*e, Ctx(Op::kRead, "b")), 0) << "does not count: other path";
  EXPECT_EQ(Err(*e, Ctx(Op::kRead, "a")), EIO) << "the second call on 'a'";
}

TEST(Engine, TimeWindowAndFlakeyCycles) {
  auto later = Loaded(
      "[[rule]]\nops = [\"read\"]\nwindow = [100, 200]\naction = \"errno\"\nerrno = \"EIO\"\n");
  EXPECT_EQ(Err(*later, Ctx(Op::kRead)), 0) << "window not yet open";
  auto now = Loaded(
      "[[rule]]\nops = [\"read\"]\nwindow = [0, 100]\naction = \"errno\"\nerrno = \"EIO\"\n");
  EXPECT_EQ(Err(*now, Ctx(Op::kRead)), EIO);
  // Faulty for the first 0.2 s? No: healthy first (up), then faulty (down).
  auto flakey = Loaded(
      "[[rule]]\nops = [\"read\"]\nflakey = { up_s = 0.2, down_s = 0.2 }\naction = "
      "\"errno\"\nerrno = \"EIO\"\n");
  EXPECT_EQ(Err(*flakey, Ctx(Op::kRead)), 0) << "healthy phase";
  std::this_thread::sleep_for(std::chrono::milliseconds(250));
  EXPECT_EQ(Err(*flakey, Ctx(Op::kRead)), EIO) << "faulty phase";
}

TEST(Engine, ChainArmsAfterTheOtherRuleFired) {
  auto e = Loaded(R"([[rule]]
id = "first"
ops = ["write"]
nth = 2
action = "errno"
errno = "EIO"
[[rule]]
id = "then"
ops = ["fsync"]
after_rule = "first"
action = "errno"
errno = "ENOSPC"
)");
  EXPECT_EQ(Err(*e, Ctx(Op::kFsync)), 0) << "not armed yet";
  EXPECT_EQ(Err(*e, Ctx(Op::kWrite)), 0);
  EXPECT_EQ(Err(*e, Ctx(Op::kWrite)), EIO);
  EXPECT_EQ(Err(*e, Ctx(Op::kFsync)), ENOSPC) << "armed once 'first' fired";
}

std::string Sequence(FaultEngine& e, int n) {
  std::string s;
  for (int i = 0; i < n; ++i) s += Err(e, Ctx(Op::kRead)) ? 'X' : '.';
  return s;
}

TEST(Engine, SameSeedSameDecisions) {
  const char* policy =
      "[[rule]]\nid = \"r\"\nops = [\"read\"]\nprobability = 0.3\naction = \"errno\"\nerrno = "
      "\"EIO\"\n";
  auto a = Loaded(policy, 42);
  auto b = Loaded(policy, 42);
  auto c = Loaded(policy, 43);
  const std::string sa = Sequence(*a, 200);
  EXPECT_EQ(sa, Sequence(*b, 200));
  EXPECT_NE(sa, Sequence(*c, 200)) << "another seed gives other draws";
}

TEST(Engine, AddingARuleDoesNotChangeAnothersDraws) {
  const char* one =
      "seed = 5\n[[rule]]\nid = \"r\"\nops = [\"read\"]\nprobability = 0.3\naction = "
      "\"errno\"\nerrno = \"EIO\"\n";
  const std::string two = std::string(
                              "seed = 5\n[[rule]]\nid = \"other\"\nops = [\"read\"]\nprobability = "
                              "0.5\naction = \"delay\"\n"
                              "delay = { fixed_ms = 0 }\n") +
                          std::string(one).substr(9);
  auto a = Loaded(one);
  auto b = Loaded(two);
  EXPECT_EQ(Sequence(*a, 300), Sequence(*b, 300));
}

TEST(Engine, DelaysWithinBoundsAndAdding) {
  auto e = Loaded(R"([[rule]]
ops = ["read"]
action = "delay"
delay = { distribution = "lognormal", median_ms = 5, sigma = 2, min_ms = 1, max_ms = 50 }
[[rule]]
ops = ["read"]
action = "delay"
delay = { fixed_ms = 10 }
)");
  for (int i = 0; i < 2000; ++i) {
    const auto d = e->Decide(Ctx(Op::kRead));
    EXPECT_GE(d.delay, std::chrono::milliseconds(11));
    EXPECT_LE(d.delay, std::chrono::milliseconds(60));
    EXPECT_EQ(d.outcome, nullptr) << "delays do not change the outcome";
    EXPECT_EQ(d.fired.size(), 2U);
  }
}

TEST(Engine, BandwidthTokenBucket) {
  auto e = Loaded(
      "[[rule]]\nops = [\"write\"]\naction = \"bandwidth\"\nbandwidth = { bytes_per_s = \"1 MiB\", "
      "burst = \"64 KiB\" }\n");
  EXPECT_EQ(e->Decide(Ctx(Op::kWrite, "f", 0, 64 * 1024)).delay.count(), 0) << "the burst is free";
  const auto wait = e->Decide(Ctx(Op::kWrite, "f", 0, 512 * 1024)).delay;
  EXPECT_NEAR(std::chrono::duration<double>(wait).count(), 0.5, 0.05) << "512 KiB at 1 MiB/s";
}

TEST(Engine, StallFreezeAndOutcomeOrder) {
  auto e = Loaded(R"([[rule]]
ops = ["read"]
action = "stall"
stall = { timeout_s = 3 }
[[rule]]
ops = ["read"]
action = "errno"
errno = "EIO"
[[rule]]
ops = ["read"]
action = "errno"
errno = "ENOSPC"
[[rule]]
ops = ["write"]
action = "freeze"
)");
  const auto d = e->Decide(Ctx(Op::kRead));
  ASSERT_NE(d.stall, nullptr);
  EXPECT_DOUBLE_EQ(d.stall->timeout_s, 3);
  EXPECT_EQ(d.err, EIO) << "the first outcome rule wins";
  EXPECT_EQ(d.fired.size(), 3U) << "every rule that fired is reported";
  EXPECT_TRUE(e->Decide(Ctx(Op::kWrite)).freeze);
}

TEST(Engine, WeightedAndRealisticErrnos) {
  auto w =
      Loaded("[[rule]]\nops = [\"write\"]\naction = \"errno\"\nerrno = { EIO = 1, ENOSPC = 3 }\n");
  int eio = 0, enospc = 0;
  for (int i = 0; i < 4000; ++i) {
    const int err = Err(*w, Ctx(Op::kWrite));
    eio += err == EIO;
    enospc += err == ENOSPC;
  }
  EXPECT_EQ(eio + enospc, 4000);
  EXPECT_NEAR(enospc, 3000, 200);
  auto r = Loaded("[[rule]]\nops = [\"fsync\"]\naction = \"errno\"\nerrno = \"realistic\"\n");
  for (int i = 0; i < 100; ++i) {
    const int err = Err(*r, Ctx(Op::kFsync));
    EXPECT_TRUE(err == EIO || err == ENOSPC || err == EDQUOT) << err;
  }
}

TEST(Engine, LiveChangesKeepCountersLoadRestartsThem) {
  FaultEngine e(1);
  ASSERT_TRUE(e.Load(P("[[rule]]\nid = \"a\"\nops = [\"read\"]\nnth = 3\naction = \"errno\"\nerrno "
                       "= \"EIO\"\n"))
                  .ok());
  EXPECT_EQ(Err(e, Ctx(Op::kRead)), 0);
  EXPECT_EQ(Err(e, Ctx(Op::kRead)), 0);
  policy::Rule extra = P("[[rule]]\nid = \"b\"\nops = [\"write\"]\naction = \"lose\"\n").rules[0];
  ASSERT_TRUE(e.AddRule(extra).ok());
  EXPECT_EQ(Err(e, Ctx(Op::kRead)), EIO) << "rule a kept its count across adding b";
  EXPECT_FALSE(e.AddRule(extra).ok()) << "duplicate id";
  ASSERT_TRUE(e.SetEnabled("a", false).ok());
  EXPECT_EQ(e.Decide(Ctx(Op::kRead)).fired.size(), 0U) << "disabled";
  EXPECT_FALSE(e.SetEnabled("ghost", true).ok());
  ASSERT_TRUE(e.RemoveRule("b").ok());
  EXPECT_FALSE(e.RemoveRule("b").ok());
  const auto stats = e.Stats();
  ASSERT_EQ(stats.size(), 1U);
  EXPECT_EQ(stats[0].id, "a");
  EXPECT_EQ(stats[0].matched, 3U);
  EXPECT_EQ(stats[0].fired, 1U);
  EXPECT_EQ(stats[0].evaluated, 3U)
      << "kept while disabled; the decision made while disabled does not count";
  ASSERT_TRUE(e.SetEnabled("a", true).ok());
  (void)e.Decide(Ctx(Op::kRead));
  EXPECT_EQ(e.Stats()[0].evaluated, 4U) << "counts again once enabled";
  ASSERT_TRUE(e.Load(P("[[rule]]\nid = \"a\"\nops = [\"read\"]\nnth = 1\naction = \"errno\"\nerrno "
                       "= \"EIO\"\n"))
                  .ok());
  EXPECT_EQ(e.Stats()[0].matched, 0U) << "a new policy starts its counters at zero";
}

TEST(Engine, IndexedAndScannedRulesKeepPolicyOrder) {
  // "db/**" is indexed by its first segment, "**/*.wal" by extension, "**" and the regex are
  // scanned: whatever the index, the first rule in the policy decides the outcome.
  const char* rules[] = {
      "[[rule]]\nops = [\"write\"]\npath = \"db/**\"\naction = \"errno\"\nerrno = \"EIO\"\n",
      "[[rule]]\nops = [\"write\"]\npath = \"**/*.wal\"\naction = \"errno\"\nerrno = \"ENOSPC\"\n",
      "[[rule]]\nops = [\"write\"]\npath = \"**\"\naction = \"errno\"\nerrno = \"EROFS\"\n",
      "[[rule]]\nops = [\"write\"]\npath_regex = \"db/.*\"\naction = \"errno\"\nerrno = "
      "\"EDQUOT\"\n"};
  const int errs[] = {EIO, ENOSPC, EROFS, EDQUOT};
  for (int first = 0; first < 4; ++first) {
    std::string policy = rules[first];
    for (int i = 0; i < 4; ++i) {
      if (i != first) policy += rules[i];
    }
    auto e = Loaded(policy);
    EXPECT_EQ(Err(*e, Ctx(Op::kWrite, "db/x.wal")), errs[first])
        << "rule " << first << " comes first";
    EXPECT_EQ(e->Decide(Ctx(Op::kWrite, "db/x.wal")).fired.size(), 4U);
  }
  auto e = Loaded(std::string(rules[0]) + rules[1]);
  EXPECT_EQ(Err(*e, Ctx(Op::kWrite, "other/x.log")), 0) << "neither index matches";
  EXPECT_EQ(Err(*e, Ctx(Op::kWrite, "db")), EIO) << "db/** matches the directory itself";
}

TEST(Engine, ConcurrentDecisionsCountExactly) {
  auto e =
      Loaded("[[rule]]\nops = [\"read\"]\nmax_times = 1000\naction = \"errno\"\nerrno = \"EIO\"\n");
  std::atomic<int> fired{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 5000; ++i) fired += Err(*e, Ctx(Op::kRead)) != 0;
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(fired.load(), 1000) << "max_times holds across threads";
  EXPECT_EQ(e->Stats()[0].evaluated, 20000U);
}

// --- Op groups, open flags, callers, time windows and counting ---

// Whether the engine loaded with a rule on `ops` targets exactly the ops in `members`.
void ExpectTargetsExactly(std::string_view ops, std::string_view action,
                          const std::set<Op>& members) {
  SCOPED_TRACE(std::string(ops) + " / " + std::string(action));
  auto e = Loaded("[[rule]]\n" + std::string(ops) + "action = " + std::string(action) + "\n");
  for (size_t i = 0; i < policy::kOpCount; ++i) {
    const Op op = static_cast<Op>(i);
    EXPECT_EQ(e->Targets(op), members.count(op) == 1) << policy::OpName(op);
    EXPECT_EQ(e->Decide(Ctx(op)).passes(), members.count(op) == 0) << policy::OpName(op);
  }
}

std::set<Op> AllOps() {
  std::set<Op> all;
  for (size_t i = 0; i < policy::kOpCount; ++i) all.insert(static_cast<Op>(i));
  return all;
}

TEST(Engine, OpGroupsCoverExactlyTheirMembers) {
  const char* eio = "\"errno\"\nerrno = \"EIO\"";
  ExpectTargetsExactly("ops = [\"xattr\"]\n", eio,
                       {Op::kSetxattr, Op::kGetxattr, Op::kListxattr, Op::kRemovexattr});
  ExpectTargetsExactly("ops = [\"sync\"]\n", eio, {Op::kFsync, Op::kFdatasync, Op::kFsyncdir});
  ExpectTargetsExactly("ops = [\"all\"]\n", eio, AllOps());
  ExpectTargetsExactly("ops = [\"sync\", \"read\"]\n", eio,
                       {Op::kFsync, Op::kFdatasync, Op::kFsyncdir, Op::kRead});
}

TEST(Engine, WithoutOpsARuleTargetsWhatItsActionActsOn) {
  ExpectTargetsExactly("", "\"lie\"", {Op::kFsync, Op::kFdatasync, Op::kFsyncdir});
  ExpectTargetsExactly("", "\"torn\"", {Op::kWrite});
  ExpectTargetsExactly("", "\"short\"\nshort = { bytes = 1 }", {Op::kRead, Op::kWrite});
  ExpectTargetsExactly("", "\"fsync_fail\"", {Op::kFsync, Op::kFdatasync});
  ExpectTargetsExactly("", "\"errno\"\nerrno = \"EIO\"", AllOps());
}

TEST(Engine, OpGroupNamesHoldExactlyTheirMembers) {
  const auto xattr = policy::OpGroupFromName("xattr");
  const auto sync = policy::OpGroupFromName("sync");
  const auto all = policy::OpGroupFromName("all");
  ASSERT_TRUE(xattr && sync && all);
  EXPECT_EQ(xattr->count(), 4U);
  EXPECT_EQ(sync->count(), 3U);
  EXPECT_EQ(all->count(), policy::kOpCount);
  EXPECT_TRUE(sync->test(static_cast<size_t>(Op::kFsyncdir)));
  EXPECT_FALSE(sync->test(static_cast<size_t>(Op::kFlush)));
  EXPECT_FALSE(policy::OpGroupFromName("write")) << "a single op is not a group";
  EXPECT_FALSE(policy::OpGroupFromName("metadata"));
}

TEST(Engine, OpenFlagsFireOnlyWhenTheFileHasThemAll) {
  auto e = Loaded(R"([[rule]]
ops = ["write"]
flags = ["O_SYNC"]
action = "errno"
errno = "EIO"
[[rule]]
ops = ["read"]
flags = ["O_APPEND"]
action = "errno"
errno = "ENOSPC"
[[rule]]
ops = ["fsync"]
flags = ["O_SYNC", "O_APPEND"]
action = "errno"
errno = "EROFS"
)");
  auto with = [](Op op, int flags) {
    OpContext c = Ctx(op);
    c.open_flags = flags;
    return c;
  };
  EXPECT_EQ(Err(*e, with(Op::kWrite, O_WRONLY | O_SYNC)), EIO);
  EXPECT_EQ(Err(*e, with(Op::kWrite, O_WRONLY)), 0);
  EXPECT_EQ(Err(*e, with(Op::kWrite, O_WRONLY | O_DSYNC)), 0) << "O_DSYNC is less than O_SYNC";
  EXPECT_EQ(Err(*e, with(Op::kRead, O_RDWR | O_APPEND)), ENOSPC);
  EXPECT_EQ(Err(*e, with(Op::kRead, O_RDWR)), 0);
  EXPECT_EQ(Err(*e, with(Op::kFsync, O_WRONLY | O_SYNC | O_APPEND)), EROFS);
  EXPECT_EQ(Err(*e, with(Op::kFsync, O_WRONLY | O_SYNC)), 0) << "both flags are needed";
  EXPECT_EQ(Err(*e, with(Op::kFsync, O_WRONLY | O_APPEND)), 0) << "both flags are needed";
}

TEST(Engine, PidAndGidFireOnlyForTheirCallers) {
  auto e = Loaded(R"([[rule]]
ops = ["read"]
pid = [4242, 4343]
action = "errno"
errno = "EIO"
[[rule]]
ops = ["write"]
gid = 100
action = "errno"
errno = "EIO"
)");
  OpContext c = Ctx(Op::kRead);
  c.pid = 4242;
  EXPECT_EQ(Err(*e, c), EIO);
  c.pid = 4343;
  EXPECT_EQ(Err(*e, c), EIO);
  c.pid = 4244;
  EXPECT_EQ(Err(*e, c), 0) << "another pid";
  c = Ctx(Op::kWrite);
  c.gid = 100;
  EXPECT_EQ(Err(*e, c), EIO);
  c.gid = 1000;
  EXPECT_EQ(Err(*e, c), 0) << "another gid";
}

TEST(Engine, TimeWindowStopsFiringAtItsEnd) {
  auto e = Loaded(
      "[[rule]]\nops = [\"read\"]\nwindow = [0, 0.2]\naction = \"errno\"\nerrno = \"EIO\"\n");
  EXPECT_EQ(Err(*e, Ctx(Op::kRead)), EIO) << "inside the window";
  std::this_thread::sleep_for(std::chrono::milliseconds(250));
  EXPECT_EQ(Err(*e, Ctx(Op::kRead)), 0) << "the window has ended";
}

TEST(Engine, FlakeyCyclesHealthyFaultyHealthyFaulty) {
  // Up 0.2 s, down 0.2 s: each check sits in the middle of a phase, 0.1 s from its edges.
  auto e = Loaded(
      "[[rule]]\nops = [\"read\"]\nflakey = { up_s = 0.2, down_s = 0.2 }\naction = \"errno\"\n"
      "errno = \"EIO\"\n");
  const auto start = std::chrono::steady_clock::now();
  std::string phases;
  for (int i = 0; i < 4; ++i) {
    std::this_thread::sleep_until(start + std::chrono::milliseconds(100 + 200 * i));
    phases += Err(*e, Ctx(Op::kRead)) ? 'X' : '.';
  }
  EXPECT_EQ(phases, ".X.X") << "healthy, faulty, healthy again, faulty again";
}

TEST(Engine, AfterAndEveryAloneGiveExactPatterns) {
  auto after =
      Loaded("[[rule]]\nops = [\"read\"]\nafter = 3\naction = \"errno\"\nerrno = \"EIO\"\n");
  auto after0 =
      Loaded("[[rule]]\nops = [\"read\"]\nafter = 0\naction = \"errno\"\nerrno = \"EIO\"\n");
  auto every2 =
      Loaded("[[rule]]\nops = [\"read\"]\nevery = 2\naction = \"errno\"\nerrno = \"EIO\"\n");
  auto every1 =
      Loaded("[[rule]]\nops = [\"read\"]\nevery = 1\naction = \"errno\"\nerrno = \"EIO\"\n");
  EXPECT_EQ(Sequence(*after, 8), "...XXXXX");
  EXPECT_EQ(Sequence(*after0, 4), "XXXX");
  EXPECT_EQ(Sequence(*every2, 8), ".X.X.X.X");
  EXPECT_EQ(Sequence(*every1, 4), "XXXX");
}

}  // namespace
}  // namespace faultfs::engine
