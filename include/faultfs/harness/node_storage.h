// A harness node's data directory (docs/harness.md, "Storage"), read without a running node: the
// checker compares every node's final log with what this returns, and the node's own recovery
// starts from it.
//
// Files: `log` (entry i in a 4 KiB slot at (i - 1) * 4096: u32 magic | u32 length | u64 XXH3-64
// of the encoded entry | encoded entry | zero padding), `persisted` (a 32-byte persistence record
// per entry at (i - 1) * 32: u64 index | u64 term | u64 entry checksum | u64 XXH3-64 of the first
// 24 bytes) and `meta.0` / `meta.1` (u64 version | u64 term | i32 voted_for | u64 XXH3-64 of the
// first 20 bytes; the valid copy with the highest version wins). All integers little endian.
//
// An encoded entry is u64 index | u64 term | i64 client | i64 req | u32 value length | value.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "faultfs/core/status.h"

namespace faultfs::harness {

inline constexpr uint64_t kSlotBytes = 4096;
inline constexpr uint64_t kSlotHeaderBytes = 16;
inline constexpr uint64_t kRecordBytes = 32;
inline constexpr uint64_t kEntryHeaderBytes = 36;
inline constexpr uint64_t kMaxValueBytes = 3072;  // the contract's limit on client values
// The client id of the entry a new leader appends at the start of its term (Raft's no-op, which
// lets it commit what earlier terms left); its req is the term. Not a client's request.
inline constexpr int64_t kNoopClient = -1;

struct Entry {
  uint64_t index = 0;
  uint64_t term = 0;
  int64_t client = 0;
  int64_t req = 0;
  std::string value;
  bool operator==(const Entry&) const = default;
};

// The bytes an entry's checksum covers. The value must be at most kMaxValueBytes (checked).
std::string EncodeEntry(const Entry& entry);
// The entry, when `encoded` is exactly one well-formed encoded entry.
std::optional<Entry> DecodeEntry(std::string_view encoded);
// XXH3-64 of an encoded entry: the checksum in its slot and in its persistence record.
uint64_t EntryChecksum(std::string_view encoded);

// What a data directory holds at one index.
struct StoredEntry {
  uint64_t index = 0;
  // The slot's magic and length are sane, its checksum verifies and it decodes as entry `index`.
  bool slot_verifies = false;
  Entry entry;            // when slot_verifies
  std::string encoded;    // when slot_verifies: the encoded entry as stored
  uint64_t checksum = 0;  // when slot_verifies: its checksum
  // A persistence record for this index whose own checksum verifies.
  bool has_record = false;
  uint64_t record_term = 0;
  uint64_t record_checksum = 0;
  bool record_matches() const {
    return has_record && slot_verifies && record_term == entry.term && record_checksum == checksum;
  }
  bool is_noop() const { return slot_verifies && entry.client == kNoopClient; }
};

struct StoredMeta {
  uint64_t version = 0;
  uint64_t term = 0;
  int32_t voted_for = -1;
};

struct NodeStorage {
  // Indexes 1..n (entries[i - 1] is index i), n the highest index with a slot that verifies or a
  // valid record. Slots past it (empty, or torn by a crash) are not listed, only counted.
  std::vector<StoredEntry> entries;
  uint64_t slots_in_file = 0;      // the log's size in slots (a partial last slot counts)
  uint64_t records_in_file = 0;    // the persisted file's size in whole records
  std::optional<StoredMeta> meta;  // the valid meta copy with the highest version
  int meta_copies_valid = 0;       // 0, 1 or 2
  int meta_files = 0;              // how many of meta.0 and meta.1 exist and are not empty
};

// Reads `dir` (read only; nothing is repaired or written). A missing file reads as empty; a
// missing directory or an unreadable file is an error.
Result<NodeStorage> ReadNodeStorage(const std::string& dir);

}  // namespace faultfs::harness
