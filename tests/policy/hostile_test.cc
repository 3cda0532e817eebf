// Goal: a hostile policy cannot make faultfs spend unbounded memory or time, nor slip a value past
// validation: brace bombs, huge patterns and too many rules are refused with file:line:column,
// glob matching stays polynomial, every numeric key rejects nan, inf, out-of-range and narrowing
// values, and policy files must be regular files of at most 1 MiB (a FIFO, /dev/zero or
// /dev/urandom is refused at once). The limits are those documented in policies/README.md.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <future>
#include <string>
#include <thread>
#include <vector>

#include "faultfs/engine/engine.h"
#include "faultfs/policy/glob.h"
#include "faultfs/policy/parse.h"
#include "faultfs/policy/path_regex.h"

namespace faultfs::policy {
namespace {

using Clock = std::chrono::steady_clock;

std::string Repeat(const std::string& s, size_t n) {
  std::string out;
  for (size_t i = 0; i < n; ++i) out += s;
  return out;
}

std::string Rule(const std::string& keys) {
  return "[[rule]]\nops = [\"write\"]\n" + keys + "\naction = \"errno\"\nerrno = \"EIO\"\n";
}

// The errors of `text`, each as file:line:column: message ("" if it parsed).
std::string OnlyError(const std::string& text) {
  const auto out = ParsePolicy(text, "p.toml");
  std::string all;
  for (const auto& e : out.errors) all += (all.empty() ? "" : " | ") + e.ToString();
  return all;
}

double Seconds(Clock::time_point since) {
  return std::chrono::duration<double>(Clock::now() - since).count();
}

// --- 1. Expansion, pattern and rule limits --------------------------------------------------

TEST(HostilePolicy, BraceBombIsRefusedWithItsPosition) {
  // 244 bytes that once expanded to 2^40 patterns (20 groups took 325 MB, 40 passed 2 GiB).
  const std::string bomb = Rule("path = \"" + Repeat("{a,b}", 40) + "\"");
  const auto start = Clock::now();
  const std::string err = OnlyError(bomb);
  EXPECT_NE(err.find("p.toml:3:8: path '{a,b}"), std::string::npos) << err;
  EXPECT_NE(err.find("expand to more than 256 patterns"), std::string::npos) << err;
  EXPECT_LT(Seconds(start), 10) << "refused before expanding";
  EXPECT_NE(OnlyError(Rule("path = \"" + Repeat("{a,b}", 20) + "\"")).find("more than 256"),
            std::string::npos);
  EXPECT_NE(OnlyError(Rule("path = \"x{" + Repeat("a,", 256) + "a}\"")).find("more than 256"),
            std::string::npos);
}

TEST(HostilePolicy, ExpansionsWithinTheLimitsAreAccepted) {
  EXPECT_EQ(OnlyError(Rule("path = \"" + Repeat("{a,b}", 8) + "\"")), "") << "2^8 = 256 patterns";
  auto g = Glob::Compile(Repeat("{a,b}", 8));
  ASSERT_TRUE(g.ok());
  EXPECT_TRUE(g->Matches("abababab"));
  EXPECT_FALSE(g->Matches("abababac"));
  EXPECT_EQ(OnlyError(Rule("path = \"{" + Repeat("x,", 255) + "y}\"")), "");
}

TEST(HostilePolicy, ExpandedBytesAreBoundedPerGlobAndPerPolicy) {
  // 256 alternatives of ~300 bytes: 76 KiB once expanded, over the 64 KiB of one glob.
  const std::string wide = Repeat("w", 300) + Repeat("{a,b}", 8);
  EXPECT_NE(OnlyError(Rule("path = \"" + wide + "\"")).find("more than 64 KiB"), std::string::npos);
  // Each glob fits (16 x 4004 bytes: 63 KiB), but 70 of them pass the policy's 4 MiB.
  const std::string glob = Repeat("v", 4000) + Repeat("{a,b}", 4);
  std::string policy;
  for (int i = 0; i < 70; ++i) policy += Rule("path = \"" + glob + "\"");
  std::string err = OnlyError(policy);
  EXPECT_NE(err.find("the policy would have more than 4 MiB of glob patterns"), std::string::npos)
      << err.substr(0, 300);
  EXPECT_NE(err.find("p.toml:"), std::string::npos) << "with a position";
  // And 129 globs of 128 short patterns pass its 16,384 patterns.
  policy.clear();
  for (int i = 0; i < 129; ++i) policy += Rule("path = \"" + Repeat("{a,b}", 7) + "\"");
  err = OnlyError(policy);
  EXPECT_NE(err.find("p.toml:643:8: path '{a,b}"), std::string::npos) << err;
  EXPECT_NE(err.find("more than 16384 glob patterns"), std::string::npos) << err;
}

TEST(HostilePolicy, PatternLengthIsBounded) {
  EXPECT_EQ(OnlyError(Rule("path = \"" + std::string(4096, 'a') + "\"")), "");
  EXPECT_NE(OnlyError(Rule("path = \"" + std::string(4097, 'a') + "\"")).find("longer than 4096"),
            std::string::npos);
  EXPECT_NE(
      OnlyError(Rule("path_regex = \"" + std::string(4097, 'a') + "\"")).find("longer than 4096"),
      std::string::npos);
}

TEST(HostilePolicy, RegexMemoryIsBounded) {
  // 200 copies of a class of every letter, in UTF-8: 238,604 RE2 instructions (~4 MB, and 170 ms
  // to compile), which RE2's default budget of 8 MiB let through.
  auto big = PathRegex::Compile("\\pL{200}");
  ASSERT_FALSE(big.ok());
  EXPECT_NE(big.status().ToString().find("pattern too large"), std::string::npos)
      << big.status().ToString();
  EXPECT_NE(OnlyError(Rule("path_regex = \"\\\\pL{200}\"")).find("p.toml:3:14: path_regex"),
            std::string::npos);
  EXPECT_TRUE(PathRegex::Compile("db/[0-9]{1,20}\\.sst").ok());
  std::string many;
  for (int i = 0; i <= 64; ++i) many += Rule("path_regex = \"r" + std::to_string(i) + "\"");
  EXPECT_NE(OnlyError(many).find("more than 64 path_regex patterns"), std::string::npos);
}

TEST(HostilePolicy, RuleCountIsBounded) {
  std::string policy;
  for (int i = 0; i < 10'000; ++i) policy += "[[rule]]\naction = \"lose\"\n";
  const auto ok = ParsePolicy(policy, "p.toml");
  EXPECT_TRUE(ok.ok()) << (ok.errors.empty() ? "" : ok.errors[0].ToString());
  policy += "[[rule]]\naction = \"lose\"\n";
  EXPECT_NE(OnlyError(policy).find("p.toml:20001:1: the policy would have more than 10000 rules"),
            std::string::npos);
}

TEST(HostilePolicy, PolicyTextAndErrorListAreBounded) {
  const std::string big = "# " + std::string(1 << 20, 'x') + "\n";
  EXPECT_NE(OnlyError(big).find("larger than 1 MiB"), std::string::npos);
  // 5,000 broken rules: the report stops after 100 errors instead of listing them all.
  std::string broken;
  for (int i = 0; i < 5000; ++i) broken += "[[rule]]\naction = \"nope\"\n";
  const auto out = ParsePolicy(broken, "p.toml");
  EXPECT_EQ(out.errors.size(), 101U);
  EXPECT_NE(out.errors.back().message.find("too many errors"), std::string::npos);
}

TEST(HostilePolicy, ManyDoubleStarsMatchInPolynomialTime) {
  // Trying every split for each ** took ~C(110, 10) steps on this path: forever. ("z*" leaves
  // no literal prefix or suffix to reject the path early.)
  auto g = Glob::Compile(Repeat("**/", 10) + "z*");
  ASSERT_TRUE(g.ok());
  std::string deep;
  for (int i = 0; i < 100; ++i) deep += "a/";
  const auto start = Clock::now();
  EXPECT_FALSE(g->Matches(deep + "y"));
  EXPECT_TRUE(g->Matches(deep + "zz"));
  EXPECT_LT(Seconds(start), 10);
  auto mid = Glob::Compile("a/**/b/**/c");
  ASSERT_TRUE(mid.ok());
  EXPECT_TRUE(mid->Matches("a/b/c"));
  EXPECT_TRUE(mid->Matches("a/x/b/y/b/z/c"));
  EXPECT_FALSE(mid->Matches("a/x/c/b"));
  EXPECT_TRUE(Glob::Compile("**/x/**")->Matches("x"));
  EXPECT_TRUE(Glob::Compile("**/x/**")->Matches("p/x/q/r"));
  EXPECT_FALSE(Glob::Compile("**/x/**")->Matches("p/xx/q"));
}

// --- 3. Numeric values ----------------------------------------------------------------------

struct BadValue {
  std::string keys;  // the rule's keys (after ops, on line 3)
  std::string says;  // file:line:column and reason
  std::string action = "";
};

TEST(HostilePolicy, EveryNumericKeyRejectsNanInfRangeAndNarrowing) {
  auto rule = [](const BadValue& b) {
    if (b.action.empty()) return Rule(b.keys);
    return "[[rule]]\n" + b.keys + "\naction = \"" + b.action + "\"\n";
  };
  const std::vector<BadValue> cases = {
      {"probability = nan", "p.toml:3:15: probability must be a finite number, got nan"},
      {"probability = inf", "p.toml:3:15: probability must be a finite number, got inf"},
      {"probability = -inf", "must be a finite number"},
      {"pid = 4294967297", "p.toml:3:7: pid: 4294967297 is out of range (at most 2147483647)"},
      {"uid = 4294967296", "uid: 4294967296 is out of range (at most 4294967294)"},
      {"gid = [1, 4294967295]", "p.toml:3:11: gid: 4294967295 is out of range"},
      {"window = [0, nan]", "window end must be a finite number, got nan"},
      {"window = [inf, 1]", "window start must be a finite number"},
      {"flakey = { up_s = nan, down_s = 1 }", "flakey.up_s must be a finite number"},
      {"flakey = { up_s = 1, down_s = inf }", "flakey.down_s must be a finite number"},
      {"delay = { fixed_ms = 1e308 }",
       "p.toml:2:22: delay.fixed_ms must be at most 3600000 (one hour), got 1e+308", "delay"},
      {"delay = { fixed_ms = nan }", "delay.fixed_ms must be a finite number", "delay"},
      {"delay = { fixed_ms = 9223372036854775807 }", "must be at most 3600000", "delay"},
      {"delay = { fixed_ms = 120000, max_ms = 1000 }", "fixed_ms must not exceed max_ms", "delay"},
      {"delay = { distribution = \"normal\", mean_ms = 5, stddev_ms = inf }",
       "delay.stddev_ms must be a finite number", "delay"},
      {"delay = { distribution = \"lognormal\", median_ms = 1e9, sigma = 1 }",
       "delay.median_ms must be at most 3600000", "delay"},
      {"delay = { distribution = \"pareto\", scale_ms = 1, shape = nan }",
       "delay.shape must be a finite number", "delay"},
      {"delay = { distribution = \"uniform\", min_ms = 0, max_ms = 4e6 }",
       "delay.max_ms must be at most 3600000", "delay"},
      {"stall = { timeout_s = 9223372036854775807 }",
       "p.toml:2:23: stall.timeout_s must be at most 3600 (one hour), got 9.22337e+18", "stall"},
      {"stall = { timeout_s = nan }", "stall.timeout_s must be a finite number", "stall"},
      {"short = { fraction = nan }", "p.toml:2:22: short.fraction must be a finite number",
       "short"},
      {"short = { fraction = -inf }", "short.fraction must be a finite number", "short"},
      {"corrupt = { bits = 4294967297 }",
       "p.toml:2:20: corrupt.bits must be at most 4294967295, got 4294967297", "corrupt"},
      {"misdirect = { shift = 9223372036854775807 }",
       "p.toml:2:23: misdirect.shift must be within 1 PiB", "misdirect"},
      {"misdirect = { shift = -9223372036854775808 }", "misdirect.shift must be within 1 PiB",
       "misdirect"},
      {"misdirect = { shift = 9.223372036854775808e18 }", "must be a non-zero whole number",
       "misdirect"},
      {"errno = { EIO = 1e308 }", "p.toml:2:17: weight of EIO must be at most 1000000", "errno"},
      {"errno = { EIO = nan }", "weight of EIO must be a finite number", "errno"},
      {"kill = { target = \"pids\", pids = [4294967298] }", "kill.pids: 4294967298 is out of range",
       "kill"},
  };
  for (const auto& c : cases) {
    const std::string err = OnlyError(rule(c));
    EXPECT_NE(err.find(c.says), std::string::npos) << c.keys << "\n  got: " << err;
  }
}

TEST(HostilePolicy, NumericValuesWithinRangeAreAccepted) {
  const std::vector<BadValue> good = {
      {"probability = 0.5", ""},
      {"probability = 1", ""},
      {"pid = 2147483647", ""},
      {"uid = 4294967294", ""},
      {"window = [0, 1e12]", ""},
      {"delay = { fixed_ms = 3600000 }", "", "delay"},
      {"delay = { fixed_ms = 120000 }", "", "delay"},
      {"stall = { timeout_s = 3600 }", "", "stall"},
      {"short = { fraction = 0.999 }", "", "short"},
      {"corrupt = { bits = 4294967295 }", "", "corrupt"},
      {"misdirect = { shift = -4096 }", "", "misdirect"},
      {"misdirect = { shift = 1125899906842624 }", "", "misdirect"},
      {"errno = { EIO = 1000000, ENOSPC = 0.5 }", "", "errno"},
  };
  for (const auto& g : good) {
    const std::string text = "[[rule]]\n" + g.keys + "\naction = \"" +
                             (g.action.empty() ? "errno" : g.action) + "\"\n" +
                             (g.action.empty() ? "errno = \"EIO\"\n" : "");
    EXPECT_EQ(OnlyError(text), "") << g.keys;
  }
  const auto fixed =
      ParsePolicy("[[rule]]\naction = \"delay\"\ndelay = { fixed_ms = 120000 }\n", "p");
  ASSERT_TRUE(fixed.ok());
  EXPECT_EQ(std::get<DelayAction>(fixed.policy->rules[0].action).distribution.max_ms, 120000)
      << "a fixed delay is what it says, not cut to the 60 s default bound of random draws";
}

// --- What the engine does with extreme (valid) values ---------------------------------------

engine::OpContext Write(uint64_t size) {
  engine::OpContext c;
  c.op = Op::kWrite;
  c.path = "f";
  c.mode = S_IFREG | 0644;
  c.size = size;
  return c;
}

std::unique_ptr<engine::FaultEngine> Engine(const std::string& toml) {
  auto out = ParsePolicy(toml, "p.toml");
  EXPECT_TRUE(out.ok()) << (out.errors.empty() ? "" : out.errors[0].ToString());
  auto e = std::make_unique<engine::FaultEngine>(7);
  EXPECT_TRUE(e->Load(out.ok() ? *out.policy : Policy{}).ok());
  return e;
}

TEST(HostileEngine, EveryHoldIsCappedAtOneHour) {
  constexpr auto kHour = std::chrono::hours(1);
  // 1 byte/s and a 1 GiB write: 34 years, past int64 nanoseconds once the debt grows.
  auto bw =
      Engine("[[rule]]\naction = \"bandwidth\"\nbandwidth = { bytes_per_s = 1, burst = 0 }\n");
  for (int i = 0; i < 3; ++i) EXPECT_EQ(bw->Decide(Write(1ULL << 30)).delay, kHour);
  // Three delays of an hour each add up to one hour, not three.
  std::string three;
  for (int i = 0; i < 3; ++i)
    three += "[[rule]]\naction = \"delay\"\ndelay = { fixed_ms = 3600000 }\n";
  EXPECT_EQ(Engine(three)->Decide(Write(1)).delay, kHour);
  // median 0 x exp(sigma z) with a huge sigma is 0 x inf: nan, which is no delay at all.
  auto wild = Engine(
      "[[rule]]\naction = \"delay\"\n"
      "delay = { distribution = \"lognormal\", median_ms = 0, sigma = 1e300, max_ms = 5 }\n");
  for (int i = 0; i < 50; ++i) {
    const auto d = wild->Decide(Write(1)).delay;
    EXPECT_GE(d.count(), 0);
    EXPECT_LE(d, std::chrono::milliseconds(5));
  }
}

TEST(HostileEngine, TheCostliestPolicyWithinTheLimitsCompilesInBoundedTime) {
  // Every limit reached at once: 64 regexes just under RE2's budget (~40 ms each to compile),
  // 16,384 glob patterns, 10,000 rules. Parsing checks all of it, and the engine compiles it again.
  std::string text;
  for (int i = 0; i < 64; ++i) text += Rule("path_regex = \"\\\\pL{50}\"");
  for (int i = 0; i < 64; ++i)
    text += Rule("path = \"" + std::to_string(i) + Repeat("{a,b}", 8) + "\"");
  for (int i = 128; i < 10'000; ++i) text += "[[rule]]\naction = \"lose\"\n";
  ASSERT_LE(text.size(), 1U << 20);
  const auto start = Clock::now();
  auto out = ParsePolicy(text, "p.toml");
  ASSERT_TRUE(out.ok()) << out.errors[0].ToString();
  const double parsed = Seconds(start);
  engine::FaultEngine e(7);
  ASSERT_TRUE(e.Load(std::move(*out.policy)).ok());
  const double total = Seconds(start);
  std::printf("the costliest policy: parsed in %.2f s, parsed and compiled in %.2f s\n", parsed,
              total);
  EXPECT_LT(total, 120) << "bounded by the limits, whatever the machine's load";
}

TEST(HostileEngine, TheLivePolicyKeepsTheLimitsAndChangesAllOrNothing) {
  engine::FaultEngine e(7);
  auto rules = [](int from, int n) {
    std::vector<::faultfs::policy::Rule> out;
    for (int i = from; i < from + n; ++i) {
      ::faultfs::policy::Rule r;
      r.id = "r" + std::to_string(i);
      r.action = LostWriteAction{};
      r.match.ops.set(static_cast<size_t>(Op::kWrite));
      out.push_back(r);
    }
    return out;
  };
  ASSERT_TRUE(e.AddRules(rules(0, 9'999)).ok());
  const Status over = e.AddRules(rules(9'999, 2));
  EXPECT_NE(over.ToString().find("more than 10000 rules"), std::string::npos) << over.ToString();
  EXPECT_EQ(e.Stats().size(), 9'999U) << "neither of the two went in";
  EXPECT_TRUE(e.AddRules(rules(9'999, 1)).ok());
  // A duplicate id in the middle of a batch leaves the policy as it was.
  engine::FaultEngine d(7);
  auto batch = rules(0, 3);
  batch.push_back(batch[0]);
  EXPECT_FALSE(d.AddRules(batch).ok());
  EXPECT_EQ(d.Stats().size(), 0U);
}

// --- 2. Policy files ------------------------------------------------------------------------

class PolicyFile : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_NE(mkdtemp(dir_.data()), nullptr); }
  void TearDown() override {
    for (const char* name : {"p.toml", "fifo", "zero", "urandom", "big.toml", "link.toml", "d"}) {
      (void)!unlink((dir_ + "/" + name).c_str());
    }
    (void)!rmdir((dir_ + "/d").c_str());
    (void)!rmdir(dir_.c_str());
  }
  std::string Path(const std::string& name) const { return dir_ + "/" + name; }
  void Write(const std::string& name, const std::string& text) const {
    const int fd = open(Path(name).c_str(), O_CREAT | O_TRUNC | O_WRONLY, 0644);
    ASSERT_GE(fd, 0);
    ASSERT_EQ(write(fd, text.data(), text.size()), static_cast<ssize_t>(text.size()));
    close(fd);
  }
  // The error of ParsePolicyFile(name), which must come back within 20 s (a reader stuck on a
  // FIFO is set free by opening it for writing, so the test ends either way).
  std::string FileError(const std::string& name) const {
    auto result = std::make_shared<std::promise<std::string>>();
    auto answer = result->get_future();
    std::thread([result, path = Path(name)] {
      const auto out = ParsePolicyFile(path);
      result->set_value(out.ok() ? "" : out.errors[0].ToString());
    }).detach();
    if (answer.wait_for(std::chrono::seconds(20)) != std::future_status::ready) {
      const int unblock = open(Path(name).c_str(), O_WRONLY | O_NONBLOCK);
      if (unblock >= 0) close(unblock);
      ADD_FAILURE() << name << ": reading the policy did not return";
      return "(hung)";
    }
    return answer.get();
  }
  std::string dir_ = ::testing::TempDir() + "policy-file-XXXXXX";
};

TEST_F(PolicyFile, FifoIsRefusedWithoutBlocking) {
  ASSERT_EQ(mkfifo(Path("fifo").c_str(), 0644), 0);
  const std::string err = FileError("fifo");
  EXPECT_NE(err.find("it is a FIFO; a policy must be a regular file"), std::string::npos) << err;
}

TEST_F(PolicyFile, DevicesAreRefusedThroughSymlinks) {
  ASSERT_EQ(symlink("/dev/zero", Path("zero").c_str()), 0);
  ASSERT_EQ(symlink("/dev/urandom", Path("urandom").c_str()), 0);
  EXPECT_NE(FileError("zero").find("it is a character device"), std::string::npos);
  EXPECT_NE(FileError("urandom").find("it is a character device"), std::string::npos);
  ASSERT_EQ(mkdir(Path("d").c_str(), 0755), 0);
  EXPECT_NE(FileError("d").find("it is a directory"), std::string::npos);
}

TEST_F(PolicyFile, SizeIsCappedAtOneMiB) {
  Write("big.toml", "# " + std::string((1 << 20) - 2, 'x'));
  EXPECT_EQ(FileError("big.toml"), "") << "exactly 1 MiB is accepted";
  Write("big.toml", "# " + std::string(1 << 20, 'x'));
  const std::string err = FileError("big.toml");
  EXPECT_NE(err.find("larger than 1 MiB (1048578 bytes)"), std::string::npos) << err;
}

TEST_F(PolicyFile, RegularFilesAndSymlinksToThemAreRead) {
  Write("p.toml", Rule("path = \"x\""));
  ASSERT_EQ(symlink(Path("p.toml").c_str(), Path("link.toml").c_str()), 0);
  EXPECT_EQ(FileError("p.toml"), "");
  EXPECT_EQ(FileError("link.toml"), "");
  EXPECT_NE(FileError("missing.toml").find("cannot read the policy: No such file"),
            std::string::npos);
}

}  // namespace
}  // namespace faultfs::policy
