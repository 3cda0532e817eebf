// A content hash of a directory tree, to recognize crash states that came out identical. It
// covers names, types, permission bits, owners, sizes, file contents, symlink targets, device
// numbers, extended attributes and which names are hard links of one file; not times (a state
// rebuilt twice differs only in those).
#pragma once

#include <sys/stat.h>

#include <functional>
#include <string>

#include "faultfs/core/status.h"

namespace faultfs {

// A regular file's HashFileEntry that the caller already knows, given the file's path relative
// to the hashed root and its lstat; nullptr: read the file. A caller that knows a file is
// unchanged (by its inode, say) spares HashTree reading it.
using KnownDigest = std::function<const std::string*(const std::string& path, const struct stat&)>;

// 32 hex digits (128 bits: two independently seeded lanes, so accidental collisions are out of
// reach; it is not meant to resist a deliberate one). A file's contents enter as its HashFile.
Result<std::string> HashTree(const std::string& dir, const KnownDigest& known = {});

// The same kind of hash of one regular file's contents only.
Result<std::string> HashFile(const std::string& path);

// A regular file's own part of HashTree: its extended attributes and contents.
Result<std::string> HashFileEntry(const std::string& path);

}  // namespace faultfs
