#include "reference/fs.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <set>
#include <unordered_map>

namespace faultfs::crash::reference {

ObjId Fs::Lookup(const Entry& e) const {
  if (e.dir >= objects.size()) return kNoObject;
  const auto& entries = objects[e.dir].entries;
  auto it = entries.find(e.name);
  return it == entries.end() ? kNoObject : it->second;
}

void Fs::Set(const Entry& e, ObjId obj) {
  auto& entries = objects.at(e.dir).entries;
  if (obj == kNoObject) {
    entries.erase(e.name);
  } else {
    entries[e.name] = obj;
  }
}

namespace {

uint64_t Fnv64(const std::string& s) {
  uint64_t h = 0xCBF29CE484222325ULL;
  for (char c : s) h = (h ^ static_cast<unsigned char>(c)) * 0x100000001B3ULL;
  return h;
}

// Printable bytes as they are, the others as \xNN; long contents are cut (the hash still covers
// them).
std::string Preview(const std::string& s, size_t max = 48) {
  std::string out;
  for (size_t i = 0; i < s.size() && i < max; ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c >= 0x20 && c < 0x7F && c != '\\') {
      out += static_cast<char>(c);
    } else {
      char buf[8];
      std::snprintf(buf, sizeof(buf), "\\x%02x", c);
      out += buf;
    }
  }
  if (s.size() > max) out += "...";
  return out;
}

std::string TypeName(uint32_t mode) {
  if (S_ISREG(mode)) return "file";
  if (S_ISDIR(mode)) return "dir";
  if (S_ISLNK(mode)) return "symlink";
  if (S_ISFIFO(mode)) return "fifo";
  if (S_ISCHR(mode)) return "chr";
  if (S_ISBLK(mode)) return "blk";
  return "socket";
}

std::string Describe(const Object& o) {
  char perm[16];
  std::snprintf(perm, sizeof(perm), "%04o", o.mode & 07777);
  std::string line = TypeName(o.mode);
  if (!S_ISLNK(o.mode)) line += std::string(" ") + perm;
  line += " " + std::to_string(o.uid) + ":" + std::to_string(o.gid);
  if (o.IsFile()) {
    char hash[24];
    std::snprintf(hash, sizeof(hash), "%016llx", static_cast<unsigned long long>(Fnv64(o.data)));
    line += " size=" + std::to_string(o.data.size()) + " \"" + Preview(o.data) + "\" #" + hash;
  }
  if (S_ISLNK(o.mode)) line += " -> " + Preview(o.data, 4096);
  if (S_ISCHR(o.mode) || S_ISBLK(o.mode)) line += " rdev=" + std::to_string(o.rdev);
  for (const auto& [k, v] : o.xattrs) line += " xattr " + Preview(k) + "=" + Preview(v);
  return line;
}

}  // namespace

Tree VisibleTree(const Fs& fs) {
  // Breadth first, so that a directory seen twice (only possible through a damaged state: a
  // directory has one name) is entered once.
  std::vector<std::pair<std::string, ObjId>> names;  // every visible name below the root
  std::set<ObjId> entered = {fs.root};
  std::vector<std::pair<std::string, ObjId>> dirs = {{"", fs.root}};
  for (size_t i = 0; i < dirs.size(); ++i) {
    const auto [path, dir] = dirs[i];
    for (const auto& [name, obj] : fs.objects.at(dir).entries) {
      const std::string child = path.empty() ? name : path + "/" + name;
      names.emplace_back(child, obj);
      if (fs.objects.at(obj).IsDir() && entered.insert(obj).second) dirs.emplace_back(child, obj);
    }
  }
  std::map<ObjId, std::string> first_name;
  for (const auto& [path, obj] : names) {
    auto [it, fresh] = first_name.emplace(obj, path);
    if (!fresh && path < it->second) it->second = path;
  }
  std::map<ObjId, int> name_count;
  for (const auto& [path, obj] : names) ++name_count[obj];
  Tree tree;
  for (const auto& [path, obj] : names) {
    std::string line = Describe(fs.objects.at(obj));
    if (name_count[obj] > 1 && !fs.objects.at(obj).IsDir()) {
      line += " linked-with " + first_name[obj];
    }
    tree[path] = line;
  }
  return tree;
}

namespace {

Result<std::string> ReadWholeFile(const std::string& path) {
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) return Status::FromErrno(errno, "open " + path);
  std::string data;
  char buf[65536];
  for (;;) {
    const ssize_t n = read(fd, buf, sizeof(buf));
    if (n < 0) {
      const int err = errno;
      close(fd);
      return Status::FromErrno(err, "read " + path);
    }
    if (n == 0) break;
    data.append(buf, static_cast<size_t>(n));
  }
  close(fd);
  return data;
}

