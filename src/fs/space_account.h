// SpaceAccount feeds the capacity model (engine/capacity.h) from the backing filesystem: what the
// tree uses when the mount starts, then every change as measured on the backing files. Changes to
// one file are serialized (a lock per file, striped), so "allocated after minus before" is exactly
// that change's cost, and a write is admitted only as far as the budget reaches.
#pragma once

#include <sys/stat.h>

#include <array>
#include <cstdint>
#include <mutex>

#include "faultfs/core/status.h"
#include "faultfs/engine/capacity.h"
#include "inode_table.h"

namespace faultfs::fs {

class SpaceAccount {
 public:
  // What the tree under `root_fd` uses: data blocks of regular files (hard links counted once)
  // and one inode per object; the root itself is free.
  static Result<engine::CapacityUsage> Measure(int root_fd);

  explicit SpaceAccount(engine::CapacityUsage used) : model_(used) {}
  engine::CapacityModel& model() { return model_; }
  const engine::CapacityModel& model() const { return model_; }

  // One change to a regular file's data (write, fallocate, truncate, copy). Construct it before
  // the change, settle it before replying: the allocation the change caused is charged then.
  class FileChange {
   public:
    FileChange(SpaceAccount& account, InodeKey key, int fd);
    ~FileChange() { Settle(); }
    FileChange(const FileChange&) = delete;
    FileChange& operator=(const FileChange&) = delete;

    uint64_t size_before() const { return static_cast<uint64_t>(before_.st_size); }
    // The part of a write of `len` bytes at `off` that fits; 0 when nothing does.
    uint64_t AdmitWrite(uint64_t off, uint64_t len);
    // Whether allocating all of [off, off + len) fits (fallocate is all or nothing).
    bool AdmitAll(uint64_t off, uint64_t len);
    // Charges what the change allocated (or frees what it released) and ends it.
    void Settle();

   private:
    engine::WriteFit Fit(uint64_t off, uint64_t len) const;

    SpaceAccount& account_;
    int fd_;
    std::unique_lock<std::mutex> lock_;
    struct stat before_ {};
    bool measured_ = false;
    uint64_t reserved_ = 0;
  };

  // An inode for an object about to be created; given back unless Keep() is called (the
  // creation failed). `account` may be null (no capacity model): then always granted.
  class InodeClaim {
   public:
    explicit InodeClaim(SpaceAccount* account)
        : account_(account), granted_(account == nullptr || account->model_.TakeInode()) {}
    ~InodeClaim() {
      if (account_ != nullptr && granted_ && !kept_) account_->model_.ReturnInode();
    }
    InodeClaim(const InodeClaim&) = delete;
    InodeClaim& operator=(const InodeClaim&) = delete;
    bool granted() const { return granted_; }
    int err() const { return account_->model_.err(); }
    void Keep() { kept_ = true; }

   private:
    SpaceAccount* account_;
    bool granted_;
    bool kept_ = false;
  };

  // Removing the name `name` in `dir_fd` (unlink, rmdir, or a rename replacing it). Construct it
  // before the removal and call Removed() after it succeeded: if that was the object's last link,
  // its inode and data blocks come back.
  class Removal {
   public:
    Removal(SpaceAccount& account, int dir_fd, const char* name);
    // A rename of a name onto another name of the same object removes nothing.
    void UnlessSameAs(int dir_fd, const char* name);
    void Removed();

   private:
    SpaceAccount& account_;
    std::unique_lock<std::mutex> lock_;
    struct stat victim_ {};
    bool exists_ = false;
  };

 private:
  std::mutex& LockOf(dev_t dev, ino_t ino) {
    return locks_[InodeKeyHash()(InodeKey{ino, dev}) % locks_.size()];
  }

  engine::CapacityModel model_;
  // One object's changes at a time (by inode, striped): they order the measuring of what a change
  // allocated and guard no field here, and are held by the change objects above for the whole
  // change, so they are plain mutexes, outside the thread-safety analysis (core/mutex.h).
  std::array<std::mutex, 64> locks_;
};

}  // namespace faultfs::fs
