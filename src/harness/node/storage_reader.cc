// ReadNodeStorage: a data directory as it is on disk, judged slot by slot and record by record.
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "faultfs/harness/node_storage.h"
#include "file_io.h"
#include "format.h"

namespace faultfs::harness {
namespace {

constexpr uint64_t kSlotsPerRead = 256;  // 1 MiB of log per read

// Opens dir/name read only; an absent file is an invalid descriptor, not an error.
Result<UniqueFd> OpenIfPresent(int dir_fd, const char* name) {
  const int fd = ::openat(dir_fd, name, O_RDONLY | O_CLOEXEC);
  if (fd < 0 && errno == ENOENT) return UniqueFd();
  if (fd < 0) return Status::FromErrno(errno, std::string("opening ") + name);
  return UniqueFd(fd);
}

Result<std::string> ReadWhole(const UniqueFd& fd, const std::string& what) {
  if (!fd.valid()) return std::string();
  auto size = node::FileSize(fd.get(), what);
  if (!size.ok()) return size.status();
  return node::ReadAt(fd.get(), 0, *size, what);
}

Status ReadSlots(const UniqueFd& log, std::vector<StoredEntry>& entries, uint64_t& slots_in_file) {
  if (!log.valid()) return Status::Ok();
  auto size = node::FileSize(log.get(), "log");
  if (!size.ok()) return size.status();
  const uint64_t slots = (*size + kSlotBytes - 1) / kSlotBytes;
  slots_in_file = slots;
  if (entries.size() < slots) entries.resize(slots);
  for (uint64_t first = 0; first < slots; first += kSlotsPerRead) {
    const uint64_t count = std::min(kSlotsPerRead, slots - first);
    auto chunk = node::ReadAt(log.get(), first * kSlotBytes, count * kSlotBytes, "log");
    if (!chunk.ok()) return chunk.status();
    const std::string_view bytes = *chunk;
    for (uint64_t k = 0; k < count; ++k) {
      const uint64_t offset = k * kSlotBytes;
      const uint64_t index = first + k + 1;
      node::ParsedSlot parsed =
          node::ParseSlot(offset < bytes.size() ? bytes.substr(offset, kSlotBytes) : "", index);
      StoredEntry& e = entries[index - 1];
      if (!parsed.verifies) continue;
      e.slot_verifies = true;
      e.checksum = parsed.stored_checksum;
      e.encoded = std::move(parsed.raw);
      e.entry = std::move(parsed.entry);
    }
  }
  return Status::Ok();
}

void ReadRecords(std::string_view records, std::vector<StoredEntry>& entries) {
  const uint64_t count = records.size() / kRecordBytes;
  if (entries.size() < count) entries.resize(count);
  for (uint64_t k = 0; k < count; ++k) {
    const auto record = node::ParseRecord(records.substr(k * kRecordBytes, kRecordBytes), k + 1);
    if (!record) continue;
    StoredEntry& e = entries[k];
    e.has_record = true;
    e.record_term = record->term;
    e.record_checksum = record->checksum;
  }
}

Status ReadMeta(int dir_fd, NodeStorage& storage) {
  for (const char* name : {"meta.0", "meta.1"}) {
    auto fd = OpenIfPresent(dir_fd, name);
    if (!fd.ok()) return fd.status();
    if (!fd->valid()) continue;
    auto bytes = ReadWhole(*fd, name);
    if (!bytes.ok()) return bytes.status();
    if (!bytes->empty()) ++storage.meta_files;
    const auto meta = node::ParseMeta(*bytes);
    if (!meta) continue;
    ++storage.meta_copies_valid;
    if (!storage.meta || meta->version > storage.meta->version) storage.meta = meta;
  }
  return Status::Ok();
}

}  // namespace

Result<NodeStorage> ReadNodeStorage(const std::string& dir) {
  auto dir_fd = node::OpenDirectory(dir);
  if (!dir_fd.ok()) return dir_fd.status();
  NodeStorage storage;
  auto log = OpenIfPresent(dir_fd->get(), "log");
  if (!log.ok()) return log.status();
  FAULTFS_RETURN_IF_ERROR(ReadSlots(*log, storage.entries, storage.slots_in_file));
  auto persisted = OpenIfPresent(dir_fd->get(), "persisted");
  if (!persisted.ok()) return persisted.status();
  auto records = ReadWhole(*persisted, "persisted");
  if (!records.ok()) return records.status();
  storage.records_in_file = records->size() / kRecordBytes;
  ReadRecords(*records, storage.entries);
  while (!storage.entries.empty() && !storage.entries.back().slot_verifies &&
         !storage.entries.back().has_record) {
    storage.entries.pop_back();
  }
  for (size_t i = 0; i < storage.entries.size(); ++i) storage.entries[i].index = i + 1;
  FAULTFS_RETURN_IF_ERROR(ReadMeta(dir_fd->get(), storage));
  return storage;
}

}  // namespace faultfs::harness
