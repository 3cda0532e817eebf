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

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "faultfs/core/mutex.h"
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
  // in the snapshot (ending in '/' for a directory), so that ops (which name objects by inode)
  // find pre-existing files.
  std::vector<std::pair<uint64_t, std::string>> inodes;
  bool operator==(const LogHeader&) const = default;
};

// Where a recording keeps its starting state (the snapshot): a directory beside the log.
inline std::string SnapshotBesideLog(const std::string& log_path) { return log_path + ".base"; }

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
  // are appended, and reach the file in that order. Writes larger than kMaxPayloadBytes are split
  // into several kWrite records. The file is written by a thread of the writer's own: an error
  // writing it is returned by a later Append or Sync.
  Result<uint64_t> Append(Op op);
  // The same with `data` as the op's data (op.data is ignored), copied once, into the frame.
  Result<uint64_t> Append(Op op, std::string_view data);
  // Makes everything appended so far durable (fdatasync of the log).
  Status Sync();
  uint64_t appended() const;

 private:
  // Frames gathered for one write(2): their bytes, and where each frame starts (its checksum is
  // left for the writer thread to fill in).
  struct Batch {
    std::string bytes;
    std::vector<size_t> frames;
  };
  explicit LogWriter(UniqueFd fd);
  LogWriter(const LogWriter&) = delete;
  LogWriter& operator=(const LogWriter&) = delete;
  void AddFrame(const Op& op, std::string_view data) FAULTFS_REQUIRES(mu_);
  void Queue() FAULTFS_REQUIRES(mu_);  // the current batch goes to the writer thread
  Status Drain(MutexLock& lock) FAULTFS_REQUIRES(mu_);
  void WriterLoop() FAULTFS_EXCLUDES(mu_);

  mutable Mutex mu_;
  std::condition_variable queued_cv_;   // the writer thread has work, or must stop
  std::condition_variable written_cv_;  // the writer thread wrote what it had taken
  UniqueFd fd_;
  std::unique_ptr<class LogFile> file_;  // used by the writer thread only
  uint64_t next_seq_ FAULTFS_GUARDED_BY(mu_) = 1;
  // Frames not yet queued (queued at a size threshold and by Sync).
  Batch batch_ FAULTFS_GUARDED_BY(mu_);
  std::deque<Batch> queue_ FAULTFS_GUARDED_BY(mu_);  // for the writer thread, in order
  size_t queued_bytes_ FAULTFS_GUARDED_BY(mu_) = 0;  // in queue_ and being written
  bool stop_ FAULTFS_GUARDED_BY(mu_) = false;
  // The writer thread's first error; the log is incomplete from there.
  Status error_ FAULTFS_GUARDED_BY(mu_);
  std::thread thread_;
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
