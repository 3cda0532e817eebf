// Comparing two directory trees: which names, kinds of object, metadata and bytes differ. It looks
// at what HashTree (tree_hash.h) covers, and at the roots' own mode, owner and xattrs; not at
// times. Symlinks are never followed and mount points inside a tree are not entered (they are
// compared as directories, without their contents).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "faultfs/core/status.h"

namespace faultfs {

// Bytes [begin, end) of a file.
struct ByteRange {
  uint64_t begin = 0;
  uint64_t end = 0;
  bool operator==(const ByteRange&) const = default;
};

enum class TreeDiffKind : uint8_t {
  kMissing,  // a name only the expected tree has (its contents are not listed one by one)
  kExtra,    // a name only the actual tree has
  kType,     // one name, another kind of object (file, directory, symlink...)
  kContent,  // regular files whose bytes or sizes differ
  kMode,     // permission bits
  kOwner,    // user and group
  kXattrs,   // extended attributes
  kSymlink,  // symlink targets
  kDevice,   // device numbers of device nodes
  kLinks,    // which other names in the tree are hard links of the same file (names under a
             // missing or extra directory count)
};

// "missing", "extra", "type", "content", "mode", "owner", "xattrs", "symlink", "device", "links".
const char* TreeDiffKindName(TreeDiffKind kind);

struct TreeDifference {
  TreeDiffKind kind = TreeDiffKind::kMissing;
  std::string path;  // relative to the roots; "" is the root itself
  // Each tree's side in words: the kind of object for kMissing, kExtra and kType ("file",
  // "directory"; "" where there is none), "0644", "1000:1000", the symlink's target, "8:1",
  // the other names (", "-separated; "" for none), or the attributes that differ (name="value",
  // escaped and shortened). Empty for kContent.
  std::string expected = {};
  std::string actual = {};
  // kContent: the sizes, and where the bytes differ. A byte past a file's end counts as a zero
  // (as if the file were extended with a hole): a range there shows data the shorter file lacks,
  // and the sizes tell the rest. Adjacent differing bytes form one range.
  uint64_t expected_size = 0;
  uint64_t actual_size = 0;
  std::vector<ByteRange> ranges = {};  // the first TreeDiffOptions::max_ranges of them, in order
  uint64_t range_count = 0;            // all of them
};

struct TreeDiffOptions {
  size_t max_ranges = 8;  // ranges kept per file (a file full of changes would list thousands)
};

// The differences between the trees at `expected` and `actual`, in the order of a depth-first walk
// with names sorted bytewise (a path's own differences before those of its contents). None when
// the trees are alike. Errors: a root that cannot be opened, a directory or file that cannot be
// read.
Result<std::vector<TreeDifference>> DiffTrees(const std::string& expected,
                                              const std::string& actual,
                                              const TreeDiffOptions& options = {});

}  // namespace faultfs