Result<std::map<std::string, std::string>> ReadUserXattrs(const std::string& path) {
  std::map<std::string, std::string> out;
  char names[65536];
  const ssize_t n = llistxattr(path.c_str(), names, sizeof(names));
  if (n < 0) {
    if (errno == ENOTSUP) return out;
    return Status::FromErrno(errno, "llistxattr " + path);
  }
  for (ssize_t i = 0; i < n;) {
    const std::string name(names + i);
    i += static_cast<ssize_t>(name.size()) + 1;
    if (name.rfind("user.", 0) != 0) continue;
    char value[65536];
    const ssize_t len = lgetxattr(path.c_str(), name.c_str(), value, sizeof(value));
    if (len < 0) return Status::FromErrno(errno, "lgetxattr " + path + " " + name);
    out[name] = std::string(value, static_cast<size_t>(len));
  }
  return out;
}

class Reader {
 public:
  Result<ObjId> Read(const std::string& path) {
    struct stat st {};
    if (lstat(path.c_str(), &st) != 0) return Status::FromErrno(errno, "lstat " + path);
    if (!S_ISDIR(st.st_mode)) {
      auto known = by_ino_.find(st.st_ino);
      if (known != by_ino_.end()) return known->second;
    }
    const auto id = static_cast<ObjId>(fs_.objects.size());
    fs_.objects.emplace_back();
    by_ino_[st.st_ino] = id;
    Object o;
    o.mode = st.st_mode;
    o.uid = st.st_uid;
    o.gid = st.st_gid;
    if (S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode)) o.rdev = st.st_rdev;
    if (S_ISREG(st.st_mode)) {
      auto data = ReadWholeFile(path);
      if (!data.ok()) return data.status();
      o.data = std::move(*data);
    } else if (S_ISLNK(st.st_mode)) {
      std::string target(4096, '\0');
      const ssize_t n = readlink(path.c_str(), target.data(), target.size());
      if (n < 0) return Status::FromErrno(errno, "readlink " + path);
      target.resize(static_cast<size_t>(n));
      o.data = std::move(target);
    }
    if (!S_ISLNK(st.st_mode)) {
      auto xattrs = ReadUserXattrs(path);
      if (!xattrs.ok()) return xattrs.status();
      o.xattrs = std::move(*xattrs);
    }
    if (S_ISDIR(st.st_mode)) {
      auto entries = ReadDir(path);
      if (!entries.ok()) return entries.status();
      o.entries = std::move(*entries);
    }
    fs_.objects[id] = std::move(o);
    return id;
  }
  Fs Take() { return std::move(fs_); }

 private:
  Result<std::map<std::string, ObjId>> ReadDir(const std::string& path) {
    std::vector<std::string> names;
    DIR* d = opendir(path.c_str());
    if (d == nullptr) return Status::FromErrno(errno, "opendir " + path);
    while (const dirent* e = readdir(d)) {
      const std::string name = e->d_name;
      if (name != "." && name != "..") names.push_back(name);
    }
    closedir(d);
    std::map<std::string, ObjId> entries;
    for (const auto& name : names) {
      auto child = Read(path + "/" + name);
      if (!child.ok()) return child.status();
      entries[name] = *child;
    }
    return entries;
  }

  Fs fs_;
  std::unordered_map<ino_t, ObjId> by_ino_;
};

}  // namespace

Result<Fs> ReadFs(const std::string& dir) {
  Reader reader;
  auto root = reader.Read(dir);
  if (!root.ok()) return root.status();
  Fs fs = reader.Take();
  fs.root = *root;
  return fs;
}

Result<Tree> ReadTree(const std::string& dir) {
  auto fs = ReadFs(dir);
  if (!fs.ok()) return fs.status();
  return VisibleTree(*fs);
}

std::string DiffTrees(const Tree& expected, const Tree& actual) {
  std::string out;
  for (const auto& [path, line] : expected) {
    auto it = actual.find(path);
    if (it == actual.end()) {
      out += "  missing " + path + ": " + line + "\n";
    } else if (it->second != line) {
      out +=
          "  differs " + path + ":\n    expected " + line + "\n    got      " + it->second + "\n";
    }
  }
  for (const auto& [path, line] : actual) {
    if (!expected.contains(path)) out += "  extra   " + path + ": " + line + "\n";
  }
  return out;
}

std::string TreeText(const Tree& tree) {
  if (tree.empty()) return "  (empty)\n";
  std::string out;
  for (const auto& [path, line] : tree) out += "  " + path + ": " + line + "\n";
  return out;
}

std::string TreeKey(const Tree& tree) {
  std::string key;
  for (const auto& [path, line] : tree) key += path + '\0' + line + '\n';
  return key;
}

}  // namespace faultfs::crash::reference
