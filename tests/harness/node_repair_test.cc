// Goal: a damaged entry is repaired only with the very entry its persistence record names (from a
// peer's fetched copy or the leader's append), never by truncating what follows; a node does not
// stand for election while it holds damaged entries; `repair` messages follow --repair (verified
// refuses another copy, newest takes it).
#include <gtest/gtest.h>

#include <deque>
#include <fstream>

#include "faultfs/harness/node_storage.h"
#include "raft.h"
#include "recovery.h"
#include "repair.h"
#include "test_support.h"

namespace faultfs::harness::node {
namespace {

using faultfs::testing::TempDir;
using nlohmann::json;

// Raft's environment for a test: sends are recorded, writes go to real files at once, their
// completions (and deferred work) run when the test says.
class FakeEnv : public RaftEnv {
 public:
  explicit FakeEnv(StorageFiles& files) : files_(files) {}
  void Send(int to, const json& m) override { sent.emplace_back(to, m); }
  void WriteEntries(std::vector<SlotWrite> writes, std::function<void()> done) override {
    EXPECT_TRUE(files_.WriteEntries(writes).ok());
    deferred.push_back(std::move(done));
  }
  void CutAfter(uint64_t keep, std::function<void()> done) override {
    EXPECT_TRUE(files_.CutAfter(keep).ok());
    deferred.push_back(std::move(done));
  }
  void WriteMeta(StoredMeta meta, std::function<void()> done) override {
    EXPECT_TRUE(files_.WriteMeta(meta).ok());
    deferred.push_back(std::move(done));
  }
  void Defer(std::function<void()> fn) override { deferred.push_back(std::move(fn)); }
  void Emit(const std::string& event, const json& fields) override {
    events.emplace_back(event, fields);
  }
  double NowMs() override { return now; }

  void RunDeferred() {
    while (!deferred.empty()) {
      auto fn = std::move(deferred.front());
      deferred.pop_front();
      fn();
    }
  }
  int Count(const std::string& event) const {
    int n = 0;
    for (const auto& [e, f] : events) n += e == event ? 1 : 0;
    return n;
  }

  std::vector<std::pair<int, json>> sent;
  std::vector<std::pair<std::string, json>> events;
  std::deque<std::function<void()>> deferred;
  double now = 1000;

