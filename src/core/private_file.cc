#include "faultfs/core/private_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>

namespace faultfs {

namespace {

std::string Named(const std::string& role, const std::string& path) {
  return role + " '" + path + "'";
}

Status OpenError(int err, const std::string& role, const std::string& path) {
  if (err == ELOOP) {
    return Status::FromErrno(err, Named(role, path) +
                                      " is a symbolic link, which is never followed (give the "
                                      "path it points to)");
  }
  if (err == ENXIO) return Status::FromErrno(err, Named(role, path) + " is a FIFO or a socket");
  return Status::FromErrno(err, "opening " + Named(role, path));
}

// What makes an existing file unsafe to write for this user: someone else could rewrite it.
Status CheckOurs(const struct stat& st, const std::string& role, const std::string& path) {
  if (st.st_uid != geteuid()) {
    return Status::Invalid(Named(role, path) + " belongs to uid " + std::to_string(st.st_uid) +
                           ", not to this user (uid " + std::to_string(geteuid()) +
                           "): they could rewrite it; remove it or give another path");
  }
  return Status::Ok();
}

}  // namespace

Result<UniqueFd> OpenPrivateFile(const std::string& path, const std::string& role, bool exclusive) {
  // O_NONBLOCK: a FIFO planted at the path must not block the open (it is refused below).
  const int flags =
      O_WRONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK | (exclusive ? O_EXCL : O_APPEND);
  UniqueFd fd(open(path.c_str(), flags, 0600));
  if (!fd) return OpenError(errno, role, path);
  struct stat st {};
  if (fstat(fd.get(), &st) != 0) return Status::FromErrno(errno, "stat of " + Named(role, path));
  if (S_ISREG(st.st_mode)) {
    FAULTFS_RETURN_IF_ERROR(CheckOurs(st, role, path));
    if (st.st_nlink != 1) {
      return Status::Invalid(Named(role, path) + " has " + std::to_string(st.st_nlink) +
                             " names (hard links); give a path of its own");
    }
    if ((st.st_mode & 077) != 0 && fchmod(fd.get(), 0600) != 0) {
      return Status::FromErrno(errno, "making " + Named(role, path) + " private (0600)");
    }
  } else if (!S_ISCHR(st.st_mode)) {
    return Status::Invalid(Named(role, path) + " is not a regular file");
  }
  if (fcntl(fd.get(), F_SETFL, exclusive ? 0 : O_APPEND) != 0) {  // blocking again
    return Status::FromErrno(errno, "opening " + Named(role, path));
  }
  return fd;
}

Status EnsurePrivateDir(const std::string& path, mode_t mode, const std::string& role) {
  const std::filesystem::path parent = std::filesystem::path(path).parent_path();
  if (!parent.empty()) {
    std::error_code ec;
    std::filesystem::create_directories(parent, ec);  // missing parents: 0777 & ~umask
    if (ec) return Status::FromErrno(ec.value(), "creating the parents of " + Named(role, path));
  }
  if (mkdir(path.c_str(), mode) != 0 && errno != EEXIST) {
    return Status::FromErrno(errno, "creating " + Named(role, path));
  }
  UniqueFd fd(open(path.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!fd) return OpenError(errno == ENOTDIR ? ENOTDIR : errno, role, path);
  struct stat st {};
  if (fstat(fd.get(), &st) != 0) return Status::FromErrno(errno, "stat of " + Named(role, path));
  FAULTFS_RETURN_IF_ERROR(CheckOurs(st, role, path));
  if ((st.st_mode & 07777) != mode && fchmod(fd.get(), mode) != 0) {
    return Status::FromErrno(errno, "setting the mode of " + Named(role, path));
  }
  return Status::Ok();
}

Status WritePrivateFile(const std::string& path, const std::string& contents,
                        const std::string& role) {
  const std::string tmp = path + ".tmp";
  if (unlink(tmp.c_str()) != 0 && errno != ENOENT) {  // a leftover (or a planted symlink)
    return Status::FromErrno(errno, "removing " + Named(role, tmp));
  }
  auto fd = OpenPrivateFile(tmp, role, /*exclusive=*/true);
  if (!fd.ok()) return fd.status();
  size_t done = 0;
  while (done < contents.size()) {
    const ssize_t n = write(fd->get(), contents.data() + done, contents.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return Status::FromErrno(n < 0 ? errno : EIO, "writing " + Named(role, tmp));
    done += static_cast<size_t>(n);
  }
  if (rename(tmp.c_str(), path.c_str()) != 0) {
    return Status::FromErrno(errno, "renaming " + Named(role, tmp));
  }
  return Status::Ok();
}

}  // namespace faultfs
