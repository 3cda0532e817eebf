#include "storage.h"

#include <sys/stat.h>

#include <cerrno>
#include <filesystem>

#include "file_io.h"

namespace faultfs::harness::node {
namespace {

// Creates `dir` if missing, fsyncing its parent so that the new name is durable.
Status EnsureDirectory(const std::string& dir) {
  if (::mkdir(dir.c_str(), 0755) == 0) {
    const std::string parent = std::filesystem::path(dir).parent_path().string();
    auto parent_fd = OpenDirectory(parent.empty() ? "." : parent);
    if (!parent_fd.ok()) return parent_fd.status();
    return Fsync(parent_fd->get(), "directory " + parent);
  }
  if (errno == EEXIST) return Status::Ok();
  return Status::FromErrno(errno, "creating data directory " + dir);
}

// Runs of consecutive indexes, each written with one call: `place(i)` is its offset, `bytes(k)`
// the k-th item's bytes.
template <typename Item, typename Offset, typename Bytes>
Status WriteRuns(int fd, const std::vector<Item>& items, Offset place, Bytes bytes,
                 const std::string& what) {
  size_t k = 0;
  while (k < items.size()) {
    std::string run = bytes(items[k]);
    const uint64_t offset = place(items[k]);
    size_t next = k + 1;
    while (next < items.size() && items[next].index == items[next - 1].index + 1) {
      run += bytes(items[next]);
      ++next;
    }
    FAULTFS_RETURN_IF_ERROR(WriteAt(fd, offset, run, what));
    k = next;
  }
  return Status::Ok();
}

}  // namespace

Result<std::unique_ptr<StorageFiles>> StorageFiles::Open(const std::string& dir) {
  FAULTFS_RETURN_IF_ERROR(EnsureDirectory(dir));
  std::unique_ptr<StorageFiles> files(new StorageFiles());
  files->dir_path_ = dir;
  auto dir_fd = OpenDirectory(dir);
  if (!dir_fd.ok()) return dir_fd.status();
  files->dir_ = std::move(*dir_fd);
  bool any_created = false;
  const std::pair<const char*, UniqueFd*> wanted[] = {{"log", &files->log_},
                                                      {"persisted", &files->persisted_},
                                                      {"meta.0", &files->meta_[0]},
                                                      {"meta.1", &files->meta_[1]}};
  for (const auto& [name, fd] : wanted) {
    bool created = false;
    auto opened = OpenOrCreate(files->dir_.get(), name, created);
    if (!opened.ok()) return opened.status();
    *fd = std::move(*opened);
    any_created = any_created || created;
  }
  // A file is not durable until its name is: fsync the directory after creating any.
  if (any_created) FAULTFS_RETURN_IF_ERROR(Fsync(files->dir_.get(), "directory " + dir));
  return files;
}

Status StorageFiles::WriteEntries(const std::vector<SlotWrite>& writes) {
  if (writes.empty()) return Status::Ok();
  FAULTFS_RETURN_IF_ERROR(WriteRuns(
      log_.get(), writes, [](const SlotWrite& w) { return (w.index - 1) * kSlotBytes; },
      [](const SlotWrite& w) { return EncodeSlot(w.encoded); }, "log"));
  FAULTFS_RETURN_IF_ERROR(Fsync(log_.get(), "log"));
  std::vector<Record> records;
  records.reserve(writes.size());
  for (const SlotWrite& w : writes) records.push_back({w.index, w.term, EntryChecksum(w.encoded)});
  return WriteRecords(records);
}

Status StorageFiles::WriteRecords(const std::vector<Record>& records) {
  if (records.empty()) return Status::Ok();
  FAULTFS_RETURN_IF_ERROR(WriteRuns(
      persisted_.get(), records, [](const Record& r) { return (r.index - 1) * kRecordBytes; },
      [](const Record& r) { return EncodeRecord(r); }, "persisted"));
  return Fsync(persisted_.get(), "persisted");
}

Status StorageFiles::CutAfter(uint64_t keep) {
  FAULTFS_RETURN_IF_ERROR(Truncate(persisted_.get(), keep * kRecordBytes, "persisted"));
  FAULTFS_RETURN_IF_ERROR(Fsync(persisted_.get(), "persisted"));
  FAULTFS_RETURN_IF_ERROR(Truncate(log_.get(), keep * kSlotBytes, "log"));
  return Fsync(log_.get(), "log");
}

Status StorageFiles::WriteMeta(const StoredMeta& meta) {
  const std::string bytes = EncodeMeta(meta);
  const size_t first = meta.version % 2;
  for (const size_t copy : {first, 1 - first}) {
    const std::string name = "meta." + std::to_string(copy);
    FAULTFS_RETURN_IF_ERROR(WriteAt(meta_[copy].get(), 0, bytes, name));
    FAULTFS_RETURN_IF_ERROR(Fsync(meta_[copy].get(), name));
  }
  return Status::Ok();
}

Result<std::string> StorageFiles::ReadSlot(uint64_t index) const {
  FAULTFS_CHECK(index >= 1);
  return ReadAt(log_.get(), (index - 1) * kSlotBytes, kSlotBytes, "log");
}

}  // namespace faultfs::harness::node
