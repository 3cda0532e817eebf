#include "faultfs/core/tree_diff.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdio>
#include <map>
#include <set>
#include <tuple>
#include <utility>

#include "byte_diff.h"
#include "faultfs/core/join.h"
#include "faultfs/core/tree_read.h"
#include "faultfs/core/unique_fd.h"

namespace faultfs {
namespace {

std::string TypeName(mode_t mode) {
  switch (mode & S_IFMT) {
    case S_IFREG:
      return "file";
    case S_IFDIR:
      return "directory";
    case S_IFLNK:
      return "symlink";
    case S_IFIFO:
      return "fifo";
    case S_IFSOCK:
      return "socket";
    case S_IFCHR:
      return "character device";
    case S_IFBLK:
      return "block device";
    default:
      return "unknown object";
  }
}

std::string ModeText(mode_t mode) {
  char buf[16];
  (void)std::snprintf(buf, sizeof(buf), "%04o", mode & 07777U);
  return buf;
}

std::string OwnerText(const struct stat& st) {
  return std::to_string(st.st_uid) + ":" + std::to_string(st.st_gid);
}

std::string DeviceText(dev_t dev) {
  return std::to_string(major(dev)) + ":" + std::to_string(minor(dev));
}

// An attribute as name="value": non-printable bytes escaped, long values cut (enough to tell two
// values apart in most cases, short enough for one line).
std::string ShownXattr(const std::string& name, const std::string& value) {
  constexpr size_t kShown = 32;
  std::string out = name + "=\"";
  for (size_t i = 0; i < value.size() && i < kShown; ++i) {
    const auto c = static_cast<unsigned char>(value[i]);
    if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\') {
      out += value[i];
      continue;
    }
    char escaped[8];
    (void)std::snprintf(escaped, sizeof(escaped), "\\x%02x", c);
    out += escaped;
  }
  return out + (value.size() > kShown ? "\"..." : "\"");
}

// The attributes that differ, each side's: those missing on the other side or with another value.
std::pair<std::string, std::string> XattrsThatDiffer(const Xattrs& expected, const Xattrs& actual) {
  std::vector<std::string> e, a;
  std::map<std::string, std::pair<const std::string*, const std::string*>> by_name;
  for (const auto& [name, value] : expected) by_name[name].first = &value;
  for (const auto& [name, value] : actual) by_name[name].second = &value;
  for (const auto& [name, values] : by_name) {
    if (values.first != nullptr && values.second != nullptr && *values.first == *values.second)
      continue;
    if (values.first != nullptr) e.push_back(ShownXattr(name, *values.first));
    if (values.second != nullptr) a.push_back(ShownXattr(name, *values.second));
  }
  return {Join(e), Join(a)};
}

Result<std::string> ReadLink(int dir, const std::string& name, const std::string& where) {
  std::string target(PATH_MAX, '\0');
  const ssize_t n = readlinkat(dir, name.c_str(), target.data(), target.size());
  if (n < 0) return Status::FromErrno(errno, "readlink " + where);
  target.resize(static_cast<size_t>(n));
  return target;
}

// Depth-first order with names sorted bytewise: "a" < "a/b" < "a0" ('/' before any other byte).
bool WalkOrder(const TreeDifference& x, const TreeDifference& y) {
  auto rank = [](char c) { return c == '/' ? 0 : static_cast<unsigned char>(c) + 1; };
  return std::lexicographical_compare(x.path.begin(), x.path.end(), y.path.begin(), y.path.end(),
                                      [&](char a, char b) { return rank(a) < rank(b); });
}

std::string Child(const std::string& where, const std::string& name) {
  return where.empty() ? name : where + "/" + name;
}

// One of the two trees being compared.
struct Tree {
  std::string root;  // as given, for errors
  dev_t dev = 0;     // the root's device: a directory on another one is a mount point
  std::map<ino_t, std::vector<std::string>> linked = {};  // the names of multiply linked files

