#include "write_history.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>

#include "faultfs/core/mutex.h"
#include "faultfs/core/unique_fd.h"

namespace faultfs::fs {

namespace {

// The same file opened anew with `access` (O_RDONLY, O_WRONLY): the application's descriptor may
// not allow reading what is about to be overwritten, or writing the old bytes back.
UniqueFd Reopen(int fd, int access) {
  char path[32];
  std::snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
  return UniqueFd(open(path, access | O_CLOEXEC));
}

}  // namespace

void WriteHistory::BeforeWrite(const InodeKey& inode, int fd, uint64_t offset, size_t size) {
  struct stat st {};
  if (fstat(fd, &st) != 0) return;
  std::string old;
  if (offset < static_cast<uint64_t>(st.st_size)) {
    old.resize(std::min<uint64_t>(size, static_cast<uint64_t>(st.st_size) - offset));
    const UniqueFd reader = Reopen(fd, O_RDONLY);
    const ssize_t n = pread(reader.get(), old.data(), old.size(), static_cast<off_t>(offset));
    old.resize(n > 0 ? static_cast<size_t>(n) : 0);
  }
  MutexLock lock(mu_);
  File& f = files_[{inode.ino, inode.dev}];
  if (f.synced_size < 0) f.synced_size = st.st_size;
  f.bytes += old.size();
  f.entries.push_back({offset, std::move(old)});
  while (f.bytes > kMaxBytes && !f.entries.empty()) {
    f.bytes -= f.entries.front().old_bytes.size();
    f.entries.erase(f.entries.begin());
    f.truncated_history = true;
  }
}

void WriteHistory::Stale(const InodeKey& inode, uint64_t offset, char* buf, size_t n) {
  MutexLock lock(mu_);
  const auto it = files_.find({inode.ino, inode.dev});
  if (it == files_.end()) return;
  // Oldest to newest: for each byte the newest overwrite's old value is what remains.
  for (const Entry& e : it->second.entries) {
    const uint64_t lo = std::max(offset, e.offset);
    const uint64_t hi = std::min(offset + n, e.offset + e.old_bytes.size());
    for (uint64_t b = lo; b < hi; ++b) buf[b - offset] = e.old_bytes[b - e.offset];
  }
}

bool WriteHistory::DropUnsynced(const InodeKey& inode, int fd) {
  File f;
  {
    MutexLock lock(mu_);
    const auto it = files_.find({inode.ino, inode.dev});
    if (it == files_.end()) return true;  // nothing written since the last sync
    f = std::move(it->second);
    files_.erase(it);
  }
  const UniqueFd writer = Reopen(fd, O_WRONLY);
  if (!writer) return false;
  // Newest to oldest, so the oldest write's old bytes (the synced state) are what remains.
  for (auto e = f.entries.rbegin(); e != f.entries.rend(); ++e) {
    (void)pwrite(writer.get(), e->old_bytes.data(), e->old_bytes.size(),
                 static_cast<off_t>(e->offset));
  }
  if (f.synced_size >= 0) (void)ftruncate(writer.get(), f.synced_size);
  (void)fdatasync(writer.get());  // what a failed writeback leaves on disk is the old state
  return !f.truncated_history;
}

void WriteHistory::Synced(const InodeKey& inode) {
  MutexLock lock(mu_);
  files_.erase({inode.ino, inode.dev});
}

}  // namespace faultfs::fs
