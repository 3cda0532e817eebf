// The parts of a StateBuilder (state_builder.h) that its two source files share: what it knows
// of each file it can lend, and of each object of the snapshot.
#pragma once

#include <sys/stat.h>

#include <cstdint>
#include <functional>
#include <string>

#include "faultfs/core/status.h"
#include "faultfs/crash/state_builder.h"

namespace faultfs::crash {

struct StateBuilder::File {
  std::string home;    // its path in the snapshot and in the pristine copy
  std::string digest;  // HashFileEntry: its xattrs and contents ("" until known)
  ino_t ino = 0;       // its inode in the pristine copy (or its first state, once lent)
  // At home; in the current state; or, intact, in the previous state's tree at `seen_path`; or
  // not copied anywhere yet (unborn: the first state that needs it gets it straight from the base).
  enum class Where { kHome, kLent, kParked, kUnborn } where = Where::kHome;
  bool lent() const { return where == Where::kLent; }
  // Where and how the current state's hash saw it: what the checker must leave alone.
  bool seen = false;
  std::string seen_path;
  struct stat seen_st {};
  bool recorded = false;   // unborn, and in the recorded directory untouched (head_start.h)
  uint64_t found = 0;      // the last Reset() that found it lent, unchanged, at home
  struct stat scanned {};  // as ScanBase saw it in the base
};

// An object of the snapshot as the pristine copy had it before lending anything.
struct StateBuilder::SnapEntry {
  struct stat st {};
  File* file = nullptr;  // a file that can be lent, if it is one
  bool xattrs = false;   // a directory with extended attributes
};

// Whether two stats describe the same object, unchanged: any change to an object (data, name,
// links, mode, owner, xattrs) gives it a new ctime.
inline bool SameFile(const struct stat& a, const struct stat& b) {
  return a.st_dev == b.st_dev && a.st_ino == b.st_ino && a.st_size == b.st_size &&
         a.st_mtim.tv_sec == b.st_mtim.tv_sec && a.st_mtim.tv_nsec == b.st_mtim.tv_nsec &&
         a.st_ctim.tv_sec == b.st_ctim.tv_sec && a.st_ctim.tv_nsec == b.st_ctim.tv_nsec &&
         a.st_nlink == b.st_nlink && a.st_mode == b.st_mode && a.st_uid == b.st_uid &&
         a.st_gid == b.st_gid;
}

inline std::string JoinPath(const std::string& dir, const std::string& name) {
  return dir.empty() ? name : dir + "/" + name;
}

// Visits every object under the directory `root` (not following symlinks): its directory's path
// ("" the root), its name, its path, its lstat. Directories are visited before what they hold.
using TreeVisitor = std::function<Status(const std::string& dir, const std::string& name,
                                         const std::string& path, const struct stat& st)>;
Status WalkTree(int root, const TreeVisitor& visit);

}  // namespace faultfs::crash
