// A content hash of a directory tree, to recognize crash states that came out identical. It
// covers names, types, permission bits, owners, sizes, file contents, symlink targets, device
// numbers, extended attributes and which names are hard links of one file; not times (a state
// rebuilt twice differs only in those).
#pragma once

#include <sys/stat.h>

#include <string>

#include "faultfs/core/status.h"

namespace faultfs {

// What HashTree tells a caller about the objects it hashes, and asks of it. Paths are relative to
// the hashed root.
class HashObserver {
 public:
  virtual ~HashObserver() = default;
  // Every object under the root, as lstat saw it.
  virtual void Saw(const std::string& path, const struct stat& st) = 0;
  // A regular file's HashFileEntry if the caller already knows it (it knows, by the inode say,
  // that the file is unchanged); nullptr: HashTree reads the file.
  virtual const std::string* Known(const std::string& path, const struct stat& st) = 0;
  // The HashFileEntry HashTree read for the regular file at `path`.
  virtual void Learned(const std::string& path, const struct stat& st,
                       const std::string& digest) = 0;
};

// 32 hex digits (XXH3-128: accidental collisions are out of reach; it is not meant to resist a
// deliberate one). A regular file enters as its HashFileEntry.
Result<std::string> HashTree(const std::string& dir, HashObserver* observer = nullptr);

// The same kind of hash of one regular file's contents only.
Result<std::string> HashFile(const std::string& path);

// A regular file's own part of HashTree: its extended attributes and contents.
Result<std::string> HashFileEntry(const std::string& path);

}  // namespace faultfs
