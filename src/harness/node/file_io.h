// The few file operations the node's storage needs, as error values: positional reads and writes
// that finish what they start (short transfers and EINTR are retried), fsync of a file and of a
// directory.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <string_view>

#include "faultfs/core/status.h"
#include "faultfs/core/unique_fd.h"

namespace faultfs::harness::node {

// Up to `length` bytes at `offset`; fewer only at the end of the file.
Result<std::string> ReadAt(int fd, uint64_t offset, size_t length, const std::string& what);
Status WriteAt(int fd, uint64_t offset, std::string_view data, const std::string& what);
Status Fsync(int fd, const std::string& what);
Result<uint64_t> FileSize(int fd, const std::string& what);
Status Truncate(int fd, uint64_t size, const std::string& what);
// Opens dir/name read-write, creating it (0644) when missing; `created` says whether it did.
Result<UniqueFd> OpenOrCreate(int dir_fd, const std::string& name, bool& created);
Result<UniqueFd> OpenDirectory(const std::string& path);

}  // namespace faultfs::harness::node
