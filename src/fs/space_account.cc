#include "space_account.h"

#include <fcntl.h>
#include <linux/fiemap.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstring>
#include <set>
#include <utility>
#include <vector>

#include "faultfs/core/tree_read.h"
#include "faultfs/core/unique_fd.h"

namespace faultfs::fs {
namespace {

uint64_t DataBytes(const struct stat& st) {
  return S_ISREG(st.st_mode) ? static_cast<uint64_t>(st.st_blocks) * 512 : 0;
}

// Allocated ranges of `fd` overlapping [begin, end), from FIEMAP, which also sees preallocated
// (unwritten) extents beyond the end of the file and data not yet allocated on disk (delayed
// allocation). False when the filesystem has no FIEMAP.
bool FiemapRanges(int fd, uint64_t begin, uint64_t end, std::vector<engine::ByteRange>& out) {
  constexpr unsigned kExtents = 64;
  alignas(fiemap) std::byte buf[sizeof(fiemap) + kExtents * sizeof(fiemap_extent)];
  auto* map = reinterpret_cast<fiemap*>(buf);
  uint64_t start = begin;
  while (start < end) {
    std::memset(buf, 0, sizeof(buf));
    map->fm_start = start;
    map->fm_length = end - start;
    map->fm_extent_count = kExtents;
    if (ioctl(fd, FS_IOC_FIEMAP, map) != 0) return false;
    const unsigned n = map->fm_mapped_extents;
    for (unsigned i = 0; i < n; ++i) {
      const fiemap_extent& e = map->fm_extents[i];
      out.push_back({e.fe_logical, e.fe_logical + e.fe_length});
    }
    if (n < kExtents || (map->fm_extents[n - 1].fe_flags & FIEMAP_EXTENT_LAST) != 0) break;
    start = map->fm_extents[n - 1].fe_logical + map->fm_extents[n - 1].fe_length;
  }
  return true;
}

// The same from SEEK_DATA/SEEK_HOLE (data within the file's size only).
void SeekRanges(int fd, uint64_t begin, uint64_t end, uint64_t size,
                std::vector<engine::ByteRange>& out) {
  uint64_t pos = begin;
  end = std::min(end, size);
  while (pos < end) {
    const off_t data = lseek(fd, static_cast<off_t>(pos), SEEK_DATA);
    if (data < 0) {
      if (errno != ENXIO) out.push_back({pos, end});  // no answer: assume allocated, charge nothing
      return;
    }
    const off_t hole = lseek(fd, data, SEEK_HOLE);
    const uint64_t stop = hole < 0 ? end : static_cast<uint64_t>(hole);
    out.push_back({static_cast<uint64_t>(data), stop});
    pos = stop;
  }
}

uint64_t BlockSize(const struct stat& st) {
  return st.st_blksize > 0 ? static_cast<uint64_t>(st.st_blksize) : 4096;
}

}  // namespace

Result<engine::CapacityUsage> SpaceAccount::Measure(int root_fd) {
  engine::CapacityUsage used;
  std::set<std::pair<dev_t, ino_t>> linked;  // files with several names, counted once
  std::vector<UniqueFd> pending;
  pending.emplace_back(dup(root_fd));
  if (!pending.back()) return Status::FromErrno(errno, "measuring the backing directory");
  while (!pending.empty()) {
    UniqueFd dir_fd = std::move(pending.back());
    pending.pop_back();
    auto entries = ReadDir(dir_fd.get(), "the backing directory");
    if (!entries.ok()) return entries.status();
    for (const DirEntry& e : *entries) {
      struct stat st {};
      if (fstatat(dir_fd.get(), e.name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0)
        continue;  // removed meanwhile
      if (st.st_nlink > 1 && !S_ISDIR(st.st_mode) && !linked.emplace(st.st_dev, st.st_ino).second)
        continue;
      used.inodes++;
      used.bytes += DataBytes(st);
      if (S_ISDIR(st.st_mode)) {
        UniqueFd sub(
            openat(dir_fd.get(), e.name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
        if (!sub) return Status::FromErrno(errno, "measuring the backing directory: " + e.name);
        pending.push_back(std::move(sub));
      }
    }
  }
  return used;
}

SpaceAccount::FileChange::FileChange(SpaceAccount& account, InodeKey key, int fd)
    : account_(account), fd_(fd), lock_(account.LockOf(key.dev, key.ino)) {
  measured_ = fstat(fd, &before_) == 0;
}

engine::WriteFit SpaceAccount::FileChange::Fit(uint64_t off, uint64_t len) const {
  const uint64_t block = BlockSize(before_);
  const uint64_t begin = off / block * block;
  const uint64_t end = (off + len + block - 1) / block * block;
  std::vector<engine::ByteRange> allocated;
  if (!FiemapRanges(fd_, begin, end, allocated)) {
    allocated.clear();
    SeekRanges(fd_, begin, end, size_before(), allocated);
  }
  return engine::FitWrite(allocated, block, off, len, account_.model_.RoomBytes());
}

uint64_t SpaceAccount::FileChange::AdmitWrite(uint64_t off, uint64_t len) {
  if (!measured_ || !account_.model_.limited()) return len;
  engine::WriteFit fit = Fit(off, len);
  // Another file's change may have taken the room since: then admit nothing rather than overshoot.
  if (!account_.model_.ReserveBytes(fit.allocates)) return 0;
  reserved_ += fit.allocates;
  return fit.len;
}

bool SpaceAccount::FileChange::AdmitAll(uint64_t off, uint64_t len) {
  if (!measured_ || !account_.model_.limited()) return true;
  const engine::WriteFit fit = Fit(off, len);
  if (fit.len < len || !account_.model_.ReserveBytes(fit.allocates)) return false;
  reserved_ += fit.allocates;
  return true;
}

void SpaceAccount::FileChange::Settle() {
  if (!lock_.owns_lock()) return;
  struct stat after {};
  if (measured_ && fstat(fd_, &after) == 0 && after.st_nlink > 0) {
    // An unlinked file's blocks were given back at its removal; what it does later is free.
    const int64_t actual =
        static_cast<int64_t>(DataBytes(after)) - static_cast<int64_t>(DataBytes(before_));
    account_.model_.Settle(reserved_, before_.st_nlink > 0 ? actual : 0);
  } else {
    account_.model_.Settle(reserved_, 0);
  }
  reserved_ = 0;
  lock_.unlock();
}

SpaceAccount::Removal::Removal(SpaceAccount& account, int dir_fd, const char* name)
    : account_(account) {
  // Lock the object the name points to, then make sure the name still points to it.
  for (int attempt = 0; attempt < 8; ++attempt) {
    struct stat st {};
    if (fstatat(dir_fd, name, &st, AT_SYMLINK_NOFOLLOW) != 0) return;  // nothing to remove
    std::unique_lock<std::mutex> lock(account.LockOf(st.st_dev, st.st_ino));
    if (fstatat(dir_fd, name, &victim_, AT_SYMLINK_NOFOLLOW) != 0) return;
    if (victim_.st_ino == st.st_ino && victim_.st_dev == st.st_dev) {
      lock_ = std::move(lock);
      exists_ = true;
      return;
    }
  }
}

void SpaceAccount::Removal::UnlessSameAs(int dir_fd, const char* name) {
  struct stat st {};
  if (exists_ && fstatat(dir_fd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
      st.st_ino == victim_.st_ino && st.st_dev == victim_.st_dev) {
    exists_ = false;
  }
}

void SpaceAccount::Removal::Removed() {
  // A file with other names keeps its inode and blocks (a directory has no other names: its link
  // count is "." and its parent's entry).
  if (!exists_ || (!S_ISDIR(victim_.st_mode) && victim_.st_nlink > 1)) return;
  account_.model_.ReturnInode();
  account_.model_.Settle(0, -static_cast<int64_t>(DataBytes(victim_)));
}

}  // namespace faultfs::fs
