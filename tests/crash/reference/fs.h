// The reference's in-memory filesystem: objects and directory entries, as
// docs/persistence-models.md ("Objects and entries") describes them, and the visible tree a
// directory shows. Objects are never freed: one that loses its last name stays, out of reach, so
// that later ops naming it by inode still find it, and a crash state can hold it or not.
#pragma once

#include <sys/stat.h>

#include <compare>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "faultfs/core/status.h"

namespace faultfs::crash::reference {

using ObjId = uint32_t;
inline constexpr ObjId kNoObject = UINT32_MAX;

struct Object {
  uint32_t mode = S_IFREG | 0644;  // st_mode: file type and permission bits
  uint32_t uid = 0;
  uint32_t gid = 0;
  uint64_t rdev = 0;
  std::string data;  // a file's bytes, or a symlink's target
  std::map<std::string, std::string> xattrs;
  std::map<std::string, ObjId> entries;  // a directory's names
  bool IsDir() const { return S_ISDIR(mode); }
  bool IsFile() const { return S_ISREG(mode); }
};

// A directory entry: (directory object, name).
struct Entry {
  ObjId dir = kNoObject;
  std::string name;
  auto operator<=>(const Entry&) const = default;
};

struct Fs {
  std::vector<Object> objects;  // indexed by ObjId
  ObjId root = 0;

  ObjId Lookup(const Entry& e) const;   // kNoObject when the name is free
  void Set(const Entry& e, ObjId obj);  // kNoObject removes the name
};

// A visible tree: one line per path below the root (the root's own attributes are left out: the
// tools create it), describing everything HashTree covers. Equal trees are equal directories.
using Tree = std::map<std::string, std::string>;

// What is reachable from the root, through entries; a name of an object that also has other
// visible names says which (its first name in path order).
Tree VisibleTree(const Fs& fs);

// A real directory, read into objects (names that share an inode are one object). Only `user.`
// extended attributes are read: the others belong to the system, not to the workload.
Result<Fs> ReadFs(const std::string& dir);
Result<Tree> ReadTree(const std::string& dir);

// One line per difference, "" when the trees are equal.
std::string DiffTrees(const Tree& expected, const Tree& actual);
std::string TreeText(const Tree& tree);
// The whole tree as one string, to keep sets of trees.
std::string TreeKey(const Tree& tree);

}  // namespace faultfs::crash::reference
