// Goal: a node's files read back as written, and recovery keeps every entry that was durable:
// a torn tail without record is discarded, a corrupted slot with a record is kept as damaged (and
// nothing after it is lost) until a peer copy with the record's checksum repairs it, one lost
// meta copy loses nothing, a bad record over a good slot is rewritten; the truncate baseline
// loses what follows the first bad slot.
#include "faultfs/harness/node_storage.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "format.h"
#include "recovery.h"
#include "storage.h"
#include "test_support.h"

namespace faultfs::harness::node {
namespace {

using faultfs::testing::TempDir;

Entry MakeEntry(uint64_t index, uint64_t term) {
  return Entry{index, term, 7, static_cast<int64_t>(index), "value-" + std::to_string(index)};
}

// A data directory with entries 1..n, all in `term`.
std::unique_ptr<StorageFiles> WriteLog(const std::string& dir, uint64_t n, uint64_t term = 1) {
  auto files = StorageFiles::Open(dir);
  EXPECT_TRUE(files.ok()) << files.status().ToString();
  std::vector<SlotWrite> writes;
  for (uint64_t i = 1; i <= n; ++i) writes.push_back({i, term, EncodeEntry(MakeEntry(i, term))});
  EXPECT_TRUE((*files)->WriteEntries(writes).ok());
  return std::move(*files);
}

void FlipByte(const std::string& path, uint64_t offset) {
  std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
  f.seekg(static_cast<std::streamoff>(offset));
  char c = 0;
  f.get(c);
  f.seekp(static_cast<std::streamoff>(offset));
  f.put(static_cast<char>(c ^ 0x01));
}

void Resize(const std::string& path, uint64_t size) {
  ASSERT_EQ(::truncate(path.c_str(), static_cast<off_t>(size)), 0);
}

NodeStorage Read(const std::string& dir) {
  auto s = ReadNodeStorage(dir);
  EXPECT_TRUE(s.ok()) << s.status().ToString();
  return s.ok() ? *s : NodeStorage{};
}

TEST(NodeFormat, EntriesRoundTripAndMalformedOnesAreRefused) {
  const Entry e{3, 2, -1, 9, std::string(kMaxValueBytes, 'x')};
  const std::string encoded = EncodeEntry(e);
  EXPECT_EQ(DecodeEntry(encoded), e);
  EXPECT_FALSE(DecodeEntry(encoded.substr(0, encoded.size() - 1)));  // length disagrees
  EXPECT_FALSE(DecodeEntry(encoded + "x"));
  EXPECT_FALSE(DecodeEntry("short"));
  const Entry zero_index{0, 1, 1, 1, "v"};
  EXPECT_DEATH(EncodeEntry(zero_index), "entry index 0");
  const Entry too_big{1, 1, 1, 1, std::string(kMaxValueBytes + 1, 'x')};
  EXPECT_DEATH(EncodeEntry(too_big), "at most");
}

TEST(NodeFormat, SlotsRecordsAndMetaVerifyAndDetectDamage) {
  const std::string encoded = EncodeEntry(MakeEntry(4, 2));
  std::string slot = EncodeSlot(encoded);
  ASSERT_EQ(slot.size(), kSlotBytes);
  EXPECT_TRUE(ParseSlot(slot, 4).verifies);
  EXPECT_FALSE(ParseSlot(slot, 5).verifies);  // a slot holding another index
  slot[40] ^= 1;
  EXPECT_FALSE(ParseSlot(slot, 4).verifies);
  EXPECT_FALSE(ParseSlot(std::string(kSlotBytes, '\0'), 1).verifies);
  std::string record = EncodeRecord({4, 2, EntryChecksum(encoded)});
  EXPECT_TRUE(ParseRecord(record, 4));
  EXPECT_FALSE(ParseRecord(record, 3));
  record[9] ^= 1;
  EXPECT_FALSE(ParseRecord(record, 4));
  std::string meta = EncodeMeta({5, 3, 2});
  ASSERT_TRUE(ParseMeta(meta));
  EXPECT_EQ(ParseMeta(meta)->voted_for, 2);
  meta[0] ^= 1;
  EXPECT_FALSE(ParseMeta(meta));
}

TEST(NodeStorage, GoodLogReadsBackAndRecoversWhole) {
  TempDir dir("node");
  WriteLog(dir.path(), 5);
  const NodeStorage s = Read(dir.path());
  ASSERT_EQ(s.entries.size(), 5u);
  for (const auto& e : s.entries) {
    EXPECT_TRUE(e.slot_verifies);
    EXPECT_TRUE(e.record_matches());
    EXPECT_EQ(e.entry, MakeEntry(e.index, 1));
  }
  const RecoveryPlan plan = PlanRecovery(s, RecoveryMode::kProtocol);
  EXPECT_EQ(plan.log.size(), 5u);
  EXPECT_EQ(plan.torn + plan.damaged + plan.truncated, 0u);
  EXPECT_TRUE(plan.rewrite_records.empty());
  EXPECT_FALSE(plan.cut_files);
}

TEST(NodeStorage, MissingDirectoryIsAnErrorAndMissingFilesAreEmpty) {
  TempDir dir("node");
  EXPECT_FALSE(ReadNodeStorage(dir / "nope").ok());
  const NodeStorage s = Read(dir.path());
  EXPECT_TRUE(s.entries.empty());
  EXPECT_FALSE(s.meta);
}

TEST(NodeRecovery, TornTailWithoutRecordIsDiscarded) {
  TempDir dir("node");
  auto files = WriteLog(dir.path(), 3);
  // Slot 4 half written, its record never: a crash before it was acknowledged.
  const std::string slot = EncodeSlot(EncodeEntry(MakeEntry(4, 1)));
  std::ofstream(dir / "log", std::ios::app | std::ios::binary) << slot.substr(0, 40);
  const RecoveryPlan plan = PlanRecovery(Read(dir.path()), RecoveryMode::kProtocol);
  EXPECT_EQ(plan.log.size(), 3u);
  EXPECT_EQ(plan.torn, 1u);
  EXPECT_EQ(plan.damaged, 0u);
  ASSERT_TRUE(plan.cut_files);
  ASSERT_TRUE(ApplyRecovery(*files, plan).ok());
  EXPECT_EQ(std::filesystem::file_size(dir / "log"), 3 * kSlotBytes);
  const NodeStorage after = Read(dir.path());
  EXPECT_EQ(after.entries.size(), 3u);
  EXPECT_EQ(PlanRecovery(after, RecoveryMode::kProtocol).torn, 0u);
}

TEST(NodeRecovery, CorruptedMiddleSlotWithRecordIsKeptDamagedWithEverythingAfterIt) {
  TempDir dir("node");
  WriteLog(dir.path(), 5);
  FlipByte(dir / "log", 2 * kSlotBytes + 53);  // index 3's value
  const NodeStorage s = Read(dir.path());
  ASSERT_EQ(s.entries.size(), 5u);
  EXPECT_FALSE(s.entries[2].slot_verifies);
  EXPECT_TRUE(s.entries[2].has_record);
  const RecoveryPlan plan = PlanRecovery(s, RecoveryMode::kProtocol);
  ASSERT_EQ(plan.log.size(), 5u);
  EXPECT_EQ(plan.damaged, 1u);
  EXPECT_EQ(plan.torn, 0u);
  EXPECT_FALSE(plan.cut_files);
  EXPECT_TRUE(plan.log[2].damaged);
  EXPECT_TRUE(plan.log[2].checksum_known);
  EXPECT_EQ(plan.log[2].checksum, EntryChecksum(EncodeEntry(MakeEntry(3, 1))));
  EXPECT_FALSE(plan.log[3].damaged);
  EXPECT_EQ(plan.log[4].entry, MakeEntry(5, 1));
}

TEST(NodeRecovery, TruncateBaselineLosesEverythingAfterTheFirstBadSlot) {
  TempDir dir("node");
  auto files = WriteLog(dir.path(), 5);
  FlipByte(dir / "log", 2 * kSlotBytes + 53);
  const RecoveryPlan plan = PlanRecovery(Read(dir.path()), RecoveryMode::kTruncate);
  EXPECT_EQ(plan.log.size(), 2u);
  EXPECT_EQ(plan.truncated, 3u);  // 3 (corrupted), 4 and 5 (good, acknowledged) are gone
  EXPECT_EQ(plan.damaged, 0u);
  ASSERT_TRUE(ApplyRecovery(*files, plan).ok());
  EXPECT_EQ(Read(dir.path()).entries.size(), 2u);
}

TEST(NodeRecovery, RecordOverAMissingSlotIsCorruptionNotATornTail) {
  TempDir dir("node");
  WriteLog(dir.path(), 4);
  Resize(dir / "log", 2 * kSlotBytes);  // slots 3 and 4 lost, their records remain
  const RecoveryPlan plan = PlanRecovery(Read(dir.path()), RecoveryMode::kProtocol);
  ASSERT_EQ(plan.log.size(), 4u);
  EXPECT_EQ(plan.damaged, 2u);
  EXPECT_EQ(plan.torn, 0u);
}

TEST(NodeRecovery, BadSlotWithoutRecordBeforeAGoodSlotIsKeptWithUnknownChecksum) {
  TempDir dir("node");
  WriteLog(dir.path(), 3);
  FlipByte(dir / "log", kSlotBytes + 53);         // slot 2
  FlipByte(dir / "persisted", kRecordBytes + 3);  // and its record
  const RecoveryPlan plan = PlanRecovery(Read(dir.path()), RecoveryMode::kProtocol);
  ASSERT_EQ(plan.log.size(), 3u);  // slot 3 proves slot 2 was durable: not a torn tail
  EXPECT_TRUE(plan.log[1].damaged);
  EXPECT_FALSE(plan.log[1].checksum_known);
  EXPECT_EQ(plan.torn, 0u);
}

TEST(NodeRecovery, BadRecordOverGoodSlotIsRewritten) {
  TempDir dir("node");
  auto files = WriteLog(dir.path(), 3);
  FlipByte(dir / "persisted", kRecordBytes + 10);  // record 2
  const NodeStorage s = Read(dir.path());
  EXPECT_TRUE(s.entries[1].slot_verifies);
  EXPECT_FALSE(s.entries[1].has_record);
  const RecoveryPlan plan = PlanRecovery(s, RecoveryMode::kProtocol);
  EXPECT_EQ(plan.log.size(), 3u);
  EXPECT_EQ(plan.damaged, 0u);
  ASSERT_EQ(plan.rewrite_records.size(), 1u);
  EXPECT_EQ(plan.rewrite_records[0].index, 2u);
  ASSERT_TRUE(ApplyRecovery(*files, plan).ok());
  const NodeStorage after = Read(dir.path());
  EXPECT_TRUE(after.entries[1].record_matches());
  EXPECT_TRUE(PlanRecovery(after, RecoveryMode::kProtocol).rewrite_records.empty());
}

TEST(NodeRecovery, RecordNamingAnotherEntryIsRewrittenFromTheSlot) {
  TempDir dir("node");
  auto files = WriteLog(dir.path(), 2, /*term=*/1);
  // Slot 2 overwritten by a term-2 entry (a conflict resolved), its new record not yet written.
  std::string slot = EncodeSlot(EncodeEntry(MakeEntry(2, 2)));
  const int fd = ::open((dir / "log").c_str(), O_WRONLY);
  ASSERT_EQ(::pwrite(fd, slot.data(), slot.size(), static_cast<off_t>(kSlotBytes)),
            static_cast<ssize_t>(kSlotBytes));
  ::close(fd);
  const RecoveryPlan plan = PlanRecovery(Read(dir.path()), RecoveryMode::kProtocol);
  ASSERT_EQ(plan.rewrite_records.size(), 1u);
  EXPECT_EQ(plan.rewrite_records[0].term, 2u);
  EXPECT_EQ(plan.log[1].term, 2u);
}

TEST(NodeStorage, OneMetaCopyDamagedLosesNothing) {
  for (const char* damaged : {"meta.0", "meta.1"}) {
    TempDir dir("node");
    auto files = StorageFiles::Open(dir.path());
    ASSERT_TRUE(files.ok());
    ASSERT_TRUE((*files)->WriteMeta({1, 3, 1}).ok());
    ASSERT_TRUE((*files)->WriteMeta({2, 4, 2}).ok());
    FlipByte(dir / damaged, 9);
    const NodeStorage s = Read(dir.path());
    EXPECT_EQ(s.meta_copies_valid, 1) << damaged;
    ASSERT_TRUE(s.meta) << damaged;
    EXPECT_EQ(s.meta->version, 2u) << damaged;
    EXPECT_EQ(s.meta->term, 4u) << damaged;
    EXPECT_EQ(s.meta->voted_for, 2) << damaged;
  }
}

TEST(NodeStorage, BothMetaCopiesDamagedIsNoticed) {
  TempDir dir("node");
  auto files = StorageFiles::Open(dir.path());
  ASSERT_TRUE(files.ok());
  ASSERT_TRUE((*files)->WriteMeta({1, 3, 1}).ok());
  FlipByte(dir / "meta.0", 9);
  FlipByte(dir / "meta.1", 9);
  const NodeStorage s = Read(dir.path());
  EXPECT_FALSE(s.meta);
  EXPECT_EQ(s.meta_files, 2);  // written once: the node knows it lost its vote
}

TEST(NodeStorage, CutRemovesRecordsAndSlots) {
  TempDir dir("node");
  auto files = WriteLog(dir.path(), 5);
  ASSERT_TRUE(files->CutAfter(2).ok());
  EXPECT_EQ(std::filesystem::file_size(dir / "log"), 2 * kSlotBytes);
  EXPECT_EQ(std::filesystem::file_size(dir / "persisted"), 2 * kRecordBytes);
  EXPECT_EQ(Read(dir.path()).entries.size(), 2u);
}

}  // namespace
}  // namespace faultfs::harness::node
