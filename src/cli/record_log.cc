#include "record_log.h"

#include <sys/stat.h>

#include <cerrno>
#include <iostream>

#include "faultfs/core/tree_read.h"
#include "faultfs/crash/history.h"

namespace faultfs::cli {

Result<LoadedLog> LoadRecordLog(const std::string& path, bool quiet) {
  auto log = record::ReadLogFile(path);
  if (!log.ok()) return log.status();
  if (log->damage && !quiet) {
    std::cerr << "faultfs: " << path << " is damaged at " << log->damage->ToString()
              << "; using the " << log->ops.size() << " intact records before it\n";
  }
  LoadedLog loaded{std::move(*log), {}};
  // The snapshot lives beside the log; a log from elsewhere must not point anywhere else.
  const std::string& snap = loaded.log.header.snapshot;
  if (!crash::IsSafeName(snap)) {
    return Status::Invalid(path + ": the header names the starting snapshot '" + snap +
                           "'; it must be the name of a directory beside the log");
  }
  // Every op must fit the history before it, so that states and replays stay within their
  // directories and never meet an impossible op.
  if (Status s = crash::History::Check(loaded.log.ops, loaded.log.header.inodes); !s.ok())
    return Status::Invalid(path + ": " + s.message());
  const size_t slash = path.rfind('/');
  loaded.snapshot = slash == std::string::npos ? snap : path.substr(0, slash + 1) + snap;
  return loaded;
}

bool EmptyOrMissing(const std::string& path) {
  auto entries = ReadDirAt(path);
  if (!entries.ok()) return entries.status().code() == ENOENT;
  return entries->empty();
}

Status MakeEmptyDir(const std::string& path) {
  if (mkdir(path.c_str(), 0755) == 0) return Status::Ok();
  if (errno != EEXIST) return Status::FromErrno(errno, "creating '" + path + "'");
  if (!EmptyOrMissing(path))
    return Status::Invalid("'" + path + "' exists and is not an empty directory");
  return Status::Ok();
}

}  // namespace faultfs::cli
