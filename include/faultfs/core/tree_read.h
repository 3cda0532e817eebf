// Reading one directory of a tree the way the tree tools (hash, diff) walk it: names in a fixed
// order, extended attributes by name. Nothing here follows a symlink.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "faultfs/core/status.h"

namespace faultfs {

// An entry of a directory: its name and its type as the directory gives it (DT_*; DT_UNKNOWN on
// filesystems that do not say).
struct DirEntry {
  std::string name;
  unsigned char type;
};

// The entries of the open directory `dir_fd`, from its start, without "." and "..", in the
// directory's order. Read with getdents64 on the descriptor itself (no second descriptor, as
// fdopendir would need: this runs for every directory of every crash state). `where` names the
// directory in errors.
Result<std::vector<DirEntry>> ReadDir(int dir_fd, const std::string& where);

// The entries of the directory at `path` (followed if a symlink), as ReadDir gives them.
Result<std::vector<DirEntry>> ReadDirAt(const std::string& path);

// The names in the open directory `dir_fd`, without "." and "..", sorted bytewise. `where` names
// the directory in errors.
Result<std::vector<std::string>> SortedNames(int dir_fd, const std::string& where);

// The extended attributes of `name` in the open directory `dir_fd` (the entry itself, not what a
// symlink points to), sorted by attribute name. An object without any, or on a filesystem without
// them, has none; a value that cannot be read counts as empty.
using Xattrs = std::vector<std::pair<std::string, std::string>>;
Xattrs ReadXattrs(int dir_fd, const std::string& name);

}  // namespace faultfs