  std::string Where(const std::string& path) const {
    return path.empty() ? root : root + "/" + path;
  }
  void NoteName(const std::string& path, const struct stat& st) {
    if (!S_ISDIR(st.st_mode) && st.st_nlink > 1) linked[st.st_ino].push_back(path);
  }
  // The other names of `path`'s file (inode `ino`, 0 for a file with one name) in walk order.
  std::string OtherNames(const std::string& path, ino_t ino) const {
    const auto it = linked.find(ino);
    if (ino == 0 || it == linked.end()) return "";
    std::vector<std::string> others;
    for (const auto& name : it->second)
      if (name != path) others.push_back(name);
    return Join(others);
  }
};

// An object on one side: its directory, name there and lstat.
struct Object {
  int dir;
  const std::string& name;
  struct stat st;
};

class TreeDiffer {
 public:
  TreeDiffer(Tree expected, Tree actual, const TreeDiffOptions& options)
      : expected_(std::move(expected)), actual_(std::move(actual)), options_(options) {}

  Status Roots(int expected, int actual) {
    const std::string self = ".";  // a directory's own xattrs, through its fd
    Object e{expected, self, {}}, a{actual, self, {}};
    if (fstat(expected, &e.st) != 0) return Status::FromErrno(errno, "stat " + expected_.root);
    if (fstat(actual, &a.st) != 0) return Status::FromErrno(errno, "stat " + actual_.root);
    expected_.dev = e.st.st_dev;
    actual_.dev = a.st.st_dev;
    Metadata(e, a, "");
    return Dirs(expected, actual, "");
  }

  // The differences found, with those between hard links, in walk order.
  std::vector<TreeDifference> Finish() && {
    for (const auto& [path, e_ino, a_ino] : linked_) {
      std::string e = expected_.OtherNames(path, e_ino), a = actual_.OtherNames(path, a_ino);
      if (e != a) out_.push_back({TreeDiffKind::kLinks, path, std::move(e), std::move(a)});
    }
    std::stable_sort(out_.begin(), out_.end(), WalkOrder);
    return std::move(out_);
  }

 private:
  // Merges the sorted listings of two directories.
  Status Dirs(int expected, int actual, const std::string& where) {
    auto e = SortedNames(expected, expected_.Where(where));
    if (!e.ok()) return e.status();
    auto a = SortedNames(actual, actual_.Where(where));
    if (!a.ok()) return a.status();
    size_t i = 0, j = 0;
    while (i < e->size() || j < a->size()) {
      if (j == a->size() || (i < e->size() && (*e)[i] < (*a)[j])) {
        FAULTFS_RETURN_IF_ERROR(Lone(expected_, expected, (*e)[i], where, TreeDiffKind::kMissing));
        ++i;
      } else if (i == e->size() || (*a)[j] < (*e)[i]) {
        FAULTFS_RETURN_IF_ERROR(Lone(actual_, actual, (*a)[j], where, TreeDiffKind::kExtra));
        ++j;
      } else {
        FAULTFS_RETURN_IF_ERROR(Both(expected, actual, (*e)[i], Child(where, (*e)[i])));
        ++i, ++j;
      }
    }
    return Status::Ok();
  }

