// Re-applying recorded ops to a directory. The applier keeps the directory's namespace in terms of
// the log's objects and entries (history.h): each op goes where its objects are in this
// directory, whatever names the recording used, and an object that nothing reachable names (its
// entry, or a directory above it, did not reach the disk) is out of reach: ops on it have no
// visible effect. Every entry op must meet the entries as they were when it was recorded, with
// every op it needs applied before it; an op that does not is an error, never skipped. Every
// system call stays below the directory: paths are resolved with openat2(RESOLVE_BENEATH), never
// through a symlink, and names are checked (a record log may come from anyone).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "faultfs/core/status.h"
#include "faultfs/core/unique_fd.h"
#include "faultfs/crash/history.h"
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
  // The name `path` is about to be removed or replaced. The hooks may take the object away
  // themselves (true: the name is gone, and the op does not remove it again).
  virtual Result<bool> TakeAway(const std::string& path) = 0;
  // An op is about to change the object at `path` or the directory that holds it (its name,
  // data or metadata): called before any other hook or change of the op. An error stops the op.
  virtual Status Touching(const std::string& path) = 0;
};

class Applier {
 public:
  // An applier for `dir`, which holds the log's starting snapshot. `replay`: renames stay atomic
  // (a crash state only needs their outcome, and may replace a file by unlinking it first).
  static Result<Applier> Open(const std::string& dir, const record::ReadLog& log,
                              std::shared_ptr<const History> history, bool replay);
  // The same, resolving the log itself.
  static Result<Applier> Open(const std::string& dir, const record::ReadLog& log, bool replay);
  // An applier for `dir`, which holds a copy of this one's directory: it knows the same names.
  // (No hooks.)
  Result<Applier> Fork(const std::string& dir) const;

  // Applies op `i` of the log, or the piece of it that `how` describes (how.op is ignored);
  // `seed` fills garbage.
  Status Apply(uint32_t i, const Applied& how, uint64_t seed);
  // Makes op `i` (a persistence point) happen: fsync/fdatasync of its object, if in reach.
  Status Persist(uint32_t i);
  // Op i's object's name here; none when it is out of reach.
  std::optional<std::string> PathOf(uint32_t i) const;
  // Hooks to call from now on (not owned; null: none).
  void SetHooks(ApplyHooks* hooks) { hooks_ = hooks; }
  // Closes the files kept open for the ops applied so far (ApplyState calls it when done).
  void CloseFiles() { file_fds_.clear(); }

 private:
  Applier(UniqueFd root, const record::ReadLog& log, std::shared_ptr<const History> history,
          bool replay);
  // The object's path here ("" the root); none when out of reach.
  std::optional<std::string> PathOfObject(ObjectId obj, size_t depth = 0) const;
  // The directory of entry `e`, opened beneath the root (a descriptor the applier keeps); -1 when
  // it is out of reach.
  Result<int> OpenDir(const EntryKey& e, std::string* path) const;
  Status CheckNeeds(uint32_t i) const;
  Status CheckEntry(uint32_t i, const EntryKey& e, ObjectId want) const;
  Status Create(uint32_t i);
  Status Link(uint32_t i);
  Status Remove(uint32_t i);
  Status Rename(uint32_t i);
  Status MoveOutOfReach(uint32_t i, int from_dir, const std::string& from);
  Status UnlinkTarget(uint32_t i);
  Status ApplyData(uint32_t i, const Applied& how, uint64_t seed);
  // The object's file open for writing (kept in file_fds_), after the hooks' BeforeChange.
  Result<int> FileToWrite(ObjectId obj, const std::string& path, uint32_t i);
  Status ApplyMeta(uint32_t i);
  Status RootMeta(uint32_t i);
  // A directory (opened beneath the root) and name of `obj` that are in reach.
  Result<std::pair<int, std::string>> ReachableName(ObjectId obj) const;
  void Name(ObjectId obj, const EntryKey& e);
  void Unname(const EntryKey& e);
  ObjectId At(const EntryKey& e) const;
  // The hooks, if any.
  Status Changing(const std::string& path);
  Result<bool> TakenAway(const std::string& path);
  // Tells the hooks that the op changes `path` and the directory that holds it.
  Status Touching(const std::string& path);
  Status Failed(int err, uint32_t i, const std::string& what) const;
  Status Inconsistent(uint32_t i, const std::string& why) const;

  struct EntryHash {
    size_t operator()(const EntryKey& e) const {
      return std::hash<std::string>()(e.name) * 31 + e.dir;
    }
  };

  UniqueFd root_;
  const record::ReadLog* log_;
  std::shared_ptr<const History> history_;
  bool replay_;
  std::unordered_map<EntryKey, ObjectId, EntryHash> entries_;  // this directory's namespace
  std::unordered_map<ObjectId, std::vector<EntryKey>> names_;
  std::vector<bool> applied_;                               // by op index
  mutable std::unordered_map<ObjectId, UniqueFd> dir_fds_;  // directories opened beneath the root
  // Files this applier created or opened to write, kept open while one state's ops are applied
  // (an op sequence writes the same file again and again). Each is this state's own file, never
  // one a builder shares with other states: it was created here, or its first data op went
  // through the hooks. Closed by CloseFiles, so that no file of the state is held open for
  // writing while a checker runs (it could not execute it: ETXTBSY).
  std::unordered_map<ObjectId, UniqueFd> file_fds_;
  static constexpr size_t kMaxFileFds = 64;
  ApplyHooks* hooks_ = nullptr;
};

// Applies the ops `state` lists, in order, from its `from`th on (Materialize without the copy).
Status ApplyState(Applier& applier, const CrashState& state, uint64_t seed, size_t from = 0);

}  // namespace faultfs::crash
