// Where two regular files' bytes differ: the content part of DiffTrees (tree_diff.h).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "faultfs/core/status.h"
#include "faultfs/core/tree_diff.h"

namespace faultfs {

struct ByteDiff {
  std::vector<ByteRange> ranges;  // the first max_ranges differing ranges, merged, in order
  uint64_t range_count = 0;       // all of them
};

// An open regular file, its size, and its name for errors.
struct FileToDiff {
  int fd = -1;
  uint64_t size = 0;
  const std::string& name;
};

// Compares two files chunk by chunk (never a whole file in memory), skipping what is a hole in
// both. Past a file's end its bytes count as zeros.
Result<ByteDiff> DiffBytes(const FileToDiff& expected, const FileToDiff& actual, size_t max_ranges);

}  // namespace faultfs
