// The log's own history, replayed in full: every op resolved to the objects and directory entries
// it acts on (docs/persistence-models.md, "Objects and entries"). Crash states are judged against
// it: an entry op of a state must meet the entries as this replay met them.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "faultfs/core/status.h"
#include "faultfs/record/log.h"
#include "reference/fs.h"

namespace faultfs::crash::reference {

// An entry changed by an op: what it held before the op and after.
struct Change {
  Entry entry;
  ObjId before = kNoObject;
  ObjId after = kNoObject;
};

// What one recorded op does, resolved.
struct Step {
  // The op's object: the new object (create, mknod, mkdir, symlink), the one whose name changes
  // (link, unlink, rmdir, rename: the source), the file or directory (data, metadata, syncs).
  ObjId object = kNoObject;
  std::vector<Change> changes;  // entry ops: every entry the whole op changes
  // link, rename: each entry on the way to the source (both for RENAME_EXCHANGE), with the object
  // it held, from the root down.
  std::vector<std::pair<Entry, ObjId>> source_path;
  // rename of a directory: each entry on the way to the destination's directory, from the root
  // down (a filesystem checks there that the directory does not move under itself).
  std::vector<Entry> dest_path;
  ObjId removed_dir = kNoObject;  // rmdir, rename onto an empty directory: the directory removed
  ObjId dest_dir = kNoObject;     // entry ops: the directory of the entry made or removed
                                  // (rename: the destination's)
  ObjId source_dir = kNoObject;   // rename: the source's directory
  std::vector<ObjId> named;       // objects one of whose names the op changes
  bool replaces_file = false;     // a rename that replaces an existing non-directory
  std::optional<Object> created;  // create, mknod, mkdir, symlink: the new object as made
  // Sizes as the log knows them (the `weak` section): known from a create/mknod or a truncate on.
  bool size_known = false;   // writes: whether the file's size before the op is known...
  uint64_t size_before = 0;  // ...and what it is
  // ext4: the op changes the size or allocation of its object (a write past its known end or to
  // a file of unknown size, a truncate, a fallocate, a create).
  bool changes_size = false;
  // fsync or O_SYNC write of a regular file: its data and the entries naming it afterwards.
  bool syncs_file = false;
  std::string synced_data;
  std::vector<Entry> synced_names;
};

class History {
 public:
  // Replays `log` over `start` (the snapshot as ReadFs reads it). Fails on an impossible history,
  // naming the op.
  static Result<History> Replay(const record::ReadLog& log, Fs start);

  const std::vector<record::Op>& ops() const { return ops_; }
  size_t size() const { return ops_.size(); }
  const record::Op& op(size_t i) const { return ops_.at(i); }
  const Step& step(size_t i) const { return steps_.at(i); }
  // The starting state, with an unborn object for each one the log creates.
  const Fs& start() const { return start_; }
  // The full replay of ops [0, crash_point).
  const Tree& TreeAt(size_t crash_point) const { return trees_.at(crash_point); }
  // The full replay of every op.
  const Fs& end() const { return end_; }
  // "op 8 (rename f.tmp -> f)" (1-based seq).
  std::string Describe(size_t i) const;

 private:
  std::vector<record::Op> ops_;
  std::vector<Step> steps_;
  Fs start_;
  Fs end_;
  std::vector<Tree> trees_;
};

std::string DescribeRecordedOp(const record::Op& op);

bool IsSyncWriteOp(const record::Op& op);
// Persistence points in the doc's sense: fsync, fdatasync, fsyncdir, and sync writes.
bool IsPersistencePointOp(const record::Op& op);
bool IsEntryOp(const record::Op& op);
bool IsDataOp(const record::Op& op);
bool IsMetaOp(const record::Op& op);
// Ops that change the disk: entry, data and inode-metadata ops.
bool IsDiskOp(const record::Op& op);

}  // namespace faultfs::crash::reference
