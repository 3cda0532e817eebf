// Files and directories the daemon and the CLI create for themselves: logs, the fault event log,
// the record log, the runtime directory and what it holds. The daemon runs as root and sets its
// umask to 0 (the kernel already applied the caller's to the modes it sends), so every mode here
// is explicit. A path is never followed through a symlink planted at its last component, and a
// file someone else could have prepared (owned by another user, with more than one name, not a
// regular file) is refused rather than written: a non-root user must not be able to forge or
// truncate what the daemon writes.
#pragma once

#include <sys/types.h>

#include <string>

#include "faultfs/core/status.h"
#include "faultfs/core/unique_fd.h"

namespace faultfs {

// Opens `path` for appending, creating it 0600 if missing; `role` names it in errors ("log file").
// With `exclusive`, the file must not exist yet. A character device (/dev/null) is accepted as is.
Result<UniqueFd> OpenPrivateFile(const std::string& path, const std::string& role,
                                 bool exclusive = false);

// Makes `path` a directory with exactly `mode` (0700, 0755...) owned by this user, creating it
// (and missing parents, 0755) if needed. A symlink, another owner, or a mode writable by others
// is refused (a mode of ours is corrected).
Status EnsurePrivateDir(const std::string& path, mode_t mode, const std::string& role);

// Replaces `path` with `contents` atomically (a 0600 temporary beside it, then rename).
Status WritePrivateFile(const std::string& path, const std::string& contents,
                        const std::string& role);

}  // namespace faultfs
