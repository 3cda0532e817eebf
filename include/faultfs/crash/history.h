// The recorded history, resolved: which object each op of a record log acts on, which directory
// entries it changes, and which earlier ops it needs (docs/persistence-models.md, "Objects and
// entries" and "What an op needs"). Recorded paths are only used to find things while replaying the
// log's own history from the names it started with; from then on everything is an object (one
// file, directory, symlink or node, however often its inode number is reused) or an entry (a
// directory object and a name). The persistence models use it to keep every state one a
// filesystem could have left, and the applier to put each op where its objects are in a state.
#pragma once

#include <compare>
#include <cstdint>
#include <string>
#include <vector>

#include "faultfs/core/status.h"
#include "faultfs/core/tree_copy.h"
#include "faultfs/record/op.h"

namespace faultfs::crash {

using ObjectId = uint32_t;
inline constexpr ObjectId kNoObject = 0;
inline constexpr ObjectId kRootObject = 1;

// A directory entry: a name in a directory object.
struct EntryKey {
  ObjectId dir = kNoObject;
  std::string name = {};
  auto operator<=>(const EntryKey&) const = default;
};

// What one op acts on.
struct OpObjects {
  // The op's object: the new one for create/mknod/mkdir/symlink; the one whose name changes for
  // link/unlink/rmdir/rename; the file or directory of data, metadata and sync ops. kNoObject for
  // markers.
  ObjectId obj = kNoObject;
  // The entry an op creates or removes; for rename, the source entry; unused for link.
  EntryKey entry = {};  // (`= {}` keeps designated initializers free of warnings)
  // link and rename: the new entry.
  EntryKey entry2 = {};
  // rename: the object `entry2` held before (kNoObject: none); for RENAME_EXCHANGE the object
  // that moves the other way.
  ObjectId replaced = kNoObject;
};

enum class ObjectType : uint8_t { kUnknown, kFile, kDir, kSymlink, kNode };

struct ObjectInfo {
  uint64_t ino = 0;  // as recorded (0: not known)
  ObjectType type = ObjectType::kUnknown;
  bool initial = false;  // existed when the recording started
};

class History {
 public:
  // Resolves `ops` against the history that starts with `start` (the log header's names; when it
  // lacks a name the log uses, that name is taken to have existed from the start). Never fails: an
  // impossible op (a name created twice, say) is resolved as best it can be. Use Check() on logs
  // read from files.
  static History Of(const std::vector<record::Op>& ops, const InodeNames& start);
  // The first op that the history makes impossible, or that names something unsafely (an empty,
  // "." or ".." component, a leading '/'): "record 12 (rename a -> b): 'a' does not exist".
  static Status Check(const std::vector<record::Op>& ops, const InodeNames& start);

  size_t size() const { return ops_.size(); }
  const OpObjects& at(size_t i) const { return ops_[i]; }
  // The earlier entry ops op i needs directly (sorted); "needs" is their transitive closure.
  const std::vector<uint32_t>& needs(size_t i) const { return needs_[i]; }
  // The later entry ops that need op i directly (sorted).
  const std::vector<uint32_t>& needed_by(size_t i) const { return needed_by_[i]; }
  const ObjectInfo& object(ObjectId id) const { return objects_[id]; }
  size_t objects() const { return objects_.size(); }
  // Every name of every object that existed when the recording started, parents before children.
  const std::vector<std::pair<ObjectId, EntryKey>>& initial_names() const { return initial_; }

 private:
  friend class HistoryBuilder;
  std::vector<OpObjects> ops_;
  std::vector<std::vector<uint32_t>> needs_;
  std::vector<std::vector<uint32_t>> needed_by_;
  std::vector<ObjectInfo> objects_;  // by ObjectId; [0] unused
  std::vector<std::pair<ObjectId, EntryKey>> initial_;
};

// Splits a recorded path at '/' ("" is the root: no components).
std::vector<std::string> PathComponents(const std::string& path);
// Whether `name` may be created in a directory: not empty, not "." or "..", no '/' or NUL, at
// most 255 bytes.
bool IsSafeName(const std::string& name);

}  // namespace faultfs::crash
