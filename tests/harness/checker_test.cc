// Goal: the checker finds every kind of violation in a synthetic history and final state (lost
// acknowledged append, two values at one index, stale, uncommitted and damaged reads, double
// apply, divergence), passes a correct run, tells unavailable from unsafe, and writes a history
// that parses as EDN and a result that dumps as JSON.
#include "faultfs/harness/checker.h"

#include <gtest/gtest.h>

#include "edn_reader.h"

namespace faultfs::harness {
namespace {

std::string V(int64_t client, int64_t req) {
  return MakeValue(client, req, "text" + std::to_string(req));
}

class HistoryBuilder {
 public:
  const History& history() const { return h_; }
  void Append(int64_t process, const std::string& value, int64_t index) {
    Event(OpType::kInvoke, process, OpF::kAppend, 0, value);
    Event(OpType::kOk, process, OpF::kAppend, index, value);
  }
  void AppendEnds(OpType type, int64_t process, const std::string& value) {
    Event(OpType::kInvoke, process, OpF::kAppend, 0, value);
    Event(type, process, OpF::kAppend, 0, value, "timeout");
  }
  void Read(int64_t process, int64_t index, const std::string& value) {
    Event(OpType::kInvoke, process, OpF::kRead, index, "");
    Event(OpType::kOk, process, OpF::kRead, index, value);
  }
  void Event(OpType type, int64_t process, OpF f, int64_t index, std::string value,
             std::string error = "") {
    h_.push_back({static_cast<int64_t>(h_.size()), time_ += 1000, type, process, f, index,
                  std::move(value), std::move(error)});
  }

