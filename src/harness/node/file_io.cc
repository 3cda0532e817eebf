#include "file_io.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

namespace faultfs::harness::node {

Result<std::string> ReadAt(int fd, uint64_t offset, size_t length, const std::string& what) {
  std::string out(length, '\0');
  size_t done = 0;
  while (done < length) {
    const ssize_t n =
        ::pread(fd, out.data() + done, length - done, static_cast<off_t>(offset + done));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Status::FromErrno(errno, "reading " + what);
    if (n == 0) break;
    done += static_cast<size_t>(n);
  }
  out.resize(done);
  return out;
}

Status WriteAt(int fd, uint64_t offset, std::string_view data, const std::string& what) {
  size_t done = 0;
  while (done < data.size()) {
    const ssize_t n =
        ::pwrite(fd, data.data() + done, data.size() - done, static_cast<off_t>(offset + done));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Status::FromErrno(errno, "writing " + what);
    if (n == 0) return Status::FromErrno(EIO, "writing " + what + " (no progress)");
    done += static_cast<size_t>(n);
  }
  return Status::Ok();
}

Status Fsync(int fd, const std::string& what) {
  if (::fsync(fd) != 0) return Status::FromErrno(errno, "fsync of " + what);
  return Status::Ok();
}

Result<uint64_t> FileSize(int fd, const std::string& what) {
  struct stat st {};
  if (::fstat(fd, &st) != 0) return Status::FromErrno(errno, "stat of " + what);
  return static_cast<uint64_t>(st.st_size);
}

Status Truncate(int fd, uint64_t size, const std::string& what) {
  int rc = 0;
  do {
    rc = ::ftruncate(fd, static_cast<off_t>(size));
  } while (rc != 0 && errno == EINTR);
  if (rc != 0) return Status::FromErrno(errno, "truncating " + what);
  return Status::Ok();
}

Result<UniqueFd> OpenOrCreate(int dir_fd, const std::string& name, bool& created) {
  created = false;
  int fd = ::openat(dir_fd, name.c_str(), O_RDWR | O_CLOEXEC);
  if (fd < 0 && errno == ENOENT) {
    fd = ::openat(dir_fd, name.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    created = fd >= 0;
  }
  if (fd < 0) return Status::FromErrno(errno, "opening " + name);
  return UniqueFd(fd);
}

Result<UniqueFd> OpenDirectory(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return Status::FromErrno(errno, "opening directory " + path);
  return UniqueFd(fd);
}

}  // namespace faultfs::harness::node
