// Names of ops, file types and actions, as policies spell them.
#include <sys/stat.h>

#include <array>
#include <string_view>
#include <vector>

#include "faultfs/policy/policy.h"

namespace faultfs::policy {

namespace {

constexpr std::array<const char*, kOpCount> kOpNames = {
    "lookup",      "getattr", "setattr",    "truncate",        "readlink", "mknod",     "mkdir",
    "unlink",      "rmdir",   "symlink",    "rename",          "link",     "open",      "create",
    "read",        "write",   "flush",      "release",         "fsync",    "fdatasync", "fsyncdir",
    "opendir",     "readdir", "releasedir", "statfs",          "setxattr", "getxattr",  "listxattr",
    "removexattr", "access",  "fallocate",  "copy_file_range", "lseek"};

constexpr std::array<const char*, 7> kFileTypeNames = {
    "regular", "directory", "symlink", "fifo", "socket", "char_device", "block_device"};

template <typename T>
OpSet SetOf(std::initializer_list<T> ops) {
  OpSet set;
  for (auto op : ops) set.set(static_cast<size_t>(op));
  return set;
}

}  // namespace

const char* OpName(Op op) { return kOpNames[static_cast<size_t>(op)]; }

std::optional<Op> OpFromName(std::string_view name) {
  for (size_t i = 0; i < kOpNames.size(); ++i) {
    if (name == kOpNames[i]) return static_cast<Op>(i);
  }
  return std::nullopt;
}

std::optional<OpSet> OpGroupFromName(std::string_view name) {
  if (name == "all") return OpSet().set();
  if (name == "xattr")
    return SetOf({Op::kSetxattr, Op::kGetxattr, Op::kListxattr, Op::kRemovexattr});
  if (name == "sync") return SetOf({Op::kFsync, Op::kFdatasync, Op::kFsyncdir});
  return std::nullopt;
}

std::vector<std::string_view> OpWords() {
  std::vector<std::string_view> words(kOpNames.begin(), kOpNames.end());
  words.insert(words.end(), {"xattr", "sync", "all"});
  return words;
}

const char* FileTypeName(FileType t) { return kFileTypeNames[static_cast<size_t>(t)]; }

std::optional<FileType> FileTypeFromName(std::string_view name) {
  for (size_t i = 0; i < kFileTypeNames.size(); ++i) {
    if (name == kFileTypeNames[i]) return static_cast<FileType>(i);
  }
  return std::nullopt;
}

std::vector<std::string_view> FileTypeWords() {
  return {kFileTypeNames.begin(), kFileTypeNames.end()};
}

std::optional<FileType> FileTypeFromMode(mode_t mode) {
  switch (mode & S_IFMT) {
    case S_IFREG:
      return FileType::kRegular;
    case S_IFDIR:
      return FileType::kDirectory;
    case S_IFLNK:
      return FileType::kSymlink;
    case S_IFIFO:
      return FileType::kFifo;
    case S_IFSOCK:
      return FileType::kSocket;
    case S_IFCHR:
      return FileType::kCharDevice;
    case S_IFBLK:
      return FileType::kBlockDevice;
    default:
      return std::nullopt;
  }
}

}  // namespace faultfs::policy
