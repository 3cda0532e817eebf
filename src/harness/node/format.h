// The byte layouts of a node's files (docs/harness.md, "Storage"; summarised in
// faultfs/harness/node_storage.h): slots, persistence records and meta copies. Pure functions,
// shared by the reader, recovery and the writer, so that what is written is what is read.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "faultfs/harness/node_storage.h"

namespace faultfs::harness::node {

inline constexpr uint32_t kSlotMagic = 0x46'4C'4F'47;  // "GOLF" read little endian: a log slot
inline constexpr uint64_t kMetaBytes = 28;

void PutU32(std::string& out, uint32_t v);
void PutU64(std::string& out, uint64_t v);
uint32_t GetU32(std::string_view bytes, size_t at);
uint64_t GetU64(std::string_view bytes, size_t at);

// A whole 4 KiB slot holding `encoded` (at most kSlotBytes - kSlotHeaderBytes, checked).
std::string EncodeSlot(std::string_view encoded);

// What a slot's bytes say. `raw` is what the header's length names, capped to the slot (the
// damaged copy a node sends when asked), `verifies` whether magic, length and checksum hold and
// the bytes decode as entry `index`.
struct ParsedSlot {
  bool verifies = false;
  std::string raw;
  uint64_t stored_checksum = 0;
  Entry entry;  // when verifies
};
// `slot` may be shorter than a slot (the end of the file): the rest reads as zeros.
ParsedSlot ParseSlot(std::string_view slot, uint64_t index);

struct Record {
  uint64_t index = 0;
  uint64_t term = 0;
  uint64_t checksum = 0;  // the entry's
};
std::string EncodeRecord(const Record& record);
// The record, when its own checksum verifies and it names `index`.
std::optional<Record> ParseRecord(std::string_view bytes, uint64_t index);

std::string EncodeMeta(const StoredMeta& meta);
std::optional<StoredMeta> ParseMeta(std::string_view bytes);

}  // namespace faultfs::harness::node
