// Copying a directory tree exactly: contents (sparse files stay sparse; reflinks where the
// filesystem has them), directories, symlinks, device nodes and fifos, hard links (as links),
// modes, owners, extended attributes and modification times. Used for the snapshot a recording
// starts from and for every crash state built from it.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "faultfs/core/status.h"

namespace faultfs {

// Each copied object's inode number in the source and its path relative to the source root
// ("" for the root itself); a multiply linked inode appears once per name.
using InodeNames = std::vector<std::pair<uint64_t, std::string>>;

// Copies the contents of directory `from` into directory `to`, which must exist and be empty.
// When `inodes` is given, it receives the source's inode names.
Status CopyTree(const std::string& from, const std::string& to, InodeNames* inodes = nullptr);

// Removes `path` and everything under it (not following symlinks, not crossing mount points).
// A missing path is not an error.
Status RemoveTree(const std::string& path);

}  // namespace faultfs
