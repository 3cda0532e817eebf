#include "faultfs/core/tree_hash.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstdio>
#include <map>
#include <string_view>
#include <utility>
#include <vector>

#define XXH_INLINE_ALL  // header only: no library to link, and the hot loop inlined
#include <xxhash.h>

#include "faultfs/core/tree_read.h"
#include "faultfs/core/unique_fd.h"

namespace faultfs {

namespace {

// XXH3-128 (xxhash, from Debian): it hashes at memory speed, and crash states are hashed whole,
// big files included, once per state.
class Hasher {
 public:
  Hasher() { XXH3_128bits_reset_withSeed(&state_, 0x243F6A8885A308D3ULL); }
  void Bytes(const void* data, size_t n) { XXH3_128bits_update(&state_, data, n); }
  void U64(uint64_t v) { Bytes(&v, sizeof(v)); }
  void Str(std::string_view s) {
    U64(s.size());
    Bytes(s.data(), s.size());
  }
  std::string Hex() const {
    const XXH128_hash_t h = XXH3_128bits_digest(&state_);
    char buf[40];
    std::snprintf(buf, sizeof(buf), "%016llx%016llx", static_cast<unsigned long long>(h.high64),
                  static_cast<unsigned long long>(h.low64));
    return buf;
  }

 private:
  XXH3_state_t state_{};  // zeroed: the reset reads fields before it sets them
};

// Buffers reused by every hash a thread computes (allocating and clearing them per file would cost
// more than hashing a small file).
std::vector<char>& DataBuffer() {
  thread_local std::vector<char> buf(1 << 20);
  return buf;
}

// Feeds the extended attributes of (dir, name), by name, into `h`.
void HashXattrs(Hasher& h, int dir, const std::string& name) {
  for (const auto& [attr, value] : ReadXattrs(dir, name)) {
    h.Str(attr);
    h.Str(value);
  }
}

// Feeds a regular file's contents into `h`.
// `size`: the file's size as a stat just saw it, if known (-1 if not). A read that comes back
// short of the buffer with the whole of it is at the end: no further read is needed to learn so.
Status HashContents(Hasher& h, int dir, const std::string& name, const std::string& where,
                    off_t size = -1) {
  UniqueFd fd(openat(dir, name.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
  if (!fd) return Status::FromErrno(errno, "opening " + where);
  std::vector<char>& buf = DataBuffer();
  off_t total = 0;
  for (;;) {
    const ssize_t n = read(fd.get(), buf.data(), buf.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Status::FromErrno(errno, "reading " + where);
    if (n == 0) break;
    h.Bytes(buf.data(), static_cast<size_t>(n));
    total += n;
    if (static_cast<size_t>(n) < buf.size() && total == size) break;
  }
  h.U64(0xE0FE0FE0);
  return Status::Ok();
}

// A regular file's own part of a tree hash: its extended attributes and contents.
Result<std::string> FileEntryDigest(int dir, const std::string& name, const std::string& where,
                                    off_t size = -1) {
  Hasher h;
  HashXattrs(h, dir, name);
  FAULTFS_RETURN_IF_ERROR(HashContents(h, dir, name, where, size));
  return h.Hex();
}

class TreeHasher {
 public:
  explicit TreeHasher(HashObserver* observer) : observer_(observer) {}
  Status Dir(int fd, const std::string& where) {
    auto names = SortedNames(fd, where);
    if (!names.ok()) return names.status();
    for (const auto& name : *names) {
      FAULTFS_RETURN_IF_ERROR(Entry(fd, name, where.empty() ? name : where + "/" + name));
    }
    h_.U64(0xD1D1D1D1);  // end of directory: "a/b" and "a" + "b" hash differently
    return Status::Ok();
  }
  std::string Hex() const { return h_.Hex(); }

 private:
  Status Entry(int dir, const std::string& name, const std::string& where) {
    struct stat st {};
    if (fstatat(dir, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0)
      return Status::FromErrno(errno, "stat " + where);
    if (observer_ != nullptr) observer_->Saw(where, st);
    h_.Str(name);
    h_.U64(st.st_mode);
    h_.U64((static_cast<uint64_t>(st.st_uid) << 32) | st.st_gid);
    if (!S_ISDIR(st.st_mode) && st.st_nlink > 1) {
      // Names of one file: the first name seen stands for the inode.
      auto [it, fresh] = links_.try_emplace(st.st_ino, where);
      h_.Str(it->second);
      if (!fresh) return Status::Ok();
    }
    if (S_ISREG(st.st_mode)) return File(dir, name, where, st);
    HashXattrs(h_, dir, name);
    if (S_ISDIR(st.st_mode)) {
      UniqueFd sub(openat(dir, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
      if (!sub) return Status::FromErrno(errno, "opening " + where);
      return Dir(sub.get(), where);
    }
    if (S_ISLNK(st.st_mode)) {
      std::string target(PATH_MAX, '\0');
      const ssize_t n = readlinkat(dir, name.c_str(), target.data(), target.size());
      if (n < 0) return Status::FromErrno(errno, "readlink " + where);
      target.resize(static_cast<size_t>(n));
      h_.Str(target);
      return Status::Ok();
    }
    h_.U64(st.st_rdev);
    return Status::Ok();
  }

  // A regular file enters the tree's hash as a digest of its own, so that a caller who knows
  // the digest of an unchanged file spares reading it.
  Status File(int dir, const std::string& name, const std::string& where, const struct stat& st) {
    if (observer_ != nullptr) {
      if (const std::string* digest = observer_->Known(where, st)) {
        h_.Str(*digest);
        return Status::Ok();
      }
    }
    auto digest = FileEntryDigest(dir, name, where, st.st_size);
    if (!digest.ok()) return digest.status();
    h_.Str(*digest);
    if (observer_ != nullptr) observer_->Learned(where, st, *digest);
    return Status::Ok();
  }

  HashObserver* const observer_;
  Hasher h_;
  std::map<ino_t, std::string> links_;
};

// The directory `path` is in, opened, and its last name.
Result<std::pair<UniqueFd, std::string>> OpenParent(const std::string& path) {
  const size_t slash = path.rfind('/');
  const std::string dir = slash == std::string::npos ? "."
                          : slash == 0               ? "/"
                                                     : path.substr(0, slash);
  UniqueFd fd(open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd) return Status::FromErrno(errno, "opening '" + dir + "'");
  return std::pair(std::move(fd), slash == std::string::npos ? path : path.substr(slash + 1));
}

}  // namespace

Result<std::string> HashFile(const std::string& path) {
  Hasher h;
  FAULTFS_RETURN_IF_ERROR(HashContents(h, AT_FDCWD, path, path));
  return h.Hex();
}

Result<std::string> HashFileEntry(const std::string& path) {
  auto parent = OpenParent(path);
  if (!parent.ok()) return parent.status();
  return FileEntryDigest(parent->first.get(), parent->second, path);
}

Result<std::string> HashTree(const std::string& dir, HashObserver* observer) {
  UniqueFd fd(open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd) return Status::FromErrno(errno, "opening '" + dir + "'");
  TreeHasher hasher(observer);
  FAULTFS_RETURN_IF_ERROR(hasher.Dir(fd.get(), ""));
  return hasher.Hex();
}

}  // namespace faultfs
