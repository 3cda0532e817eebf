// A content hash of a directory tree, to recognize crash states that came out identical. It
// covers names, types, permission bits, owners, sizes, file contents, symlink targets, device
// numbers, extended attributes and which names are hard links of one file; not times (a state
// rebuilt twice differs only in those).
#pragma once

#include <string>

#include "faultfs/core/status.h"

namespace faultfs {

// 32 hex digits (128 bits: two independently seeded lanes, so accidental collisions are out of
// reach; it is not meant to resist a deliberate one).
Result<std::string> HashTree(const std::string& dir);

}  // namespace faultfs
