// What spares a StateBuilder most of its first state's cost: every job's first state is the whole
// starting state, copied from the snapshot and hashed. crashtest has both of these already, or can
// have them while the workload runs:
//
//  * the digests of the snapshot's files, read once for all builders (SnapshotDigests), instead
//    of once by every builder's first hash;
//  * the recorded directory: the copy of the user's directory that the recording mount served.
//    After the recording, its files that no recorded op touched are still the snapshot's, byte
//    for byte, and nothing needs them any more: one builder moves them into its first state
//    instead of copying them (a rename each).
#pragma once

#include <sys/stat.h>

#include <cstdint>
#include <string>
#include <unordered_map>

#include "faultfs/core/status.h"

namespace faultfs::crash {

class History;

// The digest (HashFileEntry) of every regular file with a single name in a snapshot, with the
// stat it had when it was read. Read-only once made, so any thread may use it.
class SnapshotDigests {
 public:
  static Result<SnapshotDigests> Of(const std::string& snapshot);
  // The digest of the file at `path` (relative to the snapshot), if `st` (its lstat there) is
  // the stat it was read with: any change since would show in the ctime.
  const std::string* Find(const std::string& path, const struct stat& st) const;
  size_t size() const { return by_path_.size(); }

 private:
  struct Known {
    struct stat st {};
    std::string digest;
  };
  std::unordered_map<std::string, Known> by_path_;
};

struct HeadStart {
  const SnapshotDigests* digests = nullptr;  // of the builder's snapshot; may be null
  // The recorded directory after the recording ("" none). The builder moves files out of it: give
  // it to one builder only, and only when nothing needs the directory again.
  std::string recorded;
};

// The files of the starting state that no op of `history` touches (by data, metadata, name or
// link), by path, with the inode number each had in the recorded directory.
std::unordered_map<std::string, uint64_t> UntouchedFiles(const History& history);

}  // namespace faultfs::crash