  // A name only one side has.
  Status Lone(Tree& tree, int dir, const std::string& name, const std::string& parent,
              TreeDiffKind kind) {
    const std::string where = Child(parent, name);
    struct stat st {};
    if (fstatat(dir, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0)
      return Status::FromErrno(errno, "stat " + tree.Where(where));
    tree.NoteName(where, st);
    const bool missing = kind == TreeDiffKind::kMissing;
    out_.push_back(
        {kind, where, missing ? TypeName(st.st_mode) : "", missing ? "" : TypeName(st.st_mode)});
    return S_ISDIR(st.st_mode) && st.st_dev == tree.dev ? NoteSubtree(tree, dir, name, where)
                                                        : Status::Ok();
  }

  // The names under a directory only one side has are not differences of their own, but a file
  // linked from there has another name on that side.
  Status NoteSubtree(Tree& tree, int parent, const std::string& name, const std::string& where) {
    UniqueFd dir(openat(parent, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!dir) return Status::FromErrno(errno, "opening " + tree.Where(where));
    auto names = SortedNames(dir.get(), tree.Where(where));
    if (!names.ok()) return names.status();
    for (const auto& child : *names) {
      const std::string path = Child(where, child);
      struct stat st {};
      if (fstatat(dir.get(), child.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0)
        return Status::FromErrno(errno, "stat " + tree.Where(path));
      tree.NoteName(path, st);
      if (S_ISDIR(st.st_mode) && st.st_dev == tree.dev)
        FAULTFS_RETURN_IF_ERROR(NoteSubtree(tree, dir.get(), child, path));
    }
    return Status::Ok();
  }

  // A name both sides have.
  Status Both(int expected, int actual, const std::string& name, const std::string& where) {
    Object e{expected, name, {}}, a{actual, name, {}};
    if (fstatat(expected, name.c_str(), &e.st, AT_SYMLINK_NOFOLLOW) != 0)
      return Status::FromErrno(errno, "stat " + expected_.Where(where));
    if (fstatat(actual, name.c_str(), &a.st, AT_SYMLINK_NOFOLLOW) != 0)
      return Status::FromErrno(errno, "stat " + actual_.Where(where));
    expected_.NoteName(where, e.st);
    actual_.NoteName(where, a.st);
    if ((e.st.st_mode & S_IFMT) != (a.st.st_mode & S_IFMT)) {
      out_.push_back({TreeDiffKind::kType, where, TypeName(e.st.st_mode), TypeName(a.st.st_mode)});
      // Nothing else compares between, say, a file and a directory; the names inside still count.
      if (S_ISDIR(e.st.st_mode) && e.st.st_dev == expected_.dev)
        FAULTFS_RETURN_IF_ERROR(NoteSubtree(expected_, expected, name, where));
      if (S_ISDIR(a.st.st_mode) && a.st.st_dev == actual_.dev)
        FAULTFS_RETURN_IF_ERROR(NoteSubtree(actual_, actual, name, where));
      return Status::Ok();
    }
    Metadata(e, a, where);
    if (!S_ISDIR(e.st.st_mode) && (e.st.st_nlink > 1 || a.st.st_nlink > 1))
      linked_.emplace_back(where, e.st.st_nlink > 1 ? e.st.st_ino : 0,
                           a.st.st_nlink > 1 ? a.st.st_ino : 0);
    return Contents(e, a, where);
  }

  void Metadata(const Object& e, const Object& a, const std::string& where) {
    if ((e.st.st_mode & 07777) != (a.st.st_mode & 07777))
      out_.push_back({TreeDiffKind::kMode, where, ModeText(e.st.st_mode), ModeText(a.st.st_mode)});
    if (e.st.st_uid != a.st.st_uid || e.st.st_gid != a.st.st_gid)
      out_.push_back({TreeDiffKind::kOwner, where, OwnerText(e.st), OwnerText(a.st)});
    auto [e_attrs, a_attrs] =
        XattrsThatDiffer(ReadXattrs(e.dir, e.name), ReadXattrs(a.dir, a.name));
    if (!e_attrs.empty() || !a_attrs.empty())
      out_.push_back({TreeDiffKind::kXattrs, where, std::move(e_attrs), std::move(a_attrs)});
  }

  // What the object holds, by its kind (the same on both sides).
  Status Contents(const Object& e, const Object& a, const std::string& where) {
    if (S_ISREG(e.st.st_mode)) return Files(e, a, where);
    if (S_ISDIR(e.st.st_mode)) return Subdirs(e, a, where);
    if (S_ISCHR(e.st.st_mode) || S_ISBLK(e.st.st_mode)) {
      if (e.st.st_rdev != a.st.st_rdev)
        out_.push_back(
            {TreeDiffKind::kDevice, where, DeviceText(e.st.st_rdev), DeviceText(a.st.st_rdev)});
      return Status::Ok();
    }
    if (!S_ISLNK(e.st.st_mode)) return Status::Ok();  // fifos and sockets hold nothing
    auto e_target = ReadLink(e.dir, e.name, expected_.Where(where));
    if (!e_target.ok()) return e_target.status();
    auto a_target = ReadLink(a.dir, a.name, actual_.Where(where));
    if (!a_target.ok()) return a_target.status();
    if (*e_target != *a_target)
      out_.push_back({TreeDiffKind::kSymlink, where, std::move(*e_target), std::move(*a_target)});
    return Status::Ok();
  }

  Status Files(const Object& e, const Object& a, const std::string& where) {
    // The names of one file share its contents: compare them once.
    if ((e.st.st_nlink > 1 || a.st.st_nlink > 1) &&
        !compared_.emplace(e.st.st_ino, a.st.st_ino).second)
      return Status::Ok();
    const std::string e_where = expected_.Where(where), a_where = actual_.Where(where);
    UniqueFd e_fd(openat(e.dir, e.name.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
    if (!e_fd) return Status::FromErrno(errno, "opening " + e_where);
    UniqueFd a_fd(openat(a.dir, a.name.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
    if (!a_fd) return Status::FromErrno(errno, "opening " + a_where);
    const auto e_size = static_cast<uint64_t>(e.st.st_size);
    const auto a_size = static_cast<uint64_t>(a.st.st_size);
    auto bytes = DiffBytes({e_fd.get(), e_size, e_where}, {a_fd.get(), a_size, a_where},
                           options_.max_ranges);
    if (!bytes.ok()) return bytes.status();
    if (bytes->range_count == 0 && e_size == a_size) return Status::Ok();
    out_.push_back({TreeDiffKind::kContent, where, "", "", e_size, a_size, std::move(bytes->ranges),
                    bytes->range_count});
    return Status::Ok();
  }

  Status Subdirs(const Object& e, const Object& a, const std::string& where) {
    if (e.st.st_dev != expected_.dev || a.st.st_dev != actual_.dev)
      return Status::Ok();  // a mount point: another filesystem, not part of the tree
    constexpr int kFlags = O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC;
    UniqueFd e_fd(openat(e.dir, e.name.c_str(), kFlags));
    if (!e_fd) return Status::FromErrno(errno, "opening " + expected_.Where(where));
    UniqueFd a_fd(openat(a.dir, a.name.c_str(), kFlags));
    if (!a_fd) return Status::FromErrno(errno, "opening " + actual_.Where(where));
    return Dirs(e_fd.get(), a_fd.get(), where);
  }

  Tree expected_, actual_;
  const TreeDiffOptions options_;
  std::vector<TreeDifference> out_;
  // Names that both sides have, of a file with other names on either side (inode, 0 if not).
  std::vector<std::tuple<std::string, ino_t, ino_t>> linked_;
  std::set<std::pair<ino_t, ino_t>> compared_;  // file pairs whose contents were compared
};

}  // namespace

const char* TreeDiffKindName(TreeDiffKind kind) {
  switch (kind) {
    case TreeDiffKind::kMissing:
      return "missing";
    case TreeDiffKind::kExtra:
      return "extra";
    case TreeDiffKind::kType:
      return "type";
    case TreeDiffKind::kContent:
      return "content";
    case TreeDiffKind::kMode:
      return "mode";
    case TreeDiffKind::kOwner:
      return "owner";
    case TreeDiffKind::kXattrs:
      return "xattrs";
    case TreeDiffKind::kSymlink:
      return "symlink";
    case TreeDiffKind::kDevice:
      return "device";
    case TreeDiffKind::kLinks:
      return "links";
  }
  return "unknown";
}

Result<std::vector<TreeDifference>> DiffTrees(const std::string& expected,
                                              const std::string& actual,
                                              const TreeDiffOptions& options) {
  UniqueFd e(open(expected.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!e) return Status::FromErrno(errno, "opening '" + expected + "'");
  UniqueFd a(open(actual.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!a) return Status::FromErrno(errno, "opening '" + actual + "'");
  TreeDiffer differ(Tree{expected}, Tree{actual}, options);
  FAULTFS_RETURN_IF_ERROR(differ.Roots(e.get(), a.get()));
  return std::move(differ).Finish();
}

}  // namespace faultfs
