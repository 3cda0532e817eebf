#include "crashtest_guard.h"

#include <sys/stat.h>

#include <filesystem>
#include <system_error>

#include "faultfs/core/mountinfo.h"

namespace faultfs::cli {
namespace {

namespace stdfs = std::filesystem;

// `path` is `top` or lies under it (both absolute and normal).
bool Within(const std::string& path, const std::string& top) {
  return path == top || top == "/" ||
         (path.size() > top.size() && path.compare(0, top.size(), top) == 0 &&
          path[top.size()] == '/');
}

std::string Stamp(const struct stat& st) {
  return std::to_string(st.st_ino) + " " + std::to_string(st.st_size) + " " +
         std::to_string(st.st_mtim.tv_sec) + "." + std::to_string(st.st_mtim.tv_nsec) + " " +
         std::to_string(st.st_ctim.tv_sec) + "." + std::to_string(st.st_ctim.tv_nsec) + " " +
         std::to_string(st.st_mode) + " " + std::to_string(st.st_nlink);
}

}  // namespace

Status CheckCrashtestDirs(const std::string& dir, const std::string& work) {
  struct stat st {};
  if (stat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode))
    return Status::Invalid("--dir '" + dir + "' is not a directory");
  std::error_code ec;
  const std::string real = stdfs::canonical(dir, ec).string();
  if (ec) return Status::FromErrno(ec.value(), "resolving --dir '" + dir + "'");
  if (real == "/")
    return Status::Invalid(
        "--dir is '/': crashtest copies --dir whole; give the program's data "
        "directory");
  for (const MountEntry& m : ReadMounts()) {
    if (m.mount_point != real && Within(m.mount_point, real)) {
      return Status::Invalid("--dir '" + dir + "' holds the mount point '" + m.mount_point +
                             "': crashtest copies --dir whole; give a directory without mounts");
    }
  }
  const std::string scratch = stdfs::weakly_canonical(work, ec).string();
  if (ec) return Status::FromErrno(ec.value(), "resolving --work '" + work + "'");
  if (Within(scratch, real)) {
    return Status::Invalid("the scratch directory '" + scratch + "' is inside --dir '" + dir +
                           "': it would be copied into itself; give --work outside --dir");
  }
  if (Within(real, scratch)) {
    return Status::Invalid("--dir '" + dir + "' is inside the scratch directory '" + scratch +
                           "'; give --work elsewhere");
  }
  return Status::Ok();
}

Result<DirStamp> StampDir(const std::string& dir) {
  DirStamp stamp;
  struct stat st {};
  if (lstat(dir.c_str(), &st) != 0) return Status::FromErrno(errno, "stat of '" + dir + "'");
  stamp[""] = Stamp(st);
  std::error_code ec;
  for (auto it = stdfs::recursive_directory_iterator(dir, ec);
       !ec && it != stdfs::recursive_directory_iterator(); it.increment(ec)) {
    const std::string path = it->path().string();
    if (lstat(path.c_str(), &st) != 0) continue;  // gone meanwhile: shows as a difference
    stamp[path.substr(dir.size() + 1)] = Stamp(st);
  }
  if (ec) return Status::FromErrno(ec.value(), "reading '" + dir + "'");
  return stamp;
}

std::vector<std::string> ChangedPaths(const DirStamp& before, const DirStamp& after, size_t max) {
  std::vector<std::string> changed;
  auto note = [&](const std::string& path) {
    if (changed.size() < max) changed.push_back(path.empty() ? "." : path);
  };
  for (const auto& [path, stamp] : before) {
    const auto it = after.find(path);
    if (it == after.end() || it->second != stamp) note(path);
  }
  for (const auto& [path, stamp] : after) {
    if (before.count(path) == 0) note(path);
  }
  return changed;
}

std::string NothingTested(const record::ReadLog& log) {
  for (const record::Op& op : log.ops) {
    if (record::IsEntryKind(op.kind) || record::IsDataKind(op.kind) || record::IsMetaKind(op.kind))
      return "";
  }
  return "the workload changed nothing through the mount (" + std::to_string(log.ops.size()) +
         " ops recorded, none of them a change to a file or directory), so there is nothing to "
         "test. It runs in the mount (its working directory, also $FAULTFS_DIR): make it change "
         "files there, with relative paths";
}

}  // namespace faultfs::cli
