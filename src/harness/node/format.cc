#include "format.h"

#include <xxhash.h>

#include <cstring>

#include "faultfs/core/check.h"

namespace faultfs::harness {

uint64_t EntryChecksum(std::string_view encoded) {
  return XXH3_64bits(encoded.data(), encoded.size());
}

std::string EncodeEntry(const Entry& entry) {
  FAULTFS_CHECK(entry.value.size() <= kMaxValueBytes)
      << "an entry value of " << entry.value.size() << " bytes (at most " << kMaxValueBytes << ")";
  FAULTFS_CHECK(entry.index >= 1) << "entry index 0";
  std::string out;
  out.reserve(kEntryHeaderBytes + entry.value.size());
  node::PutU64(out, entry.index);
  node::PutU64(out, entry.term);
  node::PutU64(out, static_cast<uint64_t>(entry.client));
  node::PutU64(out, static_cast<uint64_t>(entry.req));
  node::PutU32(out, static_cast<uint32_t>(entry.value.size()));
  out.append(entry.value);
  FAULTFS_CHECK(out.size() == kEntryHeaderBytes + entry.value.size());
  return out;
}

std::optional<Entry> DecodeEntry(std::string_view encoded) {
  if (encoded.size() < kEntryHeaderBytes) return std::nullopt;
  const uint32_t length = node::GetU32(encoded, 32);
  if (length > kMaxValueBytes || encoded.size() != kEntryHeaderBytes + length) return std::nullopt;
  Entry e;
  e.index = node::GetU64(encoded, 0);
  e.term = node::GetU64(encoded, 8);
  e.client = static_cast<int64_t>(node::GetU64(encoded, 16));
  e.req = static_cast<int64_t>(node::GetU64(encoded, 24));
  e.value.assign(encoded.substr(kEntryHeaderBytes));
  if (e.index == 0) return std::nullopt;
  return e;
}

namespace node {

void PutU32(std::string& out, uint32_t v) {
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

void PutU64(std::string& out, uint64_t v) {
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

uint32_t GetU32(std::string_view bytes, size_t at) {
  FAULTFS_CHECK(at + 4 <= bytes.size());
  uint32_t v = 0;
  for (size_t i = 0; i < 4; ++i)
    v |= static_cast<uint32_t>(static_cast<unsigned char>(bytes[at + i])) << (8 * i);
  return v;
}

uint64_t GetU64(std::string_view bytes, size_t at) {
  FAULTFS_CHECK(at + 8 <= bytes.size());
  uint64_t v = 0;
  for (size_t i = 0; i < 8; ++i)
    v |= static_cast<uint64_t>(static_cast<unsigned char>(bytes[at + i])) << (8 * i);
  return v;
}

std::string EncodeSlot(std::string_view encoded) {
  FAULTFS_CHECK(encoded.size() <= kSlotBytes - kSlotHeaderBytes)
      << "an encoded entry of " << encoded.size() << " bytes does not fit a slot";
  std::string slot;
  slot.reserve(kSlotBytes);
  PutU32(slot, kSlotMagic);
  PutU32(slot, static_cast<uint32_t>(encoded.size()));
  PutU64(slot, EntryChecksum(encoded));
  slot.append(encoded);
  slot.resize(kSlotBytes, '\0');
  return slot;
}

ParsedSlot ParseSlot(std::string_view slot, uint64_t index) {
  std::string whole(slot.substr(0, kSlotBytes));
  whole.resize(kSlotBytes, '\0');
  ParsedSlot parsed;
  const uint32_t magic = GetU32(whole, 0);
  const uint64_t length = std::min<uint64_t>(GetU32(whole, 4), kSlotBytes - kSlotHeaderBytes);
  parsed.stored_checksum = GetU64(whole, 8);
  parsed.raw = whole.substr(kSlotHeaderBytes, length);
  if (magic != kSlotMagic || length != GetU32(whole, 4)) return parsed;
  if (EntryChecksum(parsed.raw) != parsed.stored_checksum) return parsed;
  auto entry = DecodeEntry(parsed.raw);
  if (!entry || entry->index != index) return parsed;
  parsed.entry = std::move(*entry);
  parsed.verifies = true;
  return parsed;
}

std::string EncodeRecord(const Record& record) {
  std::string out;
  out.reserve(kRecordBytes);
  PutU64(out, record.index);
  PutU64(out, record.term);
  PutU64(out, record.checksum);
  PutU64(out, XXH3_64bits(out.data(), out.size()));
  FAULTFS_CHECK(out.size() == kRecordBytes);
  return out;
}

std::optional<Record> ParseRecord(std::string_view bytes, uint64_t index) {
  if (bytes.size() < kRecordBytes) return std::nullopt;
  if (XXH3_64bits(bytes.data(), 24) != GetU64(bytes, 24)) return std::nullopt;
  Record r{GetU64(bytes, 0), GetU64(bytes, 8), GetU64(bytes, 16)};
  if (r.index != index) return std::nullopt;
  return r;
}

std::string EncodeMeta(const StoredMeta& meta) {
  std::string out;
  out.reserve(kMetaBytes);
  PutU64(out, meta.version);
  PutU64(out, meta.term);
  PutU32(out, static_cast<uint32_t>(meta.voted_for));
  PutU64(out, XXH3_64bits(out.data(), out.size()));
  FAULTFS_CHECK(out.size() == kMetaBytes);
  return out;
}

std::optional<StoredMeta> ParseMeta(std::string_view bytes) {
  if (bytes.size() < kMetaBytes) return std::nullopt;
  if (XXH3_64bits(bytes.data(), 20) != GetU64(bytes, 20)) return std::nullopt;
  return StoredMeta{GetU64(bytes, 0), GetU64(bytes, 8), static_cast<int32_t>(GetU32(bytes, 16))};
}

}  // namespace node
}  // namespace faultfs::harness
