// Goal: the policy parser turns every documented key into the right value, accepts every policy
// shipped in policies/, and reports every error of a broken policy with its position; it never
// crashes, whatever the input.
#include "faultfs/policy/parse.h"

#include <fcntl.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <random>

namespace faultfs::policy {
namespace {

Policy MustParse(std::string_view text) {
  auto out = ParsePolicy(text, "test.toml");
  for (const auto& e : out.errors) ADD_FAILURE() << e.ToString();
  return out.ok() ? *out.policy : Policy{};
}

std::vector<std::string> Errors(std::string_view text) {
  std::vector<std::string> messages;
  for (const auto& e : ParsePolicy(text, "p.toml").errors) messages.push_back(e.ToString());
  return messages;
}

bool AnyContains(const std::vector<std::string>& v, std::string_view needle) {
  for (const auto& s : v) {
    if (s.find(needle) != std::string::npos) return true;
  }
  return false;
}

TEST(ParsePolicy, EmptyPolicyHasNoRules) {
  const Policy p = MustParse("");
  EXPECT_TRUE(p.rules.empty());
  EXPECT_FALSE(p.seed);
}

TEST(ParsePolicy, FullRule) {
  const Policy p = MustParse(R"(
seed = 99
[[rule]]
id = "r1"
ops = ["write", "fsync"]
path = ["**/*.wal", "CURRENT"]
file_type = "regular"
offset = [0, "4 KiB"]
size = [1, 4096]
flags = ["O_DIRECT", "O_SYNC"]
pid = [123]
uid = 1000
process = "postgres"
probability = 0.25
every = 3
after = 2
window = [1.5, 10]
flakey = { up_s = 5, down_s = 1 }
action = "errno"
errno = { EIO = 3, ENOSPC = 1 }
)");
  ASSERT_EQ(p.rules.size(), 1U);
  const Rule& r = p.rules[0];
  EXPECT_EQ(*p.seed, 99U);
  EXPECT_EQ(r.id, "r1");
  EXPECT_TRUE(r.match.ops.test(static_cast<size_t>(Op::kWrite)));
  EXPECT_TRUE(r.match.ops.test(static_cast<size_t>(Op::kFsync)));
  EXPECT_EQ(r.match.ops.count(), 2U);
  EXPECT_EQ(r.match.path_globs.size(), 2U);
  EXPECT_EQ(r.match.offset, (Range{0, 4096}));
  EXPECT_EQ(r.match.open_flags, O_DIRECT | O_SYNC);
  EXPECT_EQ(r.match.pids, std::vector<pid_t>{123});
  EXPECT_EQ(r.match.uids, std::vector<uid_t>{1000});
  EXPECT_EQ(r.match.process_names, std::vector<std::string>{"postgres"});
  EXPECT_DOUBLE_EQ(r.match.probability, 0.25);
  EXPECT_EQ(*r.match.every, 3U);
  EXPECT_EQ(*r.match.after, 2U);
  EXPECT_DOUBLE_EQ(*r.match.window_start_s, 1.5);
  EXPECT_DOUBLE_EQ(*r.match.flakey_down_s, 1);
  const auto& a = std::get<ErrnoAction>(r.action);
  ASSERT_EQ(a.choices.size(), 2U);
}

TEST(ParsePolicy, EveryActionParses) {
  const Policy p = MustParse(R"(
[[rule]]
action = "delay"
delay = { distribution = "pareto", scale_ms = 2, shape = 1.5, max_ms = 100 }
[[rule]]
action = "bandwidth"
bandwidth = { bytes_per_s = "1 MiB" }
[[rule]]
action = "stall"
stall = { timeout_s = 5 }
[[rule]]
action = "short"
short = { fraction = 0.5 }
[[rule]]
action = "torn"
torn = { unit = 512, keep = "first" }
[[rule]]
action = "corrupt"
corrupt = { mode = "random", range = [0, 64], on = "write" }
[[rule]]
action = "misdirect"
misdirect = { shift = -4096 }
[[rule]]
action = "stale"
[[rule]]
action = "lose"
[[rule]]
action = "lie"
[[rule]]
action = "fsync_fail"
fsync_fail = { errno = "EIO", semantics = "keep" }
[[rule]]
action = "kill"
kill = { signal = "SIGTERM", target = "group", when = "after" }
[[rule]]
action = "freeze"
)");
  ASSERT_EQ(p.rules.size(), 13U);
  EXPECT_EQ(std::get<DelayAction>(p.rules[0].action).distribution.kind,
            Distribution::Kind::kPareto);
  EXPECT_EQ(std::get<BandwidthAction>(p.rules[1].action).bytes_per_s, 1U << 20);
  EXPECT_EQ(std::get<TornAction>(p.rules[4].action).unit_bytes, 512U);
  EXPECT_TRUE(std::get<CorruptAction>(p.rules[5].action).on_write);
  EXPECT_EQ(std::get<MisdirectAction>(p.rules[6].action).shift_bytes, -4096);
  EXPECT_FALSE(std::get<FsyncFailAction>(p.rules[10].action).drop_dirty);
  EXPECT_FALSE(std::get<KillAction>(p.rules[11].action).before);
  // No ops given: every op the action can act on.
  EXPECT_EQ(p.rules[4].match.ops.count(), 1U) << "torn applies to write only";
  EXPECT_TRUE(p.rules[4].match.ops.test(static_cast<size_t>(Op::kWrite)));
  EXPECT_TRUE(p.rules[0].match.ops.all()) << "delay applies to every op";
  for (size_t i = 0; i < p.rules.size(); ++i)
    EXPECT_EQ(p.rules[i].id, "rule-" + std::to_string(i + 1));
}

TEST(ParsePolicy, Capacity) {
  const Policy p = MustParse("[capacity]\nbytes = \"2 GiB\"\ninodes = 10\nerrno = \"EDQUOT\"\n");
  ASSERT_TRUE(p.capacity);
  EXPECT_EQ(*p.capacity->bytes, 2ULL << 30);
  EXPECT_EQ(p.capacity->err, EDQUOT);
  const Policy room = MustParse("[capacity]\nfree_bytes = \"64 MiB\"\nfree_inodes = 1000\n");
  ASSERT_TRUE(room.capacity);
  EXPECT_EQ(*room.capacity->free_bytes, 64ULL << 20);
  EXPECT_EQ(*room.capacity->free_inodes, 1000U);
  EXPECT_FALSE(room.capacity->bytes);
  EXPECT_TRUE(AnyContains(Errors("[capacity]\nbytes = 1\nfree_bytes = 2\n"),
                          "3:14: capacity: give bytes or free_bytes, not both"));
  EXPECT_TRUE(AnyContains(Errors("[capacity]\ninodes = 1\nfree_inodes = 2\n"),
                          "give inodes or free_inodes, not both"));
}

TEST(ParsePolicy, ReportsEveryErrorWithItsPosition) {
  const auto errors = Errors(R"([[rule]]
ops = ["write", "frobnicate"]
probability = 1.5
nth = 2
every = 3
offset = [10, 5]
action = "errno"
errno = "EBOGUS"
colour = "red"
[[rule]]
action = "explode"
)");
  EXPECT_TRUE(AnyContains(errors, "p.toml:2:17: unknown op 'frobnicate'"))
      << ::testing::PrintToString(errors);
  EXPECT_TRUE(AnyContains(errors, "p.toml:3:15: probability must be between 0 and 1"));
  EXPECT_TRUE(AnyContains(errors, "nth and every contradict"));
  EXPECT_TRUE(AnyContains(errors, "p.toml:6:10: offset is empty"));
  EXPECT_TRUE(AnyContains(errors, "unknown errno 'EBOGUS'"));
  EXPECT_TRUE(AnyContains(errors, "p.toml:9:10: unknown key 'colour'"));
  EXPECT_TRUE(AnyContains(errors, "p.toml:11:10: unknown action 'explode'"));
  EXPECT_GE(errors.size(), 7U);
}

TEST(ParsePolicy, SyntaxErrorHasPosition) {
  const auto errors = Errors("[[rule]\naction = \"errno\"\n");
  ASSERT_EQ(errors.size(), 1U);
  EXPECT_TRUE(AnyContains(errors, "p.toml:1:")) << errors[0];
}

// Goal: a misspelt word is answered with the closest one the parser knows; a word near none
// gets no guess, and a very long one costs no more than a short one.
TEST(ParsePolicy, MisspeltWordsGetTheClosestKnownOne) {
  const auto errors = Errors(R"([[rule]]
op = ["read"]
ops = ["wrte", "banana"]
file_type = "regluar"
action = "errno"
errno = ["eio", "ENOSPCC", "EWHATEVER"]
[[rule]]
action = "stal"
)");
  EXPECT_TRUE(
      AnyContains(errors, "p.toml:2:6: unknown key 'op' in a [[rule]]; did you mean 'ops'?"));
  EXPECT_TRUE(AnyContains(errors, "unknown op 'wrte'; did you mean 'write'?"));
  EXPECT_TRUE(AnyContains(errors, "unknown file_type 'regluar'; did you mean 'regular'?"));
  EXPECT_TRUE(AnyContains(errors, "unknown errno 'eio'; did you mean 'EIO'?"));
  EXPECT_TRUE(AnyContains(errors, "unknown errno 'ENOSPCC'; did you mean 'ENOSPC'?"));
  EXPECT_TRUE(AnyContains(errors, "unknown action 'stal'; did you mean 'stall'?"));
  EXPECT_TRUE(AnyContains(errors, "unknown op 'banana' (expected"));  // near nothing
  EXPECT_TRUE(AnyContains(errors, "unknown errno 'EWHATEVER' (expected"));
  const std::string huge(100000, 'w');
  EXPECT_TRUE(AnyContains(Errors("[[rule]]\nops = [\"" + huge + "\"]\naction = \"lie\"\n"),
                          "' (expected an op"));
}

// Goal: errors come in the order of the text, and a duplicate id is reported together with the
// rules' other errors (not only once they are fixed), with where the id was first used.
TEST(ParsePolicy, ErrorsInTextOrderWithDuplicateIdsAmongThem) {
  const auto errors = Errors(R"([[rule]]
id = "a"
action = "lie"
[[rule]]
id = "b"
action = "errno"
errno = "EIOX"
[[rule]]
id = "a"
action = "stalll"
)");
  ASSERT_EQ(errors.size(), 3U);
  EXPECT_NE(errors[0].find("p.toml:7:9: unknown errno 'EIOX'"), std::string::npos) << errors[0];
  EXPECT_NE(errors[1].find("p.toml:9:6: duplicate rule id 'a' (first at line 2)"),
            std::string::npos)
      << errors[1];
  EXPECT_NE(errors[2].find("p.toml:10:10: unknown action 'stalll'"), std::string::npos)
      << errors[2];
}

TEST(ParsePolicy, ContradictionsAndMisplacedParameters) {
  EXPECT_TRUE(AnyContains(Errors("[[rule]]\nops = [\"read\"]\naction = \"torn\"\n"),
                          "action 'torn' cannot act on read"));
  EXPECT_TRUE(AnyContains(
      Errors("[[rule]]\naction = \"errno\"\nerrno = \"EIO\"\ndelay = { fixed_ms = 1 }\n"),
      "'delay' configures action 'delay', but this rule's action is 'errno'"));
  EXPECT_TRUE(
      AnyContains(Errors("[[rule]]\naction = \"lose\"\nlose = 1\n"), "takes no parameters"));
  EXPECT_TRUE(AnyContains(
      Errors("[[rule]]\nid = \"a\"\naction = \"lie\"\n[[rule]]\nid = \"a\"\naction = \"lie\"\n"),
      "duplicate rule id 'a'"));
  EXPECT_TRUE(AnyContains(Errors("[[rule]]\nafter_rule = \"ghost\"\naction = \"lie\"\n"),
                          "p.toml:2:14: after_rule names 'ghost'"));
  EXPECT_TRUE(
      AnyContains(Errors("[[rule]]\naction = \"kill\"\nkill = { target = \"pids\", pids = [1] }\n"),
                  "pid 1 is never killed"));
  EXPECT_TRUE(AnyContains(Errors("[[rule]]\naction = \"delay\"\ndelay = { distribution = "
                                 "\"lognormal\", median_ms = 5 }\n"),
                          "delay needs sigma"));
  EXPECT_TRUE(AnyContains(Errors("[[rule]]\naction = \"errno\"\n"), "action 'errno' needs errno"));
  EXPECT_TRUE(AnyContains(Errors("[[rule]]\npath = \"/abs\"\naction = \"lie\"\n"),
                          "relative to the mount root"));
  EXPECT_TRUE(AnyContains(Errors("[capacity]\nerrno = \"EIO\"\n"), "ENOSPC or EDQUOT"));
  EXPECT_TRUE(
      AnyContains(Errors("[[rule]]\nwindow = [5, 1]\naction = \"lie\"\n"), "window is empty"));
}

TEST(ParsePolicy, CrashAction) {
  const Policy p = MustParse(R"(
[[rule]]
ops = ["fsync"]
path = "**/*.wal"
nth = 3
action = "crash"
[[rule]]
action = "crash"
crash = { model = "pp-strict", kill = "group" }
[[rule]]
action = "crash"
crash = { kill = "none" }
[[rule]]
action = "crash"
crash = { model = "reorder-3", kill = ["postgres", "pg_ctl"] }
)");
  ASSERT_EQ(p.rules.size(), 4U);
  const auto& plain = std::get<CrashAction>(p.rules[0].action);
  EXPECT_EQ(plain.model, "pp");
  EXPECT_EQ(plain.kill, CrashAction::Kill::kCaller);
  EXPECT_EQ(p.rules[0].match.nth, 3U);
  EXPECT_EQ(std::get<CrashAction>(p.rules[1].action).model, "pp-strict");
  EXPECT_EQ(std::get<CrashAction>(p.rules[1].action).kill, CrashAction::Kill::kGroup);
  EXPECT_EQ(std::get<CrashAction>(p.rules[2].action).kill, CrashAction::Kill::kNone);
  const auto& named = std::get<CrashAction>(p.rules[3].action);
  EXPECT_EQ(named.kill, CrashAction::Kill::kNamed);
  EXPECT_EQ(named.process_names, (std::vector<std::string>{"postgres", "pg_ctl"}));
  EXPECT_TRUE(p.rules[1].match.ops.all()) << "a crash acts on any op";
  EXPECT_NE(Explain(p).find("cuts the power"), std::string::npos) << Explain(p);
}

TEST(ParsePolicy, CrashErrorsHavePositions) {
  const auto errors = Errors(
      "[[rule]]\naction = \"crash\"\ncrash = { model = \"ppp\", when = 1 }\n"
      "[[rule]]\naction = \"crash\"\ncrash = { kill = \"all\" }\n"
      "[[rule]]\naction = \"crash\"\ncrash = { kill = [] }\n"
      "[[rule]]\naction = \"errno\"\nerrno = \"EIO\"\ncrash = {}\n");
  EXPECT_TRUE(AnyContains(errors, "p.toml:3:19: crash.model: unknown persistence model 'ppp'"))
      << ::testing::PrintToString(errors);
  EXPECT_TRUE(AnyContains(errors, "p.toml:3:33: unknown key 'when' in crash"))
      << ::testing::PrintToString(errors);
  EXPECT_TRUE(AnyContains(errors, "p.toml:6:18: crash.kill must be"))
      << ::testing::PrintToString(errors);
  EXPECT_TRUE(AnyContains(errors, "p.toml:9:18: crash.kill: an empty list kills no one"))
      << ::testing::PrintToString(errors);
  EXPECT_TRUE(AnyContains(errors, "'crash' configures action 'crash'"))
      << ::testing::PrintToString(errors);
}

TEST(ParsePolicy, ProbabilityEdgesAreAccepted) {
  EXPECT_TRUE(ParsePolicy("[[rule]]\nprobability = 0\naction = \"lie\"\n", "p").ok());
  EXPECT_TRUE(ParsePolicy("[[rule]]\nprobability = 1\naction = \"lie\"\n", "p").ok());
}

TEST(ParsePolicy, EveryShippedPolicyParses) {
  size_t checked = 0;
  for (const auto& entry : std::filesystem::directory_iterator(FAULTFS_SOURCE_DIR "/policies")) {
    if (entry.path().extension() != ".toml") continue;
    const auto out = ParsePolicyFile(entry.path());
    for (const auto& e : out.errors) ADD_FAILURE() << e.ToString();
    EXPECT_FALSE(Explain(*out.policy).empty());
    ++checked;
  }
  EXPECT_GE(checked, 8U);
}

TEST(ParsePolicy, BrokenPoliciesAreReportedNotCrashed) {
  size_t checked = 0;
  for (const auto& entry :
       std::filesystem::directory_iterator(FAULTFS_SOURCE_DIR "/tests/policy/broken")) {
    const auto out = ParsePolicyFile(entry.path());
    EXPECT_FALSE(out.ok()) << entry.path() << " should be rejected";
    for (const auto& e : out.errors) EXPECT_GT(e.line, 0U) << entry.path() << ": " << e.ToString();
    ++checked;
  }
  EXPECT_GE(checked, 6U);
}

TEST(ParsePolicy, RandomBytesNeverCrash) {
  std::mt19937_64 rng(12345);
  const std::string alphabet = "[]{}=\"',.#\n abc0123_-action=errnorule";
  for (int i = 0; i < 2000; ++i) {
    std::string text(rng() % 200, ' ');
    for (auto& c : text) c = alphabet[rng() % alphabet.size()];
    (void)ParsePolicy(text, "fuzz");
  }
  SUCCEED();
}

TEST(ParseBytes, Units) {
  EXPECT_EQ(*ParseBytes("4096"), 4096U);
  EXPECT_EQ(*ParseBytes("64 KiB"), 65536U);
  EXPECT_EQ(*ParseBytes("1.5 MiB"), 1572864U);
  EXPECT_EQ(*ParseBytes("1 GB"), 1000000000U);
  EXPECT_FALSE(ParseBytes("12 parsecs"));
  EXPECT_FALSE(ParseBytes("-1"));
  EXPECT_FALSE(ParseBytes("0.5"));
}

}  // namespace
}  // namespace faultfs::policy
