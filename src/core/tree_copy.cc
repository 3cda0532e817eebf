#include "faultfs/core/tree_copy.h"

#include <dirent.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <functional>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "faultfs/core/tree_read.h"
#include "faultfs/core/unique_fd.h"

namespace faultfs {
namespace {

// Copies [from, to) of `in` to the same offsets of `out` through a buffer.
Status CopyRange(int in, int out, off_t from, off_t to) {
  std::vector<char> buf(1 << 20);
  while (from < to) {
    const auto want =
        static_cast<size_t>(std::min<off_t>(to - from, static_cast<off_t>(buf.size())));
    const ssize_t n = pread(in, buf.data(), want, from);
    if (n < 0) return Status::FromErrno(errno, "reading file data");
    if (n == 0) return Status::Ok();  // the source shrank meanwhile
    for (ssize_t done = 0; done < n;) {
      const ssize_t w = pwrite(out, buf.data() + done, static_cast<size_t>(n - done), from + done);
      if (w < 0) return Status::FromErrno(errno, "writing file data");
      done += w;
    }
    from += n;
  }
  return Status::Ok();
}

// Copies `size` bytes of data, keeping holes: reflink when possible, else copy_file_range over
// each data extent (SEEK_DATA/SEEK_HOLE).
Status CopyData(int in, int out, off_t size) {
  if (ioctl(out, FICLONE, in) == 0) return Status::Ok();
  off_t pos = 0;
  while (pos < size) {
    off_t data = lseek(in, pos, SEEK_DATA);
    if (data < 0) {
      if (errno == ENXIO) break;  // only a hole remains
      data = pos;                 // no SEEK_DATA: copy everything
    }
    off_t hole = lseek(in, data, SEEK_HOLE);
    if (hole < 0 || hole > size) hole = size;
    loff_t src = data, dst = data;
    while (src < hole) {
      const ssize_t n = copy_file_range(in, &src, out, &dst, static_cast<size_t>(hole - src), 0);
      if (n < 0 && (errno == EXDEV || errno == EOPNOTSUPP || errno == EINVAL)) {
        // Across filesystems of different types (and on some special files) copy_file_range
        // refuses: copy through a buffer instead.
        FAULTFS_RETURN_IF_ERROR(CopyRange(in, out, src, hole));
        break;
      }
      if (n < 0) return Status::FromErrno(errno, "copying file data");
      if (n == 0) break;  // the source shrank meanwhile
    }
    pos = hole;
  }
  if (ftruncate(out, size) != 0)
    return Status::FromErrno(errno, "setting file size");  // trailing hole
  return Status::Ok();
}

void CopyXattrs(int dir_in, const char* in_name, int dir_out, const char* out_name) {
  // By path through /proc/self/fd: the l*xattr calls do not follow a final symlink.
  const std::string in = "/proc/self/fd/" + std::to_string(dir_in) + "/" + in_name;
  const std::string out = "/proc/self/fd/" + std::to_string(dir_out) + "/" + out_name;
  std::vector<char> names(4096);
  ssize_t n = llistxattr(in.c_str(), names.data(), names.size());
  if (n <= 0) return;
  std::vector<char> value(65536);
  for (ssize_t i = 0; i < n;
       i += static_cast<ssize_t>(std::string_view(names.data() + i).size()) + 1) {
    const char* attr = names.data() + i;
    const ssize_t len = lgetxattr(in.c_str(), attr, value.data(), value.size());
    if (len >= 0) (void)lsetxattr(out.c_str(), attr, value.data(), static_cast<size_t>(len), 0);
  }
}

// An entry's name in the source directory and in the copy.
struct Names {
  const char* in;
  const char* out;
};

class TreeCopier {
 public:
  TreeCopier(int out_root, InodeNames* inodes, const TakeFile& take, const CopyProgress& progress)
      : out_root_(out_root), inodes_(inodes), take_(take), progress_(progress) {}
  Status CopyDir(int in_dir, int out_dir, const std::string& where) {
    auto entries = ReadDir(in_dir, where);
    if (!entries.ok()) return entries.status();
    for (const DirEntry& e : *entries) {
      const char* name = e.name.c_str();
      FAULTFS_RETURN_IF_ERROR(
          CopyEntry(in_dir, out_dir, {name, name}, where.empty() ? e.name : where + "/" + e.name));
      if (progress_) progress_(++objects_, bytes_);
    }
    return Status::Ok();
  }

