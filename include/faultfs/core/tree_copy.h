// Copying a directory tree exactly: contents (sparse files stay sparse; reflinks where the
// filesystem has them), directories, symlinks, device nodes and fifos, hard links (as links),
// modes, owners, extended attributes and modification times. Used for the snapshot a recording
// starts from and for every crash state built from it.
#pragma once

#include <sys/stat.h>

#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "faultfs/core/status.h"

namespace faultfs {

// Each copied object's inode number in the source and its path relative to the source root
// ("" for the root itself; a directory's path ends in '/'); a multiply linked inode appears once
// per name.
using InodeNames = std::vector<std::pair<uint64_t, std::string>>;

// Lets the caller put a regular file that has a single name in place itself instead of having it
// copied (say, by moving in an identical copy it keeps): `path` is the file's path relative to the
// source root, `st` its lstat, (`out_dir`, `name`) where it goes. True: the caller put a file
// there, identical to a copy in contents and metadata. False: copy it.
using TakeFile = std::function<Result<bool>(const std::string& path, const struct stat& st,
                                            int out_dir, const char* name)>;

// Told after each object copied: how many so far, and the bytes of their regular files (a long
// copy can show it is still moving).
using CopyProgress = std::function<void(uint64_t objects, uint64_t bytes)>;

// Copies the contents of directory `from` into directory `to`, which must exist and be empty.
// When `inodes` is given, it receives the source's inode names.
Status CopyTree(const std::string& from, const std::string& to, InodeNames* inodes = nullptr,
                const TakeFile& take = {}, const CopyProgress& progress = {});

// Copies one object that is not a directory, `from` relative to directory `from_dir`, to `to`
// relative to `to_dir` (which must not exist), the way CopyTree copies it.
Status CopyEntry(int from_dir, const std::string& from, int to_dir, const std::string& to);

// Removes `path` and everything under it (not following symlinks, not crossing mount points).
// A missing path is not an error.
Status RemoveTree(const std::string& path);

}  // namespace faultfs
