// Goal: three real node processes on loopback elect a leader, acknowledge appends only once a
// majority holds them, survive SIGKILL of the leader (a new leader within the bound, nothing
// acknowledged lost after restart), apply a duplicate request once, answer busy when the queue is
// full, and serve reads that return the committed value and repair a corrupted replica, while
// --repair newest spreads a corrupted copy instead.
#include <gtest/gtest.h>

#include <chrono>
#include <csignal>
#include <map>
#include <set>
#include <thread>

#include "faultfs/harness/history.h"
#include "faultfs/harness/node_storage.h"
#include "node_cluster.h"
#include "test_support.h"

namespace faultfs::harness::testing {
namespace {

using faultfs::testing::TempDir;

// Fast timers keep the suite short; the leader-failure test uses the defaults.
// Fast timers; no background scrub, so that the tests of reads see the damage they repair.
const std::vector<std::string> kFast = {"--election-timeout-ms", "300", "--heartbeat-ms", "50",
                                        "--no-scrub"};
const std::vector<std::string> kFastScrubbing = {"--election-timeout-ms", "300", "--heartbeat-ms",
                                                 "50"};

std::vector<std::string> With(std::vector<std::string> args, const std::vector<std::string>& more) {
  args.insert(args.end(), more.begin(), more.end());
  return args;
}

// Appends `count` values as client `client`; index -> value of each acknowledged one.
std::map<uint64_t, std::string> AppendMany(NodeCluster& cluster, int64_t client, int64_t first_req,
                                           int count) {
  std::map<uint64_t, std::string> acked;
  for (int64_t req = first_req; req < first_req + count; ++req) {
    const std::string value = MakeValue(client, req, "payload-" + std::to_string(req));
    const auto index = cluster.AppendAcked(client, req, value);
    EXPECT_TRUE(index) << "append " << req << " was never acknowledged";
    if (index) acked[*index] = value;
  }
  return acked;
}

// True when node i's log holds every acknowledged entry at its index, verified.
bool Holds(const NodeCluster& cluster, int i, const std::map<uint64_t, std::string>& acked) {
  auto storage = ReadNodeStorage(cluster.data_dir(i));
  if (!storage.ok()) return false;
  for (const auto& [index, value] : acked) {
    if (index > storage->entries.size()) return false;
    const StoredEntry& e = storage->entries[index - 1];
    if (!e.slot_verifies || !e.record_matches() || e.entry.value != value) return false;
  }
  return true;
}

int CountEvents(const NodeCluster& cluster, int node, const std::string& event) {
  int n = 0;
  for (const auto& e : cluster.Events(node)) n += e.event == event ? 1 : 0;
  return n;
}

TEST(NodeProcess, ElectsALeaderAndReplicatesAcknowledgedAppends) {
  TempDir dir("nodes");
  NodeCluster cluster(dir.path(), 3, kFast);
  std::string error;
  ASSERT_TRUE(cluster.StartAll(&error)) << error;
  const auto leader = cluster.WaitForLeader(20);
  ASSERT_TRUE(leader);
  // A follower sends clients to the leader.
  const int follower = (*leader + 1) % 3;
  TestClient to_follower(cluster.client_port(follower));
  // Until the leader's first heartbeat reaches it, a follower knows no leader (-1): on a loaded
  // machine that can come after another node already says it leads.
  auto refused = to_follower.Append(1, 1, MakeValue(1, 1, "x"));
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (refused && refused->value("leader", -2) == -1 &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    refused = to_follower.Append(1, 1, MakeValue(1, 1, "x"));
  }
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused->value("status", ""), "not_leader");
  EXPECT_EQ(refused->value("leader", -2), *leader);

