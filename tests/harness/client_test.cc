// Goal: the clients behave as Jepsen processes against fake nodes: they follow leader hints,
// retry busy nodes with the same request, end unknown appends as :info under a new process
// number, never reuse a process after :info, notice damaged values, and stop promptly; and their
// backoff is capped exponential with full jitter.
#include "faultfs/harness/client.h"

#include <gtest/gtest.h>

#include <map>
#include <set>

#include "fake_node.h"
#include "faultfs/core/random.h"
#include "faultfs/harness/event_loop.h"

namespace faultfs::harness {
namespace {

using namespace std::chrono_literals;
using testing::FakeNode;
using testing::WaitFor;

TEST(Backoff, CeilingDoublesUpToTheCapWithoutOverflow) {
  const BackoffPolicy p{10ms, 500ms};
  EXPECT_EQ(BackoffCeiling(p, 0), 10ms);
  EXPECT_EQ(BackoffCeiling(p, 1), 20ms);
  EXPECT_EQ(BackoffCeiling(p, 5), 320ms);
  EXPECT_EQ(BackoffCeiling(p, 6), 500ms);
  EXPECT_EQ(BackoffCeiling(p, 1000), 500ms);
  EXPECT_EQ(BackoffCeiling(BackoffPolicy{0ms, 1s}, 30), 0ms);
}

TEST(Backoff, DelaysAreFullJitterUniformBelowTheCeiling) {
  const BackoffPolicy p{1ms, 64ms};
  Rng rng(5);
  for (int attempt : {0, 3, 6, 9}) {
    const double ceiling = static_cast<double>(BackoffCeiling(p, attempt).count());
    double sum = 0, low = ceiling, high = 0;
    const int n = 20000;
    for (int i = 0; i < n; ++i) {
      const auto d = static_cast<double>(BackoffDelay(p, attempt, rng.Next()).count());
      ASSERT_GE(d, 0);
      ASSERT_LE(d, ceiling);
      sum += d;
      low = std::min(low, d);
      high = std::max(high, d);
    }
    EXPECT_NEAR(sum / n / ceiling, 0.5, 0.02) << "attempt " << attempt;  // uniform: mean at half
    EXPECT_LT(low, 0.01 * ceiling);   // full jitter reaches down to 0 ...
    EXPECT_GT(high, 0.99 * ceiling);  // ... and up to the ceiling
  }
}

TEST(Values, CarryTheirChecksum) {
  const std::string v = MakeValue(3, 17, "hello");
  EXPECT_EQ(v.substr(0, 11), "3/17/hello|");
  auto parsed = VerifyValue(v);
  ASSERT_TRUE(parsed);
  EXPECT_EQ(parsed->client, 3);
  EXPECT_EQ(parsed->req, 17);
  for (size_t i = 0; i < v.size(); ++i) {
    std::string damaged = v;
    damaged[i] ^= 0x04;
    EXPECT_FALSE(VerifyValue(damaged)) << "byte " << i;
  }
  EXPECT_FALSE(VerifyValue(v.substr(0, v.size() - 1)));
  EXPECT_FALSE(VerifyValue(""));
}

// A leader's client port: appends (deduplicated by client and req), reads of what it holds.
struct FakeLeader {
  std::map<std::pair<int64_t, int64_t>, int64_t> index_of;
  std::vector<std::string> log;
  std::map<std::pair<int64_t, int64_t>, std::set<std::string>> values_sent;  // per (client, req)
  int busy_first = 0;  // answer busy to each request's first attempts
  std::map<std::pair<int64_t, int64_t>, int> attempts;
  std::function<std::string(std::string)> read_filter = [](std::string v) { return v; };