  Status CopyEntry(int in_dir, int out_dir, Names name, const std::string& where) {
    struct stat st {};
    if (fstatat(in_dir, name.in, &st, AT_SYMLINK_NOFOLLOW) != 0)
      return Status::FromErrno(errno, "stat " + where);
    if (inodes_ != nullptr) {
      // A directory's name ends in '/': crash states need to know which starting objects are
      // directories (a directory's rename depends on its destination, a file's does not).
      inodes_->emplace_back(static_cast<uint64_t>(st.st_ino),
                            S_ISDIR(st.st_mode) ? where + "/" : where);
    }
    if (take_ && S_ISREG(st.st_mode) && st.st_nlink == 1) {
      auto taken = take_(where, st, out_dir, name.out);
      if (!taken.ok()) return taken.status();
      if (*taken) return Status::Ok();
    }
    if (!S_ISDIR(st.st_mode) && st.st_nlink > 1) {
      const auto seen = links_.find({st.st_dev, st.st_ino});
      if (seen != links_.end()) {
        if (linkat(out_root_, seen->second.c_str(), out_dir, name.out, 0) != 0) {
          return Status::FromErrno(errno, "linking " + where);
        }
        return Status::Ok();
      }
    }
    FAULTFS_RETURN_IF_ERROR(CreateCopy(in_dir, out_dir, name, st, where));
    if (!S_ISDIR(st.st_mode) && st.st_nlink > 1)
      links_[{st.st_dev, st.st_ino}] = where;  // later names link here
    CopyXattrs(in_dir, name.in, out_dir, name.out);
    (void)fchownat(out_dir, name.out, st.st_uid, st.st_gid, AT_SYMLINK_NOFOLLOW);
    if (!S_ISLNK(st.st_mode)) (void)fchmodat(out_dir, name.out, st.st_mode & 07777, 0);
    const timespec times[2] = {st.st_atim, st.st_mtim};
    (void)utimensat(out_dir, name.out, times, AT_SYMLINK_NOFOLLOW);
    return Status::Ok();
  }