 private:
  StorageFiles& files_;
};

Entry Original(uint64_t index) {
  return Entry{index, 1, 7, static_cast<int64_t>(index), "v" + std::to_string(index)};
}

// A node's directory with entries 1..5 of term 1 whose slot 3 rotted, recovered.
struct DamagedNode {
  explicit DamagedNode(const std::string& dir, bool newest = false) {
    auto opened = StorageFiles::Open(dir);
    EXPECT_TRUE(opened.ok());
    files = std::move(*opened);
    std::vector<SlotWrite> writes;
    for (uint64_t i = 1; i <= 5; ++i) writes.push_back({i, 1, EncodeEntry(Original(i))});
    EXPECT_TRUE(files->WriteEntries(writes).ok());
    std::fstream f(dir + "/log", std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(static_cast<std::streamoff>(2 * kSlotBytes + 53));
    f.put('#');
    f.close();
    auto storage = ReadNodeStorage(dir);
    EXPECT_TRUE(storage.ok());
    plan = PlanRecovery(*storage, RecoveryMode::kProtocol);
    EXPECT_EQ(plan.damaged, 1u);
    env = std::make_unique<FakeEnv>(*files);
    raft = std::make_unique<Raft>(RaftOptions{0, {1, 2}, 600, 100, 1}, *env, plan, std::nullopt,
                                  false);
    ctx = NodeContext{0,
                      {1, 2},
                      newest,
                      100,
                      600,
                      raft.get(),
                      nullptr,
                      &events,
                      [this](int to, const json& m) { env->Send(to, m); },
                      [this](std::function<void()> fn) { env->Defer(std::move(fn)); }};
    fetcher = std::make_unique<Fetcher>(ctx);
    repairer = std::make_unique<Repairer>(ctx, *fetcher);
  }
  std::unique_ptr<StorageFiles> files;
  RecoveryPlan plan;
  std::unique_ptr<FakeEnv> env;
  std::unique_ptr<Raft> raft;
  EventLog events;
  NodeContext ctx;
  std::unique_ptr<Fetcher> fetcher;
  std::unique_ptr<Repairer> repairer;
};

void ExpectIntact(const std::string& dir) {
  auto storage = ReadNodeStorage(dir);
  ASSERT_TRUE(storage.ok());
  ASSERT_EQ(storage->entries.size(), 5u);
  for (const auto& e : storage->entries) {
    EXPECT_TRUE(e.slot_verifies) << e.index;
    EXPECT_TRUE(e.record_matches()) << e.index;
    EXPECT_EQ(e.entry, Original(e.index));
  }
}

TEST(NodeRepair, DamagedEntryTakesOnlyThePeerCopyWithTheRecordsChecksum) {
  TempDir dir("node");
  DamagedNode node(dir.path());
  node.repairer->Tick(node.env->now);
  std::map<int, uint64_t> fetch_ids;
  for (const auto& [to, m] : node.env->sent) {
    if (m["t"] == "fetch" && m["index"] == 3) fetch_ids[to] = m["id"].get<uint64_t>();
  }
  ASSERT_EQ(fetch_ids.size(), 2u);  // both peers asked
  const uint64_t id = fetch_ids[1];
  // Another entry at index 3 (a divergent copy that verifies on its own node): refused.
  Entry other = Original(3);
  other.value = "other";
  node.fetcher->HandleReply(FetchReply{1, id, 3, true, EncodeEntry(other), true});
  // The right entry with one byte changed: refused.
  std::string damaged = EncodeEntry(Original(3));
  damaged[37] ^= 1;  // the value's last byte
  node.fetcher->HandleReply(FetchReply{2, id, 3, true, damaged, false});
  node.env->RunDeferred();
  EXPECT_EQ(node.raft->log().damaged().size(), 1u);
  EXPECT_EQ(node.env->Count("repaired"), 0);
  // The entry the record names: taken, written, fsynced.
  node.fetcher->HandleReply(FetchReply{2, id, 3, true, EncodeEntry(Original(3)), true});
  node.env->RunDeferred();
  EXPECT_TRUE(node.raft->log().damaged().empty());
  ASSERT_EQ(node.env->Count("repaired"), 1);
  EXPECT_EQ(node.env->events.back().second["from"], 2);
  EXPECT_EQ(node.raft->log().durable_prefix(), 5u);
  ExpectIntact(dir.path());
}

TEST(NodeRepair, LeadersAppendRepairsTheDamagedEntryAndKeepsWhatFollows) {
  TempDir dir("node");
  DamagedNode node(dir.path());
  EXPECT_EQ(node.raft->log().durable_prefix(), 2u);  // a damaged entry is not acknowledged
  AppendRequest append{1, 1, 2, 1, 0, 1, {EncodeEntry(Original(3)), EncodeEntry(Original(4))}};
  node.raft->HandleAppend(append);
  node.env->RunDeferred();
  EXPECT_TRUE(node.raft->log().damaged().empty());
  EXPECT_EQ(node.raft->log().last_index(), 5u);  // 5 was not in the append and is not cut
  EXPECT_EQ(node.env->Count("repaired"), 1);
  const auto& [to, ack] = node.env->sent.back();
  EXPECT_EQ(to, 1);
  EXPECT_EQ(ack["t"], "append_ack");
  EXPECT_EQ(ack["ok"], true);
  EXPECT_EQ(ack["match"], 4);  // durable and known to match the leader
  ExpectIntact(dir.path());
}

TEST(NodeRepair, NodeWithDamagedEntriesDoesNotStandForElection) {
  TempDir dir("node");
  DamagedNode node(dir.path());
  node.env->now += 10'000;
  node.raft->Tick();
  node.env->RunDeferred();
  EXPECT_EQ(node.env->Count("election"), 0);
  EXPECT_EQ(node.raft->role(), Role::kFollower);
  node.raft->InstallRepair(3, EncodeEntry(Original(3)), 1, 2);
  node.env->RunDeferred();
  node.env->now += 10'000;
  node.raft->Tick();
  EXPECT_EQ(node.env->Count("election"), 1);
  EXPECT_EQ(node.raft->role(), Role::kCandidate);
}

TEST(NodeRepair, VerifiedRepairRefusesAnotherCopyAndNewestTakesIt) {
  Entry other = Original(2);
  other.value = "spread";
  {
    TempDir dir("node");
    DamagedNode node(dir.path());
    node.repairer->HandleRepair(RepairRequest{1, 1, 2, EncodeEntry(other)});  // 2 is good here
    node.repairer->HandleRepair(RepairRequest{1, 1, 3, EncodeEntry(other)});  // wrong checksum
    node.env->RunDeferred();
    EXPECT_EQ(node.env->Count("repaired"), 0);
    node.repairer->HandleRepair(RepairRequest{1, 1, 3, EncodeEntry(Original(3))});
    node.env->RunDeferred();
    EXPECT_EQ(node.env->Count("repaired"), 1);
    ExpectIntact(dir.path());
  }
  {
    TempDir dir("node");
    DamagedNode node(dir.path(), /*newest=*/true);
    node.repairer->HandleRepair(RepairRequest{1, 1, 2, EncodeEntry(other)});
    node.env->RunDeferred();
    auto storage = ReadNodeStorage(dir.path());
    ASSERT_TRUE(storage.ok());
    EXPECT_TRUE(storage->entries[1].slot_verifies);  // re-checksummed: the damage now looks good
    EXPECT_EQ(storage->entries[1].entry.value, "spread");
  }
}

TEST(NodeRepair, StaleTermRepairIsIgnored) {
  TempDir dir("node");
  DamagedNode node(dir.path());
  node.raft->HandleAppend(AppendRequest{1, 5, 0, 0, 0, 1, {}});  // term 5 now
  node.env->RunDeferred();
  node.repairer->HandleRepair(RepairRequest{1, 4, 3, EncodeEntry(Original(3))});
  node.env->RunDeferred();
  EXPECT_EQ(node.raft->log().damaged().size(), 1u);
}

}  // namespace
}  // namespace faultfs::harness::node