  std::optional<nlohmann::json> operator()(const nlohmann::json& r) {
    const auto key = std::make_pair(r["client"].get<int64_t>(), r["req"].get<int64_t>());
    if (++attempts[key] <= busy_first) return Reply(r, "busy");
    if (r["t"] == "c_read") {
      const auto i = r["index"].get<int64_t>();
      nlohmann::json reply = Reply(r, "ok");
      reply["index"] = i;
      reply["value"] = read_filter(log.at(static_cast<size_t>(i - 1)));
      return reply;
    }
    values_sent[key].insert(r["value"].get<std::string>());
    auto [it, fresh] = index_of.try_emplace(key, static_cast<int64_t>(log.size()) + 1);
    if (fresh) log.push_back(r["value"].get<std::string>());
    nlohmann::json reply = Reply(r, "ok");
    reply["index"] = it->second;
    return reply;
  }
  static nlohmann::json Reply(const nlohmann::json& r, const std::string& status) {
    return {{"t", "c_reply"}, {"req", r["req"]}, {"status", status}};
  }
};

// Shared FakeLeader state behind a FakeNode (the node calls its handler under its own lock).
FakeNode::Handler Serve(std::shared_ptr<FakeLeader> leader) {
  return [leader](const nlohmann::json& r) { return (*leader)(r); };
}

FakeNode::Handler NotLeader(std::optional<int> hint) {
  return [hint](const nlohmann::json& r) -> std::optional<nlohmann::json> {
    nlohmann::json reply = FakeLeader::Reply(r, "not_leader");
    if (hint) reply["leader"] = *hint;
    return reply;
  };
}

// Every process alternates invoke / completion, and none invokes again after an :info.
void ExpectWellFormed(const History& history) {
  std::map<int64_t, const HistoryEvent*> open;
  std::set<int64_t> retired;
  for (size_t i = 0; i < history.size(); ++i) {
    const HistoryEvent& e = history[i];
    EXPECT_EQ(e.index, static_cast<int64_t>(i));
    if (i > 0) {
      EXPECT_GE(e.time_ns, history[i - 1].time_ns);
    }
    if (e.type == OpType::kInvoke) {
      EXPECT_FALSE(retired.count(e.process)) << "process " << e.process << " invoked after :info";
      EXPECT_FALSE(open.count(e.process)) << "process " << e.process << " has two operations open";
      open[e.process] = &e;
      continue;
    }
    ASSERT_TRUE(open.count(e.process)) << "a completion without an invoke at " << i;
    EXPECT_EQ(open[e.process]->f, e.f);
    open.erase(e.process);
    if (e.type == OpType::kInfo) retired.insert(e.process);
  }
}

size_t CountOf(const History& h, OpType type, OpF f) {
  return static_cast<size_t>(std::count_if(
      h.begin(), h.end(), [&](const HistoryEvent& e) { return e.type == type && e.f == f; }));
}

class ClientTest : public ::testing::Test {
 protected:
  std::unique_ptr<Clients> Start(std::vector<std::string> nodes, int processes,
                                 double read_probability = 0.25) {
    ClientOptions o;
    o.nodes = std::move(nodes);
    o.seed = 3;
    o.processes = processes;
    o.attempt_timeout = 200ms;
    o.op_timeout = 1000ms;
    o.backoff = {1ms, 20ms};
    o.read_probability = read_probability;
    auto clients = Clients::Start(loop_.context(), o);
    EXPECT_TRUE(clients.ok()) << clients.status().ToString();
    return std::move(clients).value();
  }
  static History StopAndWait(Clients& clients) {
    clients.Stop();
    EXPECT_TRUE(clients.Wait(20s));
    return clients.history();
  }
  EventLoop loop_;
};

TEST_F(ClientTest, FollowsTheLeaderHintAndReadsBackWhatWasAcknowledged) {
  auto leader = std::make_shared<FakeLeader>();
  FakeNode n0(NotLeader(2)), n1(NotLeader(2)), n2(Serve(leader));
  auto clients = Start({n0.address(), n1.address(), n2.address()}, 4);
  ASSERT_TRUE(WaitFor([&] {
    const History h = clients->history();
    return CountOf(h, OpType::kOk, OpF::kAppend) >= 30 && CountOf(h, OpType::kOk, OpF::kRead) >= 5;
  }));
  const History h = StopAndWait(*clients);
  ExpectWellFormed(h);
  EXPECT_EQ(CountOf(h, OpType::kInfo, OpF::kAppend) + CountOf(h, OpType::kFail, OpF::kAppend), 0u);
  std::map<int64_t, std::string> acked;
  for (const HistoryEvent& e : h) {
    if (e.type != OpType::kOk) continue;
    EXPECT_TRUE(VerifyValue(e.value)) << e.value;
    if (e.f == OpF::kAppend)
      acked[e.log_index] = e.value;
    else
      EXPECT_EQ(acked.at(e.log_index), e.value) << "read of index " << e.log_index;  // acked before
  }
  const ClientCounters c = clients->counters();
  EXPECT_GE(c.not_leader, 1u);
  EXPECT_LE(c.not_leader, 4u) << "each process should need one hint, then stay with the leader";
  EXPECT_EQ(c.processes, 4u);
}

TEST_F(ClientTest, RetriesABusyNodeWithTheSameRequest) {
  auto leader = std::make_shared<FakeLeader>();
  leader->busy_first = 3;
  FakeNode node(Serve(leader));
  auto clients = Start({node.address()}, 2, 0.0);
  ASSERT_TRUE(
      WaitFor([&] { return CountOf(clients->history(), OpType::kOk, OpF::kAppend) >= 10; }));
  const History h = StopAndWait(*clients);
  ExpectWellFormed(h);
  const size_t ok = CountOf(h, OpType::kOk, OpF::kAppend);
  const ClientCounters c = clients->counters();
  EXPECT_GE(c.busy, 3 * ok);
  EXPECT_GE(c.retries, 3 * ok);
  for (const auto& [key, values] : leader->values_sent)
    EXPECT_EQ(values.size(), 1u) << "a retry changed the value";
  EXPECT_EQ(leader->log.size(), leader->index_of.size());
}

TEST_F(ClientTest, AnUnansweredAppendIsInfoAndItsProcessIsReplaced) {
  FakeNode silent([](const nlohmann::json&) { return std::optional<nlohmann::json>(); });
  auto clients = Start({silent.address()}, 2, 0.0);
  ASSERT_TRUE(
      WaitFor([&] { return CountOf(clients->history(), OpType::kInfo, OpF::kAppend) >= 4; }));
  const History h = StopAndWait(*clients);
  ExpectWellFormed(h);
  std::set<int64_t> processes;
  for (const HistoryEvent& e : h) {
    processes.insert(e.process);
    if (e.type != OpType::kInvoke) {
      EXPECT_EQ(e.type, OpType::kInfo);
      EXPECT_EQ(e.error, "timeout");
    }
  }
  EXPECT_GE(processes.size(), 4u);
  EXPECT_GE(clients->counters().timeouts, 4u);
  EXPECT_EQ(clients->counters().processes, processes.size());
}

TEST_F(ClientTest, AnAppendThatNeverLeftIsFailAndKeepsItsProcess) {
  uint16_t closed = 0;
  {
    testing::FrameSink gone;
    closed = gone.port();
  }
  auto clients = Start({"127.0.0.1:" + std::to_string(closed)}, 1, 0.0);
  ASSERT_TRUE(
      WaitFor([&] { return CountOf(clients->history(), OpType::kFail, OpF::kAppend) >= 2; }));
  const History h = StopAndWait(*clients);
  ExpectWellFormed(h);
  for (const HistoryEvent& e : h) {
    EXPECT_EQ(e.process, 0);
    if (e.type != OpType::kInvoke) {
      EXPECT_EQ(e.type, OpType::kFail);
    }
  }
  EXPECT_GE(clients->counters().broken, 2u);
}

TEST_F(ClientTest, ADamagedValueIsRecordedAsReadAndCounted) {
  auto leader = std::make_shared<FakeLeader>();
  leader->read_filter = [](std::string v) {
    v[v.size() / 2] ^= 0x01;
    return v;
  };
  FakeNode node(Serve(leader));
  auto clients = Start({node.address()}, 1, 0.9);
  ASSERT_TRUE(WaitFor([&] { return CountOf(clients->history(), OpType::kOk, OpF::kRead) >= 3; }));
  const History h = StopAndWait(*clients);
  for (const HistoryEvent& e : h)
    if (e.f == OpF::kRead && e.type == OpType::kOk) {
      EXPECT_FALSE(VerifyValue(e.value));
    }
  EXPECT_EQ(clients->counters().damaged_values, CountOf(h, OpType::kOk, OpF::kRead));
}

TEST_F(ClientTest, StopEndsOperationsThatAreStillRetrying) {
  FakeNode busy(
      [](const nlohmann::json& r) { return std::optional(FakeLeader::Reply(r, "busy")); });
  ClientOptions o;
  o.nodes = {busy.address()};
  o.processes = 3;
  o.op_timeout = 1h;  // only Stop ends these operations
  o.backoff = {1ms, 10s};
  auto clients = std::move(Clients::Start(loop_.context(), o)).value();
  ASSERT_TRUE(WaitFor([&] { return clients->counters().busy >= 30; }));
  const History h = StopAndWait(*clients);
  ExpectWellFormed(h);
  EXPECT_EQ(CountOf(h, OpType::kFail, OpF::kAppend), 3u);  // busy is a definite no
  for (const HistoryEvent& e : h)
    if (e.type == OpType::kFail) {
      EXPECT_EQ(e.error, "busy");
    }
}

TEST(Clients, RefuseBadOptions) {
  EventLoop loop;
  ClientOptions o;
  EXPECT_FALSE(Clients::Start(loop.context(), o).ok());
  o.nodes = {"localhost"};
  EXPECT_FALSE(Clients::Start(loop.context(), o).ok());
  o.nodes = {"127.0.0.1:0"};
  EXPECT_FALSE(Clients::Start(loop.context(), o).ok());
  o.nodes = {"127.0.0.1:9"};
  o.processes = 0;
  EXPECT_FALSE(Clients::Start(loop.context(), o).ok());
}

}  // namespace
}  // namespace faultfs::harness