 private:
  Status CreateCopy(int in_dir, int out_dir, Names name, const struct stat& st,
                    const std::string& where) {
    if (S_ISDIR(st.st_mode)) {
      if (mkdirat(out_dir, name.out, 0700) != 0) return Status::FromErrno(errno, "mkdir " + where);
      UniqueFd in(openat(in_dir, name.in, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
      UniqueFd out(openat(out_dir, name.out, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
      if (!in || !out) return Status::FromErrno(errno, "opening " + where);
      return CopyDir(in.get(), out.get(), where);
    }
    if (S_ISREG(st.st_mode)) {
      UniqueFd in(openat(in_dir, name.in, O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
      if (!in) return Status::FromErrno(errno, "opening " + where);
      UniqueFd out(openat(out_dir, name.out, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
      if (!out) return Status::FromErrno(errno, "creating " + where);
      bytes_ += static_cast<uint64_t>(st.st_size);
      return CopyData(in.get(), out.get(), st.st_size);
    }
    if (S_ISLNK(st.st_mode)) {
      std::string target(static_cast<size_t>(st.st_size > 0 ? st.st_size : PATH_MAX) + 1, '\0');
      const ssize_t n = readlinkat(in_dir, name.in, target.data(), target.size());
      if (n < 0) return Status::FromErrno(errno, "readlink " + where);
      target.resize(static_cast<size_t>(n));
      if (symlinkat(target.c_str(), out_dir, name.out) != 0)
        return Status::FromErrno(errno, "symlink " + where);
      return Status::Ok();
    }
    if (mknodat(out_dir, name.out, st.st_mode & (S_IFMT | 0600), st.st_rdev) != 0) {
      return Status::FromErrno(errno, "mknod " + where);
    }
    return Status::Ok();
  }

  const int out_root_;
  InodeNames* const inodes_;
  const TakeFile& take_;
  const CopyProgress& progress_;
  uint64_t objects_ = 0;
  uint64_t bytes_ = 0;
  std::map<std::pair<dev_t, ino_t>, std::string>
      links_;  // first copy of each multiply linked inode
};

// The directory `path` lies in, opened relative to `dir` (or `dir` itself), and its last name.
Result<std::string> SplitAt(int dir, const std::string& path, UniqueFd& parent) {
  const size_t slash = path.rfind('/');
  if (slash == std::string::npos) return path;
  parent = UniqueFd(openat(dir, path.substr(0, slash).c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!parent) return Status::FromErrno(errno, "opening the directory of '" + path + "'");
  return path.substr(slash + 1);
}

}  // namespace

Status CopyTree(const std::string& from, const std::string& to, InodeNames* inodes,
                const TakeFile& take, const CopyProgress& progress) {
  UniqueFd in(open(from.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!in) return Status::FromErrno(errno, "opening '" + from + "'");
  UniqueFd out(open(to.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!out) return Status::FromErrno(errno, "opening '" + to + "'");
  if (inodes != nullptr) {
    struct stat st {};
    if (fstat(in.get(), &st) != 0) return Status::FromErrno(errno, "stat '" + from + "'");
    inodes->emplace_back(static_cast<uint64_t>(st.st_ino), "");
  }
  TreeCopier copier(out.get(), inodes, take, progress);
  Status s = copier.CopyDir(in.get(), out.get(), "");
  if (!s.ok())
    return Status::FromErrno(s.code(), "copying '" + from + "' to '" + to + "': " + s.message());
  return Status::Ok();
}

Status CopyEntry(int from_dir, const std::string& from, int to_dir, const std::string& to) {
  UniqueFd in_parent, out_parent;
  auto in_name = SplitAt(from_dir, from, in_parent);
  if (!in_name.ok()) return in_name.status();
  auto out_name = SplitAt(to_dir, to, out_parent);
  if (!out_name.ok()) return out_name.status();
  const TakeFile none;
  const CopyProgress quiet;
  TreeCopier copier(to_dir, nullptr, none, quiet);
  return copier.CopyEntry(in_parent ? in_parent.get() : from_dir,
                          out_parent ? out_parent.get() : to_dir,
                          {in_name->c_str(), out_name->c_str()}, from);
}

namespace {

// Removes everything in directory `fd` (`where` names it for errors), not following symlinks and
// not entering another filesystem (a directory of one, a mount point, cannot be removed: that
// is an error). File types come from readdir where the filesystem gives them, so that removing a
// tree costs no stat per file.
Status EmptyDir(int fd, dev_t dev, const std::string& where) {
  std::vector<std::pair<std::string, bool>> entries;  // name, is a directory
  auto listed = ReadDir(fd, where);
  if (!listed.ok()) return listed.status();
  for (DirEntry& d : *listed) {
    bool is_dir = d.type == DT_DIR;
    if (d.type == DT_UNKNOWN) {
      struct stat st {};
      is_dir = fstatat(fd, d.name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode);
    }
    entries.emplace_back(std::move(d.name), is_dir);
  }
  for (const auto& [name, is_dir] : entries) {
    const std::string path = where + "/" + name;
    if (is_dir) {
      UniqueFd sub(openat(fd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
      struct stat st {};
      if (!sub || fstat(sub.get(), &st) != 0) return Status::FromErrno(errno, "opening " + path);
      if (st.st_dev != dev) return Status::FromErrno(EBUSY, "'" + path + "' is a mount point");
      FAULTFS_RETURN_IF_ERROR(EmptyDir(sub.get(), dev, path));
    }
    if (unlinkat(fd, name.c_str(), is_dir ? AT_REMOVEDIR : 0) != 0 && errno != ENOENT)
      return Status::FromErrno(errno, "removing '" + path + "'");
  }
  return Status::Ok();
}

}  // namespace

Status RemoveTree(const std::string& path) {
  struct stat st {};
  if (lstat(path.c_str(), &st) != 0)
    return errno == ENOENT ? Status::Ok() : Status::FromErrno(errno, path);
  if (S_ISDIR(st.st_mode)) {
    UniqueFd fd(open(path.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!fd) return Status::FromErrno(errno, "opening '" + path + "'");
    FAULTFS_RETURN_IF_ERROR(EmptyDir(fd.get(), st.st_dev, path));
  }
  if ((S_ISDIR(st.st_mode) ? rmdir(path.c_str()) : unlink(path.c_str())) != 0 && errno != ENOENT)
    return Status::FromErrno(errno, "removing '" + path + "'");
  return Status::Ok();
}

}  // namespace faultfs
