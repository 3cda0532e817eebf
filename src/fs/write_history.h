// What writes overwrote, per inode, since its last successful fsync: the bytes a range held before
// each write, and the file's size at the last sync. Kept only while a rule needs it:
//   * stale reads return what a range held before its last write;
//   * an fsync that fails with Linux semantics drops the file's unsynced data, i.e. puts back
//     what the file held at its last successful fsync.
// Bounded: past kMaxBytes per inode the oldest entries go (stale reads then see less history, and
// a dropped fsync cannot put everything back, which is logged).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "faultfs/core/mutex.h"
#include "inode_table.h"

namespace faultfs::fs {

class WriteHistory {
 public:
  static constexpr size_t kMaxBytes = 64u << 20;

  // Before writing `size` bytes at `offset` of the file open as `fd`: saves what is there.
  void BeforeWrite(const InodeKey& inode, int fd, uint64_t offset, size_t size);
  // Overlays, onto `buf` (a read of [offset, offset + n)), what each byte held before its last
  // write.
  void Stale(const InodeKey& inode, uint64_t offset, char* buf, size_t n);
  // Puts back what the file held at its last successful sync; false if history was incomplete.
  bool DropUnsynced(const InodeKey& inode, int fd);
  void Synced(const InodeKey& inode);  // a real fsync succeeded: the history restarts
  // After a live crash: the files it knew are gone (and their numbers may name new files).
  void Clear() {
    MutexLock lock(mu_);
    files_.clear();
  }

 private:
  struct Entry {
    uint64_t offset;
    std::string old_bytes;  // what [offset, offset + old_bytes.size()) held
  };
  struct File {
    off_t synced_size = -1;  // size at the last sync (-1: not seen yet)
    std::vector<Entry> entries;
    size_t bytes = 0;
    bool truncated_history = false;
  };
  Mutex mu_;
  std::map<std::pair<ino_t, dev_t>, File> files_ FAULTFS_GUARDED_BY(mu_);
};

}  // namespace faultfs::fs
