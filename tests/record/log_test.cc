// Goal: the record log round-trips every op kind, records reach the file in the order they were
// appended whatever their size, closing the writer leaves every record, and a damaged log is read
// up to the damage with the damaged record, its offset and the problem named.
#include "faultfs/record/log.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "test_support.h"

namespace faultfs::record {
namespace {

namespace stdfs = std::filesystem;

class LogTest : public ::testing::Test {
 protected:
  void SetUp() override { path_ = dir_ + "/LOG"; }

  // Writes a log of `n` small writes and returns the byte offsets where each frame starts.
  std::vector<uint64_t> WriteLog(int n) {
    auto w =
        LogWriter::Create(path_, LogHeader{kFormatVersion, "LOG.base", 42, {{7, ""}, {9, "d/f"}}});
    EXPECT_TRUE(w.ok()) << w.status().ToString();
    std::vector<uint64_t> starts;
    for (int i = 0; i < n; ++i) {
      EXPECT_TRUE((*w)->Sync().ok());
      starts.push_back(stdfs::file_size(path_));
      Op op;
      op.kind = OpKind::kWrite;
      op.path = "f" + std::to_string(i);
      op.data = std::string(100, static_cast<char>('a' + i));
      EXPECT_EQ(*(*w)->Append(op), static_cast<uint64_t>(i + 1));
    }
    EXPECT_TRUE((*w)->Sync().ok());
    return starts;
  }
  std::string ReadBytes() {
    std::ifstream in(path_, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  }
  void WriteBytes(const std::string& bytes) {
    std::ofstream(path_, std::ios::binary | std::ios::trunc) << bytes;
  }

  testing::TempDir tmp_{"log"};
  std::string dir_ = tmp_.path(), path_;
};

Op Sample(OpKind kind) {
  Op op;
  op.kind = kind;
  op.time_ns = 123456789;
  op.pid = 4242;
  op.ino = 99;
  op.path = "dir/file";
  op.path2 = "dir/other";
  op.offset = 1ull << 40;
  op.mode = 0100644;
  op.flags = 3;
  op.uid = 1000;
  op.gid = 1001;
  op.data = std::string("\0binary\xff", 8);
  if (kind == OpKind::kWrite) op.length = op.data.size();
  return op;
}

TEST(OpEncodingTest, EveryKindRoundTrips) {
  for (int k = static_cast<int>(OpKind::kWrite); k <= static_cast<int>(OpKind::kMark); ++k) {
    const Op op = Sample(static_cast<OpKind>(k));
    auto back = DecodeOp(EncodeOp(op));
    ASSERT_TRUE(back.ok()) << OpKindName(op.kind) << ": " << back.status().ToString();
    EXPECT_EQ(*back, op) << OpKindName(op.kind);
    EXPECT_NE(OpKindName(op.kind), "unknown");
  }
}

TEST(OpEncodingTest, RejectsUnknownKindAndTrailingBytes) {
  std::string bytes = EncodeOp(Sample(OpKind::kMark));
  EXPECT_FALSE(DecodeOp(bytes + "x").ok());
  bytes[0] = 77;
  EXPECT_FALSE(DecodeOp(bytes).ok());
  EXPECT_FALSE(DecodeOp("").ok());
}

TEST(Crc32cTest, KnownVector) {
  // The CRC-32C check value (RFC 3720 appendix B.4 style "123456789").
  EXPECT_EQ(Crc32c("123456789", 9), 0xE3069283u);
  // Continuing a CRC equals computing it at once.
  EXPECT_EQ(Crc32c("6789", 4, Crc32c("12345", 5)), 0xE3069283u);
}

TEST_F(LogTest, WritesAndReadsBack) {
  WriteLog(5);
  auto log = ReadLogFile(path_);
  ASSERT_TRUE(log.ok()) << log.status().ToString();
  EXPECT_FALSE(log->damage.has_value());
  EXPECT_EQ(log->header.snapshot, "LOG.base");
  EXPECT_EQ(log->header.start_unix_ns, 42u);
  EXPECT_EQ(log->header.inodes,
            (std::vector<std::pair<uint64_t, std::string>>{{7, ""}, {9, "d/f"}}));
  ASSERT_EQ(log->ops.size(), 5u);
  for (size_t i = 0; i < 5; ++i) {
    EXPECT_EQ(log->ops[i].seq, i + 1);
    EXPECT_EQ(log->ops[i].data, std::string(100, static_cast<char>('a' + i)));
  }
}

TEST_F(LogTest, LargeAndSmallRecordsInterleaveInOrder) {
  // Large records are batches of their own, small ones share batches; the writer thread writes
  // them: the order in the file must still be the order of Append, and each record the bytes it
  // was given.
  auto w = LogWriter::Create(path_, LogHeader{kFormatVersion, "LOG.base", 1, {}});
  ASSERT_TRUE(w.ok()) << w.status().ToString();
  std::vector<std::string> datas;
  for (size_t i = 0; i < 40; ++i) {
    const size_t size = i % 3 == 0 ? (1u << 20) + i : i % 3 == 1 ? 100 + i : (64u << 10) - 1 + i;
    std::string data(size, '\0');
    for (size_t j = 0; j < size; ++j) data[j] = static_cast<char>(j * 131 + i);
    Op op = Sample(OpKind::kWrite);
    op.offset = i;
    op.data.clear();
    // Both ways of appending: the data given beside the op, or in it.
    auto seq = i % 2 == 0 ? (*w)->Append(op, data) : (op.data = data, (*w)->Append(op));
    ASSERT_TRUE(seq.ok());
    EXPECT_EQ(*seq, i + 1);
    datas.push_back(std::move(data));
  }
  ASSERT_TRUE((*w)->Sync().ok());
  auto log = ReadLogFile(path_);
  ASSERT_TRUE(log.ok()) << log.status().ToString();
  EXPECT_FALSE(log->damage.has_value()) << log->damage->ToString();
  ASSERT_EQ(log->ops.size(), datas.size());
  for (size_t i = 0; i < datas.size(); ++i) {
    EXPECT_EQ(log->ops[i].offset, i);
    EXPECT_EQ(log->ops[i].length, datas[i].size());
    EXPECT_TRUE(log->ops[i].data == datas[i]) << "record " << i + 1;
  }
}

TEST_F(LogTest, ClosingWithoutSyncStillWritesEverything) {
  // The writer thread writes whole blocks and keeps a partial last block in memory (O_DIRECT
  // where the filesystem takes it); closing must still leave every record, and the file at its
  // true size.
  {
    auto w = LogWriter::Create(path_, LogHeader{kFormatVersion, "LOG.base", 1, {}});
    ASSERT_TRUE(w.ok()) << w.status().ToString();
    for (size_t i = 0; i < 300; ++i) {
      Op op = Sample(OpKind::kWrite);
      op.data = std::string(i * 37 % 9000 + 1, static_cast<char>(i));
      ASSERT_TRUE((*w)->Append(op).ok());
    }
  }
  auto log = ReadLogFile(path_);
  ASSERT_TRUE(log.ok()) << log.status().ToString();
  EXPECT_FALSE(log->damage.has_value()) << log->damage->ToString();
  ASSERT_EQ(log->ops.size(), 300u);
  EXPECT_EQ(log->ops[299].data, std::string(299 * 37 % 9000 + 1, static_cast<char>(299)));
}

TEST_F(LogTest, CreateRefusesAnExistingLog) {
  WriteLog(1);
  EXPECT_FALSE(LogWriter::Create(path_, {}).ok());
}

TEST_F(LogTest, TruncationKeepsThePrefix) {
  const auto starts = WriteLog(4);
  std::string bytes = ReadBytes();
  WriteBytes(bytes.substr(0, starts[3] + 20));  // record 4 cut inside its payload
  auto log = ReadLogFile(path_);
  ASSERT_TRUE(log.ok());
  EXPECT_EQ(log->ops.size(), 3u);
  ASSERT_TRUE(log->damage.has_value());
  EXPECT_EQ(log->damage->record, 4u);
  EXPECT_EQ(log->damage->byte_offset, starts[3]);
  EXPECT_NE(log->damage->problem.find("truncated record"), std::string::npos)
      << log->damage->ToString();

  WriteBytes(bytes.substr(0, starts[2] + 3));  // record 3 cut inside its frame header
  log = ReadLogFile(path_);
  ASSERT_TRUE(log.ok());
  EXPECT_EQ(log->ops.size(), 2u);
  EXPECT_NE(log->damage->problem.find("truncated frame header"), std::string::npos);
}

TEST_F(LogTest, BitFlipIsCaughtByTheChecksum) {
  const auto starts = WriteLog(4);
  std::string bytes = ReadBytes();
  bytes[starts[1] + 30] ^= 0x10;
  WriteBytes(bytes);
  auto log = ReadLogFile(path_);
  ASSERT_TRUE(log.ok());
  EXPECT_EQ(log->ops.size(), 1u);
  ASSERT_TRUE(log->damage.has_value());
  EXPECT_EQ(log->damage->record, 2u);
  EXPECT_NE(log->damage->ToString().find("checksum mismatch"), std::string::npos);
}

TEST_F(LogTest, ReorderedRecordsAreDamage) {
  const auto starts = WriteLog(3);
  std::string bytes = ReadBytes();
  // Swap records 2 and 3: each frame is intact, but the sequence breaks.
  const std::string r2 = bytes.substr(starts[1], starts[2] - starts[1]);
  const std::string r3 = bytes.substr(starts[2]);
  WriteBytes(bytes.substr(0, starts[1]) + r3 + r2);
  auto log = ReadLogFile(path_);
  ASSERT_TRUE(log.ok());
  EXPECT_EQ(log->ops.size(), 1u);
  EXPECT_NE(log->damage->problem.find("sequence number 3"), std::string::npos)
      << log->damage->ToString();
}

TEST_F(LogTest, HeaderDamageIsAnError) {
  WriteLog(1);
  std::string bytes = ReadBytes();
  WriteBytes("NOTALOG!" + bytes.substr(8));
  auto log = ReadLogFile(path_);
  ASSERT_FALSE(log.ok());
  EXPECT_NE(log.status().message().find("FAULTFSR"), std::string::npos);
  bytes[8] = 9;  // version 9
  WriteBytes(bytes);
  log = ReadLogFile(path_);
  ASSERT_FALSE(log.ok());
  EXPECT_NE(log.status().message().find("version 9"), std::string::npos) << log.status().ToString();
  EXPECT_FALSE(ReadLogFile(dir_ + "/missing").ok());
}

}  // namespace
}  // namespace faultfs::record