  const auto acked = AppendMany(cluster, 1, 100, 20);
  ASSERT_EQ(acked.size(), 20u);
  uint64_t previous = 0;
  for (const auto& [index, value] : acked) {
    EXPECT_GT(index, previous);
    previous = index;
  }
  // Acknowledged means durable on a majority; replication brings it to all three.
  for (int i = 0; i < 3; ++i)
    EXPECT_TRUE(WaitFor([&] { return Holds(cluster, i, acked); }, 20)) << "node " << i;
  EXPECT_EQ(CountEvents(cluster, *leader, "leader"), 1);
}

TEST(NodeProcess, LeaderKillElectsANewLeaderAndLosesNothingAcknowledged) {
  TempDir dir("nodes");
  NodeCluster cluster(dir.path(), 3);  // default timers: T = 600 ms, heartbeats every 100 ms
  std::string error;
  ASSERT_TRUE(cluster.StartAll(&error)) << error;
  const auto old_leader = cluster.WaitForLeader(20);
  ASSERT_TRUE(old_leader);
  auto acked = AppendMany(cluster, 2, 1, 20);

  const double killed_ms = MonotonicMs();
  cluster.Kill(*old_leader);
  std::optional<int> new_leader;
  ASSERT_TRUE(WaitFor([&] { return (new_leader = cluster.Leader()).has_value(); }, 30));
  ASSERT_NE(*new_leader, *old_leader);
  double elected_ms = 0;
  double suspected_ms = 0;
  for (const auto& e : cluster.Events(*new_leader)) {
    if (e.event == "leader") elected_ms = e.t_ms;
  }
  for (int i = 0; i < 3; ++i) {
    for (const auto& e : cluster.Events(i)) {
      if (e.event == "suspect" && e.t_ms >= killed_ms - 1 &&
          (suspected_ms == 0 || e.t_ms < suspected_ms))
        suspected_ms = e.t_ms;
    }
  }
  const double detection = suspected_ms - killed_ms;
  const double failover = elected_ms - killed_ms;
  std::printf("leader killed: suspected after %.0f ms, new leader after %.0f ms\n", detection,
              failover);
  // Documented bound: suspicion within 2T of the last heartbeat (phi > 8 long before that with
  // regular heartbeats), a leader one election round later; generous for loaded machines.
  EXPECT_GT(suspected_ms, 0) << "no suspect event";
  EXPECT_LT(failover, 10'000);

  auto more = AppendMany(cluster, 2, 100, 10);
  acked.insert(more.begin(), more.end());
  ASSERT_TRUE(cluster.Start(*old_leader, &error)) << error;
  for (int i = 0; i < 3; ++i)
    EXPECT_TRUE(WaitFor([&] { return Holds(cluster, i, acked); }, 30)) << "node " << i;
}

TEST(NodeProcess, DuplicateRequestIsAppliedOnce) {
  TempDir dir("nodes");
  NodeCluster cluster(dir.path(), 3, kFast);
  std::string error;
  ASSERT_TRUE(cluster.StartAll(&error)) << error;
  const std::string value = MakeValue(5, 1, "once");
  const auto first = cluster.AppendAcked(5, 1, value);
  const auto again = cluster.AppendAcked(5, 1, value);
  const auto other = cluster.AppendAcked(5, 2, MakeValue(5, 2, "twice"));
  ASSERT_TRUE(first && again && other);
  EXPECT_EQ(*first, *again);
  EXPECT_NE(*first, *other);
  const auto leader = cluster.Leader();
  ASSERT_TRUE(leader);
  auto storage = ReadNodeStorage(cluster.data_dir(*leader));
  ASSERT_TRUE(storage.ok());
  int copies = 0;
  for (const auto& e : storage->entries)
    copies += e.slot_verifies && e.entry.client == 5 && e.entry.req == 1;
  EXPECT_EQ(copies, 1);
}

TEST(NodeProcess, NodesOfAClusterIdTalkAmongThemselvesAndIgnoreOtherClustersClients) {
  // Goal: nodes started with --cluster stamp their peer messages with it and still elect a leader
  // (harness_run_test's runs, whose clients name the cluster, have their appends acknowledged);
  // a client that names no cluster or another one (a run whose node once had these ports) is
  // turned away and never acknowledged. Parallel runs
  // on reused ports once reached each other's nodes and reported "unsafe".
  TempDir dir("nodes");
  NodeCluster cluster(dir.path(), 3, With(kFast, {"--cluster", "7"}));
  std::string error;
  ASSERT_TRUE(cluster.StartAll(&error)) << error;
  EXPECT_TRUE(cluster.WaitForLeader(20)) << "the stamped peer messages were not accepted";
  EXPECT_FALSE(cluster.AppendAcked(5, 1, MakeValue(5, 1, "foreign"), 3))
      << "a client without the cluster id was served";
  for (int i = 0; i < 3; ++i) {
    auto storage = ReadNodeStorage(cluster.data_dir(i));
    ASSERT_TRUE(storage.ok());
    for (const auto& e : storage->entries) EXPECT_NE(e.entry.client, 5) << "node " << i;
  }
}

TEST(NodeProcess, FullQueueAnswersBusyAtOnce) {
  TempDir dir("nodes");
  // A long election timeout: cut off from both followers, the leader steps down after T without
  // a majority; it must still be leader while the queue fills.
  NodeCluster cluster(
      dir.path(), 3,
      {"--election-timeout-ms", "5000", "--heartbeat-ms", "50", "--no-scrub", "--queue", "1"});
  std::string error;
  ASSERT_TRUE(cluster.StartAll(&error)) << error;
  ASSERT_TRUE(cluster.AppendAcked(9, 1, MakeValue(9, 1, "first")));
  const int leader = *cluster.Leader();
  for (int i = 0; i < 3; ++i) {
    if (i != leader) cluster.Kill(i);  // nothing can commit now: the next append waits
  }
  TestClient waiting(cluster.client_port(leader));
  ASSERT_TRUE(waiting.SendOnly(
      {{"t", "c_append"}, {"client", 9}, {"req", 2}, {"value", MakeValue(9, 2, "waits")}}));
  EXPECT_FALSE(waiting.Receive(2, 0.5)) << "an append without a majority must not be acknowledged";
  TestClient refused(cluster.client_port(leader));
  const double asked_ms = MonotonicMs();
  const auto busy = refused.Append(9, 3, MakeValue(9, 3, "refused"), 5);
  ASSERT_TRUE(busy);
  EXPECT_EQ(busy->value("status", ""), "busy");
  EXPECT_LT(MonotonicMs() - asked_ms, 2000) << "busy must be answered at once";
  EXPECT_GE(CountEvents(cluster, leader, "busy"), 1);
}

TEST(NodeProcess, ReadReturnsTheCommittedValueAndRepairsACorruptedReplica) {
  TempDir dir("nodes");
  NodeCluster cluster(dir.path(), 3, kFast);
  std::string error;
  ASSERT_TRUE(cluster.StartAll(&error)) << error;
  const auto acked = AppendMany(cluster, 3, 1, 5);
  ASSERT_EQ(acked.size(), 5u);
  const int leader = *cluster.Leader();
  const int follower = (leader + 1) % 3;
  ASSERT_TRUE(WaitFor([&] { return Holds(cluster, follower, acked); }, 20));
  const auto [index, value] = *std::next(acked.begin(), 2);

  // The follower's slot rots on disk while it runs.
  CorruptSlotValue(cluster.data_dir(follower), index);
  EXPECT_FALSE(Holds(cluster, follower, acked));
  TestClient client(cluster.client_port(leader));
  const auto reply = client.Read(3, 100, index);
  ASSERT_TRUE(reply);
  ASSERT_EQ(reply->value("status", ""), "ok");
  EXPECT_EQ(ReplyValue(*reply), value);
  EXPECT_TRUE(WaitFor([&] { return Holds(cluster, follower, acked); }, 10)) << "not read-repaired";
  bool repaired_to_follower = false;
  for (const auto& e : cluster.Events(leader))
    repaired_to_follower |= e.event == "read_repair" && e.fields.value("to", -1) == follower;
  EXPECT_TRUE(repaired_to_follower);

  // Not committed (beyond the log): refused, not invented.
  const auto beyond = client.Read(3, 101, 1000);
  ASSERT_TRUE(beyond);
  EXPECT_EQ(beyond->value("status", ""), "not_committed");
}

TEST(NodeProcess, ScrubFindsAndRepairsDamageNobodyReads) {
  // Goal: a slot that rots on a running follower is found by the background scrub and repaired
  // from a verified copy, with no client read and no restart; without the scrub it stays bad.
  for (const bool scrub : {true, false}) {
    SCOPED_TRACE(scrub ? "scrubbing" : "--no-scrub");
    TempDir dir("nodes");
    NodeCluster cluster(dir.path(), 3, scrub ? kFastScrubbing : kFast);
    std::string error;
    ASSERT_TRUE(cluster.StartAll(&error)) << error;
    const auto acked = AppendMany(cluster, 8, 1, 5);
    const int follower = (*cluster.Leader() + 1) % 3;
    ASSERT_TRUE(WaitFor([&] { return Holds(cluster, follower, acked); }, 20));
    CorruptSlotValue(cluster.data_dir(follower), std::next(acked.begin(), 2)->first);
    if (scrub) {
      EXPECT_TRUE(WaitFor([&] { return Holds(cluster, follower, acked); }, 20)) << "not scrubbed";
      EXPECT_TRUE(WaitFor([&] { return CountEvents(cluster, follower, "repaired") >= 1; }, 10));
    } else {
      // Long enough for many scrub rounds (one per 50 ms heartbeat) had there been any.
      std::this_thread::sleep_for(std::chrono::seconds(2));
      EXPECT_FALSE(Holds(cluster, follower, acked));
      EXPECT_EQ(CountEvents(cluster, follower, "repaired"), 0);
    }
  }
}

TEST(NodeProcess, CorruptedSlotFoundAtRestartIsRepairedKeepingWhatFollows) {
  TempDir dir("nodes");
  NodeCluster cluster(dir.path(), 3, kFast);
  std::string error;
  ASSERT_TRUE(cluster.StartAll(&error)) << error;
  const auto acked = AppendMany(cluster, 4, 1, 6);
  const int follower = (*cluster.Leader() + 1) % 3;
  ASSERT_TRUE(WaitFor([&] { return Holds(cluster, follower, acked); }, 20));
  cluster.Kill(follower);
  const uint64_t index = std::next(acked.begin(), 1)->first;  // entries follow it
  CorruptSlotValue(cluster.data_dir(follower), index);
  ASSERT_TRUE(cluster.Start(follower, &error)) << error;
  int damaged = -1;
  for (const auto& e : cluster.Events(follower))
    if (e.event == "recovered") damaged = e.fields.value("damaged", -1);
  EXPECT_EQ(damaged, 1);
  EXPECT_TRUE(WaitFor([&] { return Holds(cluster, follower, acked); }, 20));
  // The event follows the write that Holds sees.
  EXPECT_TRUE(WaitFor([&] { return CountEvents(cluster, follower, "repaired") >= 1; }, 10));
}

TEST(NodeProcess, VerifiedReadNeverReturnsTheLeadersCorruptedCopy) {
  TempDir dir("nodes");
  NodeCluster cluster(dir.path(), 3, kFast);
  std::string error;
  ASSERT_TRUE(cluster.StartAll(&error)) << error;
  const auto acked = AppendMany(cluster, 6, 1, 3);
  const int leader = *cluster.Leader();
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(WaitFor([&] { return Holds(cluster, i, acked); }, 20));
  const auto [index, value] = *acked.rbegin();
  CorruptSlotValue(cluster.data_dir(leader), index);
  TestClient client(cluster.client_port(leader));
  const auto reply = client.Read(6, 100, index);
  ASSERT_TRUE(reply);
  ASSERT_EQ(reply->value("status", ""), "ok");
  EXPECT_EQ(ReplyValue(*reply), value);
  EXPECT_TRUE(WaitFor([&] { return Holds(cluster, leader, acked); }, 10))
      << "leader's own copy not repaired";
  if (::testing::Test::HasFailure()) {
    for (const auto& e : cluster.AllEvents()) std::printf("%s\n", e.fields.dump().c_str());
  }
}

TEST(NodeProcess, LeadersCopyCorruptedBeforeItsFsyncEndsIsReadAndRepaired) {
  // Goal: the leader acknowledges once a majority of followers holds an entry, maybe before its own
  // fsync ends; a read arriving then must still read the leader's slot back once it is durable (not
  // skip it as "not held"), so that a slot damaged right after its write is found and repaired.
  TempDir dir("nodes");
  NodeCluster cluster(dir.path(), 3, kFast);
  std::string error;
  ASSERT_TRUE(cluster.StartAll(&error)) << error;
  ASSERT_TRUE(cluster.AppendAcked(10, 0, MakeValue(10, 0, "first")));
  const int leader = *cluster.Leader();
  std::map<uint64_t, std::string> acked;
  TestClient client(cluster.client_port(leader));
  for (int64_t req = 1; req <= 5; ++req) {
    const std::string value = MakeValue(10, req, "v" + std::to_string(req));
    const auto appended = client.Append(10, req, value);
    ASSERT_TRUE(appended && appended->value("status", "") == "ok");
    const uint64_t index = appended->value("index", uint64_t{0});
    acked[index] = value;
    // At once, while the leader's own write may still be on its way to disk.
    CorruptSlotValue(cluster.data_dir(leader), index);
    const auto reply = client.Read(10, 100 + req, index);
    ASSERT_TRUE(reply);
    ASSERT_EQ(reply->value("status", ""), "ok");
    EXPECT_EQ(ReplyValue(*reply), value);
  }
  EXPECT_TRUE(WaitFor([&] { return Holds(cluster, leader, acked); }, 10))
      << "leader's own copy not repaired";
}

TEST(NodeProcess, NewestRepairSpreadsTheLeadersCorruptedCopy) {
  TempDir dir("nodes");
  NodeCluster cluster(dir.path(), 3, With(kFast, {"--repair", "newest"}));
  std::string error;
  ASSERT_TRUE(cluster.StartAll(&error)) << error;
  const auto acked = AppendMany(cluster, 7, 1, 3);
  const int leader = *cluster.Leader();
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(WaitFor([&] { return Holds(cluster, i, acked); }, 20));
  const auto [index, value] = *acked.rbegin();
  CorruptSlotValue(cluster.data_dir(leader), index);
  TestClient client(cluster.client_port(leader));
  const auto reply = client.Read(7, 100, index);
  ASSERT_TRUE(reply);
  ASSERT_EQ(reply->value("status", ""), "ok");
  EXPECT_NE(ReplyValue(*reply), value);
  EXPECT_FALSE(VerifyValue(ReplyValue(*reply))) << "the client receives a damaged value";
  // Every replica now holds the damaged value in a slot that verifies: the damage is permanent.
  // A read repairs the replicas whose answers came within its window (all of them, unless the
  // machine is busy); reading again, as clients do, reaches the others.
  int64_t req = 200;
  for (int i = 0; i < 3; ++i) {
    EXPECT_TRUE(WaitFor(
        [&] {
          auto s = ReadNodeStorage(cluster.data_dir(i));
          if (s.ok() && s->entries.size() >= index && s->entries[index - 1].slot_verifies &&
              s->entries[index - 1].entry.value == ReplyValue(*reply)) {
            return true;
          }
          if (++req % 25 == 0) (void)client.Read(7, req, index);  // every half second
          return false;
        },
        20))
        << "node " << i;
  }
}

}  // namespace
}  // namespace faultfs::harness::testing
