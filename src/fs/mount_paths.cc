// Where the daemon's own files may live: never inside what the mount serves or covers.
#include <sys/stat.h>

#include <cerrno>
#include <climits>
#include <cstdlib>
#include <filesystem>

#include "faultfs/fs/mount.h"

namespace faultfs {

namespace {

// `path` made absolute and free of symlinks, though its last parts need not exist yet: the deepest
// existing ancestor is resolved and the rest appended. Resolving happens before the mount exists,
// so it never waits on it.
std::string Resolved(const std::string& path) {
  std::filesystem::path p = std::filesystem::absolute(path).lexically_normal();
  if (!p.has_filename() && p != p.root_path()) p = p.parent_path();  // "dir/" is "dir"
  std::filesystem::path rest;  // the parts that do not exist yet, relative
  while (!p.empty()) {
    char resolved[PATH_MAX];
    if (realpath(p.c_str(), resolved) != nullptr) {
      std::filesystem::path out(resolved);
      if (!rest.empty()) out /= rest;  // "/" an empty path would add a trailing slash
      return out.lexically_normal().string();
    }
    if (p == p.root_path()) break;
    rest = rest.empty() ? p.filename() : p.filename() / rest;
    p = p.parent_path();
  }
  return p.string();
}

bool Inside(const std::string& path, const std::string& root) {
  return path == root || path.starts_with(root == "/" ? root : root + "/");
}

}  // namespace

Status CheckOutsideMount(const MountOptions& options, const std::string& path,
                         const std::string& role) {
  if (path.empty()) return Status::Ok();
  const std::string where = Resolved(path);
  const std::string backing = Resolved(options.backing);
  const std::string mountpoint =
      Resolved(IsInPlace(options) ? options.backing : options.mountpoint);
  for (const std::string& root : {mountpoint, backing}) {
    if (!Inside(where, root)) continue;
    const bool covered = root == mountpoint;
    return Status::Invalid(
        role + " '" + path + "' is inside " +
        (covered ? "the mountpoint '" : "the backing directory '") + root + "'" +
        (covered ? ": the daemon would wait on its own mount, which serves nothing until it has "
                   "started"
                 : ": the daemon's own files would show up in the tree it serves") +
        "; put it elsewhere");
  }
  return Status::Ok();
}

}  // namespace faultfs
