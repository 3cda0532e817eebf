// Re-applying recorded ops to a directory. Ops name their object by its inode in the recorded
// directory; the applier keeps the current names of those inodes in the target directory (starting
// from the log header's inode list), so a write finds its file even after renames, and a write to
// a file whose name did not survive goes nowhere.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "faultfs/core/status.h"
#include "faultfs/core/unique_fd.h"
#include "faultfs/crash/state.h"
#include "faultfs/record/log.h"

namespace faultfs::crash {

// Told before the applier changes an object in place or removes a name, by a state builder that
// shares unchanged files between states (state_builder.h). Paths are relative to the root.
class ApplyHooks {
 public:
  virtual ~ApplyHooks() = default;
  // The object at `path` (after a final symlink when `follow`) is about to be changed in place
  // (data, mode, owner, extended attributes) or to get another name.
  virtual Status BeforeChange(const std::string& path, bool follow) = 0;
  // The name `path` is about to be removed or replaced; AfterRemove follows, whatever the outcome.
  virtual Status BeforeRemove(const std::string& path) = 0;
  virtual Status AfterRemove() = 0;
};

class Applier {
 public:
  // `strict`: every op must succeed (replay). Otherwise ops whose target is missing in this
  // state (ENOENT, ENOTDIR, EEXIST, ENOTEMPTY) are skipped (crash states).
  static Result<Applier> Open(const std::string& dir, const record::ReadLog& log, bool strict);
  // An applier for `dir`, which holds a copy of this one's directory: it knows the same names.
  // (No hooks.)
  Result<Applier> Fork(const std::string& dir) const;

  // Applies `op`, or the piece of it that `how` describes; `seed` fills garbage.
  Status Apply(const record::Op& op, const Applied& how, uint64_t seed);
  // Makes `op` (a persistence point) happen: fsync/fdatasync of the object.
  Status Persist(const record::Op& op);
  // The op's object's current name here: a name of its inode if known, else the recorded path.
  // None when the inode is known but has no name left.
  std::optional<std::string> PathOf(const record::Op& op) const;
  // Hooks to call from now on (not owned; null: none).
  void SetHooks(ApplyHooks* hooks) { hooks_ = hooks; }

 private:
  Applier(UniqueFd root, bool strict) : root_(std::move(root)), strict_(strict) {}
  static Result<Applier> OpenRoot(const std::string& dir, bool strict);
  Status ApplyEntry(const record::Op& op);
  Status ApplyData(const record::Op& op, const Applied& how, uint64_t seed);
  Status ApplyMeta(const record::Op& op);
  Status Rename(const record::Op& op);
  void ClearRenameTarget(const record::Op& op);
  // Half of a rename that was not atomic: the destination's old object is gone, the source has
  // not moved yet.
  Status UnlinkTarget(const record::Op& op);
  std::string AbsPath(const std::string& rel) const;
  void Named(uint64_t ino, const std::string& path);
  void Unnamed(const std::string& path);
  void Moved(const std::string& from, const std::string& to);
  // The hooks, if any.
  Status Changing(const std::string& path, bool follow);
  Status Removing(const std::string& path);
  Status Removed();
  // The result of a system call that failed with `err` while applying `op`.
  Status Failed(int err, const record::Op& op, const char* what) const;

  UniqueFd root_;
  std::string root_path_;
  bool strict_;
  std::map<std::string, uint64_t> ino_of_;           // name -> inode (recorded-inode numbers)
  std::map<uint64_t, std::set<std::string>> names_;  // inode -> its names here
  ApplyHooks* hooks_ = nullptr;
};

// Applies the ops `state` lists, in order, from its `from`th on (Materialize without the copy).
Status ApplyState(Applier& applier, const record::ReadLog& log, const CrashState& state,
                  uint64_t seed, size_t from = 0);

}  // namespace faultfs::crash