 private:
  History h_;
  int64_t time_ = 0;
};

LogEntryState Entry(const std::string& value, uint64_t term = 1) {
  const auto parsed = VerifyValue(value);
  return {true, true, term, parsed ? parsed->client : -1, parsed ? parsed->req : -1, value};
}

// `nodes` nodes that all hold `values` at 1, 2, ...
FinalState Converged(int nodes, const std::vector<std::string>& values) {
  FinalState state;
  for (int n = 0; n < nodes; ++n) {
    NodeLogState node;
    node.node = n;
    for (const std::string& v : values) node.entries.push_back(Entry(v));
    state.nodes.push_back(node);
  }
  return state;
}

uint64_t CountOf(const CheckResult& r, const std::string& kind) {
  auto it = r.violation_counts.find(kind);
  return it == r.violation_counts.end() ? 0 : it->second;
}

// A correct run: appends acknowledged and read back, an unknown append that made it, a failed
// one that did not.
HistoryBuilder CorrectRun() {
  HistoryBuilder b;
  for (int64_t i = 1; i <= 5; ++i) b.Append(i % 2, V(i % 2, i), i);
  b.Read(0, 3, V(1, 3));
  b.AppendEnds(OpType::kInfo, 1, V(1, 6));
  b.AppendEnds(OpType::kFail, 3, V(3, 1));
  b.Read(3, 1, V(1, 1));
  return b;
}
const std::vector<std::string> kCorrectLog = {V(1, 1), V(0, 2), V(1, 3), V(0, 4), V(1, 5), V(1, 6)};

TEST(Checker, ACorrectRunPasses) {
  const CheckResult r =
      Check(CorrectRun().history(), Converged(3, kCorrectLog), ClientCounters{.retries = 7});
  EXPECT_EQ(r.verdict, Verdict::kCorrect) << CheckResultJson(r).dump(2);
  EXPECT_TRUE(r.violations.empty());
  EXPECT_EQ(r.committed_horizon, 5);
  EXPECT_EQ(r.ops.at("append").ok, 5u);
  EXPECT_EQ(r.ops.at("append").info, 1u);
  EXPECT_EQ(r.ops.at("append").fail, 1u);
  EXPECT_EQ(r.ops.at("read").ok, 2u);
  EXPECT_EQ(r.clients.retries, 7u);
  EXPECT_EQ(VerdictExitCode(r.verdict), 0);
}

TEST(Checker, FindsALostAcknowledgedAppend) {
  HistoryBuilder b;
  b.Append(0, V(0, 1), 1);
  b.AppendEnds(OpType::kInfo, 1, V(1, 1));
  // Every node has the unknown append where the acknowledged one was.
  const CheckResult r = Check(b.history(), Converged(3, {V(1, 1)}));
  EXPECT_EQ(r.verdict, Verdict::kUnsafe);
  EXPECT_EQ(CountOf(r, "lost_append"), 1u);
  ASSERT_FALSE(r.violations.empty());
  EXPECT_EQ(r.violations[0].index, 1);
  EXPECT_EQ(r.violations[0].values, std::vector<std::string>{V(0, 1)});
  EXPECT_EQ(r.violations[0].op, 1);
  EXPECT_EQ(VerdictExitCode(r.verdict), 1);
}

TEST(Checker, FindsTwoValuesCommittedAtOneIndex) {
  HistoryBuilder b;
  b.Append(0, V(0, 1), 1);
  b.Append(1, V(1, 1), 1);
  const CheckResult r = Check(b.history(), Converged(3, {V(0, 1)}));
  EXPECT_EQ(CountOf(r, "conflicting_values"), 1u);
  EXPECT_EQ(CountOf(r, "lost_append"), 1u);  // the second one is nowhere
  EXPECT_EQ(r.verdict, Verdict::kUnsafe);
}

TEST(Checker, FindsReadsOfUncommittedValues) {
  HistoryBuilder b;
  b.Append(0, V(0, 1), 1);
  b.AppendEnds(OpType::kFail, 1, V(1, 1));
  b.AppendEnds(OpType::kInfo, 2, V(2, 1));
  b.Read(3, 2, V(1, 1));  // its append failed
  b.Read(3, 2, V(2, 1));  // its append is unknown, and no node holds it at 2
  b.Read(3, 2, V(9, 9));  // nobody ever appended it
  const CheckResult r = Check(b.history(), Converged(3, {V(0, 1), V(0, 7)}));
  EXPECT_EQ(CountOf(r, "uncommitted_read"), 3u) << CheckResultJson(r).dump(2);
  EXPECT_EQ(r.verdict, Verdict::kUnsafe);
}

TEST(Checker, AnUnknownAppendThatMadeItMayBeRead) {
  HistoryBuilder b;
  b.Append(0, V(0, 1), 1);
  b.AppendEnds(OpType::kInfo, 1, V(1, 1));
  b.Read(2, 2, V(1, 1));
  const CheckResult r = Check(b.history(), Converged(3, {V(0, 1), V(1, 1)}));
  EXPECT_EQ(r.verdict, Verdict::kCorrect) << CheckResultJson(r).dump(2);
}

TEST(Checker, FindsAReadOfADamagedValue) {
  HistoryBuilder b;
  b.Append(0, V(0, 1), 1);
  std::string damaged = V(0, 1);
  damaged[4] ^= 0x20;
  b.Read(1, 1, damaged);
  const CheckResult r = Check(b.history(), Converged(3, {V(0, 1)}));
  EXPECT_EQ(CountOf(r, "damaged_read"), 1u);
  EXPECT_EQ(CountOf(r, "conflicting_values"), 0u);  // a damaged copy is not a second value
  EXPECT_EQ(r.verdict, Verdict::kUnsafe);
}

TEST(Checker, FindsAStaleRead) {
  HistoryBuilder b;
  b.AppendEnds(OpType::kInfo, 1, V(1, 1));
  b.Append(0, V(0, 1), 1);  // acknowledged at 1 ...
  b.Read(2, 1, V(1, 1));    // ... then a read there returns the other value
  FinalState state = Converged(3, {V(0, 1)});
  state.nodes[2].entries[0] = Entry(V(1, 1));
  const CheckResult r = Check(b.history(), state);
  EXPECT_EQ(CountOf(r, "stale_read"), 1u) << CheckResultJson(r).dump(2);
  EXPECT_EQ(r.verdict, Verdict::kUnsafe);
}

TEST(Checker, FindsADoubleApply) {
  HistoryBuilder in_log;
  in_log.Append(0, V(0, 1), 1);
  const CheckResult r1 = Check(in_log.history(), Converged(3, {V(0, 1), V(1, 1), V(0, 1)}));
  EXPECT_EQ(CountOf(r1, "double_apply"), 1u) << CheckResultJson(r1).dump(2);
  EXPECT_EQ(r1.verdict, Verdict::kUnsafe);

  HistoryBuilder observed;
  observed.Append(0, V(0, 1), 1);
  observed.Read(1, 2, V(0, 1));  // the same request seen at a second index
  const CheckResult r2 = Check(observed.history(), Converged(3, {V(0, 1), V(0, 1)}));
  EXPECT_GE(CountOf(r2, "double_apply"), 1u);
}

TEST(Checker, LeadersNoOpsAreNotRequests) {
  HistoryBuilder b;
  b.Append(0, V(0, 1), 2);
  const LogEntryState noop{true, true, 1, -1, 1, ""};
  FinalState state = Converged(3, {});
  for (NodeLogState& n : state.nodes) n.entries = {noop, Entry(V(0, 1)), noop};
  const CheckResult r = Check(b.history(), state);
  EXPECT_EQ(r.verdict, Verdict::kCorrect) << CheckResultJson(r).dump(2);
}

TEST(Checker, FindsDivergentReplicas) {
  HistoryBuilder b;
  b.Append(0, V(0, 1), 1);
  b.Append(0, V(0, 2), 2);
  FinalState state = Converged(3, {V(0, 1), V(0, 2)});
  state.nodes[1].entries[0] = Entry(V(5, 5), 2);
  const CheckResult r = Check(b.history(), state);
  EXPECT_EQ(CountOf(r, "divergence"), 1u);
  EXPECT_EQ(CountOf(r, "lost_append"), 0u);  // the other two still hold it
  EXPECT_EQ(r.verdict, Verdict::kUnsafe);
}

TEST(Checker, NoProgressIsUnavailableNotUnsafe) {
  HistoryBuilder b;
  b.AppendEnds(OpType::kFail, 0, V(0, 1));
  b.AppendEnds(OpType::kInfo, 1, V(1, 1));
  const CheckResult r = Check(b.history(), Converged(3, {}));
  EXPECT_EQ(r.verdict, Verdict::kUnavailable);
  EXPECT_EQ(r.reasons, std::vector<std::string>{"no append was acknowledged"});
  EXPECT_EQ(VerdictExitCode(r.verdict), 3);
}

TEST(Checker, ReplicasThatDidNotConvergeAreUnavailable) {
  FinalState state = Converged(3, kCorrectLog);
  state.nodes[2].entries.resize(2);            // lags
  state.nodes[1].entries[0].verified = false;  // still damaged
  const CheckResult r = Check(CorrectRun().history(), state);
  EXPECT_EQ(r.verdict, Verdict::kUnavailable) << CheckResultJson(r).dump(2);
  EXPECT_EQ(r.unconverged_slots, 4u);
  EXPECT_EQ(r.reasons.size(), 2u);

  FinalState unread = Converged(3, kCorrectLog);
  unread.nodes[0] = {0, false, "no such file", {}};
  EXPECT_EQ(Check(CorrectRun().history(), unread).verdict, Verdict::kUnavailable);

  // The same lag beside a lost append is unsafe: safety comes first.
  HistoryBuilder lost = CorrectRun();
  lost.Append(4, V(4, 1), 5);
  EXPECT_EQ(Check(lost.history(), state).verdict, Verdict::kUnsafe);
}

TEST(Checker, ExamplesAreCappedButCountsAreNot) {
  HistoryBuilder b;
  for (int64_t i = 1; i <= 25; ++i) b.Append(0, V(0, i), i);
  const CheckResult r = Check(b.history(), Converged(3, {}));
  EXPECT_EQ(CountOf(r, "lost_append"), 25u);
  EXPECT_EQ(r.violations.size(), CheckResult::kMaxExamples);
}

TEST(Checker, HistoryIsEdnOneMapPerLine) {
  HistoryBuilder b = CorrectRun();
  b.Read(2, 1, std::string("a\"b\\c\nd\0e\xff", 11));  // a value as damaged as can be
  const std::string edn = HistoryEdn(b.history());
  std::vector<testing::Edn> maps;
  size_t start = 0;
  for (size_t end; (end = edn.find('\n', start)) != std::string::npos; start = end + 1) {
    auto parsed = testing::ParseEdn(edn.substr(start, end - start));
    ASSERT_TRUE(parsed) << "not EDN: " << edn.substr(start, end - start);
    maps.push_back(*parsed);
  }
  ASSERT_EQ(maps.size(), b.history().size());
  for (size_t i = 0; i < maps.size(); ++i) {
    const HistoryEvent& e = b.history()[i];
    const testing::Edn& m = maps[i];
    EXPECT_EQ(m.at(":index").integer, e.index);
    EXPECT_EQ(m.at(":time").integer, e.time_ns);
    EXPECT_EQ(m.at(":type").text, ":" + std::string(OpTypeName(e.type)));
    EXPECT_EQ(m.at(":process").integer, e.process);
    EXPECT_EQ(m.at(":f").text, ":" + std::string(OpFName(e.f)));
  }
  EXPECT_EQ(maps[1].at(":value").items.at(0).integer, 1);  // append ok: [index value]
  EXPECT_EQ(maps[1].at(":value").items.at(1).text, V(1, 1));
  EXPECT_EQ(maps[10].at(":value").integer, 3);     // read invoke: the index
  EXPECT_EQ(maps[11].at(":value").text, V(1, 3));  // read ok: the value
  EXPECT_EQ(maps[13].at(":error").text, "timeout");
  EXPECT_EQ(maps.back().at(":value").text, std::string("a\"b\\c\nd\0e\xff", 11));
}

TEST(Checker, ResultIsJsonEvenWithDamagedBytes) {
  HistoryBuilder b;
  b.Append(0, V(0, 1), 1);
  b.Read(1, 1, std::string("\xff\xfe broken", 9));
  const CheckResult r = Check(b.history(), Converged(3, {V(0, 1)}));
  const nlohmann::json j = CheckResultJson(r);
  const std::string text = j.dump();  // throws on invalid UTF-8
  const nlohmann::json back = nlohmann::json::parse(text);
  EXPECT_EQ(back["verdict"], "unsafe");
  EXPECT_EQ(back["exit_code"], 1);
  EXPECT_EQ(back["violation_counts"]["damaged_read"], 1);
  EXPECT_EQ(back["ops"]["append"]["ok"], 1);
  EXPECT_EQ(back["violations"][0]["values"][0], "\\xff\\xfe broken");
}

}  // namespace
}  // namespace faultfs::harness
