#include "faultfs/core/tree_read.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <utility>

#include "faultfs/core/unique_fd.h"

namespace faultfs {

Result<std::vector<DirEntry>> ReadDir(int dir_fd, const std::string& where) {
  thread_local std::vector<char> buf(32768);
  if (lseek(dir_fd, 0, SEEK_SET) != 0) return Status::FromErrno(errno, "reading " + where);
  std::vector<DirEntry> entries;
  for (;;) {
    const ssize_t n = getdents64(dir_fd, buf.data(), buf.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Status::FromErrno(errno, "reading " + where);
    if (n == 0) return entries;
    for (ssize_t at = 0; at < n;) {
      const auto* d = reinterpret_cast<const dirent64*>(buf.data() + at);
      at += d->d_reclen;
      if (std::strcmp(d->d_name, ".") != 0 && std::strcmp(d->d_name, "..") != 0)
        entries.push_back({d->d_name, d->d_type});
    }
  }
}

Result<std::vector<DirEntry>> ReadDirAt(const std::string& path) {
  UniqueFd fd(open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd) return Status::FromErrno(errno, "opening " + path);
  return ReadDir(fd.get(), path);
}

Result<std::vector<std::string>> SortedNames(int dir_fd, const std::string& where) {
  auto entries = ReadDir(dir_fd, where);
  if (!entries.ok()) return entries.status();
  std::vector<std::string> names;
  names.reserve(entries->size());
  for (DirEntry& e : *entries) names.push_back(std::move(e.name));
  std::sort(names.begin(), names.end());
  return names;
}

Xattrs ReadXattrs(int dir_fd, const std::string& name) {
  // Reused per thread: trees are read file after file, most of them without attributes, and
  // allocating 128 KiB each time would cost more than the calls. 64 KiB is the kernel's limit for
  // both a list and a value.
  thread_local std::vector<char> list(65536);
  thread_local std::vector<char> value(65536);
  // By path through /proc/self/fd: the l*xattr calls do not follow a final symlink, and there is
  // no *at variant.
  const std::string path = "/proc/self/fd/" + std::to_string(dir_fd) + "/" + name;
  const ssize_t n = llistxattr(path.c_str(), list.data(), list.size());
  Xattrs attrs;
  for (ssize_t i = 0; i < n; i += static_cast<ssize_t>(std::strlen(list.data() + i)) + 1) {
    const char* attr = list.data() + i;
    const ssize_t len = lgetxattr(path.c_str(), attr, value.data(), value.size());
    attrs.emplace_back(attr, std::string(value.data(), len > 0 ? static_cast<size_t>(len) : 0));
  }
  std::sort(attrs.begin(), attrs.end());
  return attrs;
}

}  // namespace faultfs
