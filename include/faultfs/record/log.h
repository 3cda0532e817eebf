// The record log: an append-only file of framed, checksummed records (docs/record-format.md).
//
//   header:  magic "FAULTFSR", u16 format version, u16 flags, u32 header length, then a header
//            record (the snapshot directory of the starting state, the recording's start time)
//   frames:  u32 payload length | u32 CRC-32C of the payload | payload (one encoded Op)
//
// The writer is used by a recording mount from many threads; the reader by crash-state tools. A
// damaged or truncated log is read up to the damage: the reader says which record and what is
// wrong, and everything before it stays usable.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "faultfs/core/status.h"
#include "faultfs/core/unique_fd.h"
#include "faultfs/record/op.h"

namespace faultfs::record {

inline constexpr uint16_t kFormatVersion = 1;
inline constexpr uint32_t kMaxPayloadBytes = 64u << 20;  // one record; larger writes are split

struct LogHeader {
  uint16_t version = kFormatVersion;
  std::string snapshot;  // the starting state: a directory, relative to the log's own directory
  uint64_t start_unix_ns = 0;  // wall clock when recording started
  // Every object of the starting state: its inode number in the recorded directory and its path
  // in the snapshot, so that ops (which name objects by inode) find pre-existing files.
  std::vector<std::pair<uint64_t, std::string>> inodes;
  bool operator==(const LogHeader&) const = default;
};

// CRC-32C (Castagnoli) of `data`, continuing from `crc` (0 to start).
uint32_t Crc32c(const void* data, size_t size, uint32_t crc = 0);

// Encoding of one op as a frame payload (exposed for tests and fuzzing).
std::string EncodeOp(const Op& op);
Result<Op> DecodeOp(std::string_view payload);

class LogWriter {
 public:
  // Creates `path` (failing if it exists) and writes the header.
  static Result<std::unique_ptr<LogWriter>> Create(const std::string& path,
                                                   const LogHeader& header);
  ~LogWriter();

  // Appends `op`, assigning its seq (returned). Thread-safe; ops are numbered in the order they
  // are appended. Writes larger than kMaxPayloadBytes are split into several kWrite records.
  Result<uint64_t> Append(Op op);
  // Makes everything appended so far durable (fdatasync of the log).
  Status Sync();
  uint64_t appended() const;

 private:
  explicit LogWriter(UniqueFd fd) : fd_(std::move(fd)) {}
  Status WriteFrame(const std::string& payload);
  mutable std::mutex mu_;
  UniqueFd fd_;
  uint64_t next_seq_ = 1;
  std::string buffer_;  // frames not yet written (flushed at a size threshold and by Sync)
};

// The damage a reader found: where, and what is wrong.
struct LogDamage {
  uint64_t record = 0;       // 1-based index of the first unusable record
  uint64_t byte_offset = 0;  // where its frame starts in the file
  std::string problem;       // "truncated frame: 12 of 4104 bytes", "checksum mismatch", ...
  std::string ToString() const;
};

struct ReadLog {
  LogHeader header;
  std::vector<Op> ops;              // every intact record before the damage
  std::optional<LogDamage> damage;  // set when the log does not end cleanly
};

// Reads a whole log. Fails only when the header itself is unusable (not a record log, unknown
// version); damage later in the file is reported in ReadLog::damage.
Result<ReadLog> ReadLogFile(const std::string& path);

}  // namespace faultfs::record
