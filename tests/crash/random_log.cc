#include "random_log.h"

#include <fcntl.h>
#include <linux/fs.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <map>
#include <set>
#include <vector>

#include "faultfs/core/random.h"
#include "faultfs/core/tree_copy.h"

namespace faultfs::crash {
namespace {

using record::Op;
using record::OpKind;

enum class NodeType { kFile, kDir, kSymlink, kFifo };

// One object of the simulated filesystem the workload runs on.
struct Node {
  NodeType type = NodeType::kFile;
  uint64_t ino = 0;
  bool alive = true;
  int names = 0;                           // its directory entries
  std::map<std::string, size_t> children;  // a directory's entries
  size_t parent = 0;                       // a directory's parent
  std::string dir_name;                    // a directory's name in its parent
  bool open = false;                       // a file the workload holds open
  uint32_t sync_flags = 0;                 // how it was opened: kSyncData, kSyncAll or 0
  uint64_t size = 0;
  std::set<std::string> xattrs;
  std::string stale_path;  // its last name, for ops on it once it has none
};

// One name of an object: where it is and what it names.
struct Name {
  std::string path;
  size_t dir = 0;
  std::string name;
  size_t node = 0;
};

const char* const kFileNames[] = {"f", "g", "x", "f.tmp", "n"};
const char* const kDirNames[] = {"d", "e", "sub"};

class Generator {
 public:
  Generator(uint64_t seed, const RandomLogOptions& options) : rng_(seed), options_(options) {}

  Status BuildStart(const std::string& scratch, const std::string& snapshot);
  void Generate();
  record::ReadLog Take() { return std::move(log_); }

 private:
  // ---- the simulated tree ----
  size_t NewNode(NodeType type, uint64_t ino) {
    Node n;
    n.type = type;
    n.ino = ino;
    nodes_.push_back(n);
    return nodes_.size() - 1;
  }
  std::string DirPath(size_t dir) const {
    if (dir == 0) return "";
    const std::string up = DirPath(nodes_[dir].parent);
    return up.empty() ? nodes_[dir].dir_name : up + "/" + nodes_[dir].dir_name;
  }
  std::string PathIn(size_t dir, const std::string& name) const {
    const std::string up = DirPath(dir);
    return up.empty() ? name : up + "/" + name;
  }
  void Attach(size_t dir, const std::string& name, size_t node) {
    nodes_[dir].children[name] = node;
    ++nodes_[node].names;
    if (nodes_[node].type == NodeType::kDir) {
      nodes_[node].parent = dir;
      nodes_[node].dir_name = name;
    }
  }
  void Detach(size_t dir, const std::string& name) {
    const size_t node = nodes_[dir].children.at(name);
    nodes_[dir].children.erase(name);
    --nodes_[node].names;
    nodes_[node].stale_path = PathIn(dir, name);
  }
  // An object with no names left that nothing holds open is gone: its inode number is free.
  void MaybeFree(size_t node) {
    Node& n = nodes_[node];
    if (n.names > 0 || n.open || !n.alive) return;
    n.alive = false;
    free_inos_.insert(n.ino);
  }
  uint64_t NewIno() {
    if (!free_inos_.empty() && rng_.Below(10) < 6) {
      const uint64_t ino = *free_inos_.begin();
      free_inos_.erase(free_inos_.begin());
      return ino;
    }
    return next_ino_++;
  }
  std::vector<Name> Names() const {
    std::vector<Name> out;
    std::vector<size_t> dirs = {0};
    for (size_t i = 0; i < dirs.size(); ++i) {
      for (const auto& [name, node] : nodes_[dirs[i]].children) {
        out.push_back({PathIn(dirs[i], name), dirs[i], name, node});
        if (nodes_[node].type == NodeType::kDir) dirs.push_back(node);
      }
    }
    return out;
  }
  std::vector<Name> NamesWhere(bool (*pred)(const Node&)) const {
    std::vector<Name> out;
    for (auto& n : Names()) {
      if (pred(nodes_[n.node])) out.push_back(n);
    }
    return out;
  }
  std::vector<size_t> Dirs() const {
    std::vector<size_t> out = {0};
    for (const auto& n : Names()) {
      if (nodes_[n.node].type == NodeType::kDir) out.push_back(n.node);
    }
    return out;
  }
  bool Inside(size_t dir, size_t ancestor) const {
    for (size_t d = dir;; d = nodes_[d].parent) {
      if (d == ancestor) return true;
      if (d == 0) return false;
    }
  }
  // Files the workload can reach: by a name, or through the descriptor it holds open.
  std::vector<std::pair<size_t, std::string>> Files() const {
    std::vector<std::pair<size_t, std::string>> out;
    std::set<size_t> seen;
    for (const auto& n : Names()) {
      if (nodes_[n.node].type == NodeType::kFile && seen.insert(n.node).second) {
        out.emplace_back(n.node, n.path);
      }
    }
    for (size_t i = 0; i < nodes_.size(); ++i) {
      if (nodes_[i].alive && nodes_[i].open && nodes_[i].names == 0) {
        out.emplace_back(i, nodes_[i].stale_path);
      }
    }
    return out;
  }

  template <typename T>
  const T& Pick(const std::vector<T>& v) {
    return v[rng_.Below(v.size())];
  }
  bool Chance(uint64_t percent) { return rng_.Below(100) < percent; }
  std::string RandomBytes(size_t n) {
    std::string s(n, 'a');
    for (char& c : s) c = static_cast<char>('a' + rng_.Below(26));
    return s;
  }
  uint32_t RandomSyncFlags() {
    const uint64_t r = rng_.Below(100);
    return r < 8 ? record::kSyncData : r < 16 ? record::kSyncAll : 0;
  }

  // ---- recording ----
  Op& Emit(OpKind kind, std::string path, uint64_t ino);
  void Open(size_t node) {
    if (nodes_[node].open) return;
    nodes_[node].open = true;
    nodes_[node].sync_flags = RandomSyncFlags();
  }

  // ---- the workload's calls ----
  size_t DoCreate(OpKind kind, size_t dir, const std::string& name);
  void DoWrite(size_t node, const std::string& path, uint64_t offset, std::string data);
  void DoSync(OpKind kind, size_t node, const std::string& path) {
    Emit(kind, path, nodes_[node].ino);
    if (kind == OpKind::kFsyncdir) unsynced_.erase(node);
  }
  void DoRename(const Name& from, size_t dir, const std::string& name, uint32_t flags);

  // ---- random actions; false when the pick does not fit the tree ----
  bool Create();
  bool Write();
  bool Truncate();
  bool SyncFile();
  bool SyncDir();
  bool RenameFile();
  bool RenameDir();
  bool Link();
  bool Unlink();
  bool Mkdir();
  bool Rmdir();
  bool Special();
  bool Chmod();
  bool Xattr();
  bool Mark();
  bool Close();
  bool Idiom();
  bool ReplaceOnce();
  bool RenameBackAndForth();
  void KeepStatesFew();

  Rng rng_;
  RandomLogOptions options_;
  record::ReadLog log_;
  std::vector<Node> nodes_;
  std::set<uint64_t> free_inos_;
  uint64_t next_ino_ = uint64_t{1} << 40;  // not an inode number of the starting tree
  size_t since_sync_ = 0;                  // disk ops since the last persistence point
  std::map<size_t, int> unsynced_;         // entry ops per directory since its last fsyncdir
};

Op& Generator::Emit(OpKind kind, std::string path, uint64_t ino) {
  Op op;
  op.seq = log_.ops.size() + 1;
  op.time_ns = op.seq * 1000;
  op.pid = kind == OpKind::kMark ? 0 : 4242;
  op.kind = kind;
  op.ino = ino;
  op.path = std::move(path);
  log_.ops.push_back(std::move(op));
  const bool sync =
      kind == OpKind::kFsync || kind == OpKind::kFdatasync || kind == OpKind::kFsyncdir;
  if (sync) since_sync_ = 0;
  if (!sync && kind != OpKind::kMark) ++since_sync_;
  return log_.ops.back();
}

size_t Generator::DoCreate(OpKind kind, size_t dir, const std::string& name) {
  const NodeType type = kind == OpKind::kMkdir     ? NodeType::kDir
                        : kind == OpKind::kSymlink ? NodeType::kSymlink
                        : kind == OpKind::kMknod   ? NodeType::kFifo
                                                   : NodeType::kFile;
  const size_t node = NewNode(type, NewIno());
  Op& op = Emit(kind, PathIn(dir, name), nodes_[node].ino);
  op.mode = type == NodeType::kDir ? 0755 : 0644;
  if (type == NodeType::kFifo) op.mode |= S_IFIFO;
  if (type == NodeType::kSymlink) op.data = Chance(50) ? "f" : "../nowhere";
  Attach(dir, name, node);
  if (type == NodeType::kFile) Open(node);
  ++unsynced_[dir];
  return node;
}

void Generator::DoWrite(size_t node, const std::string& path, uint64_t offset, std::string data) {
  Open(node);
  Op& op = Emit(OpKind::kWrite, path, nodes_[node].ino);
  op.offset = offset;
  op.length = data.size();
  op.data = std::move(data);
  op.flags = nodes_[node].sync_flags;
  if (op.flags != 0) since_sync_ = 0;
  nodes_[node].size = std::max(nodes_[node].size, offset + op.length);
}

void Generator::DoRename(const Name& from, size_t dir, const std::string& name, uint32_t flags) {
  Op& op = Emit(OpKind::kRename, from.path, nodes_[from.node].ino);
  op.path2 = PathIn(dir, name);
  op.flags = flags;
  auto it = nodes_[dir].children.find(name);
  const size_t replaced = it == nodes_[dir].children.end() ? SIZE_MAX : it->second;
  Detach(from.dir, from.name);
  if (replaced != SIZE_MAX) Detach(dir, name);
  Attach(dir, name, from.node);
  if (replaced != SIZE_MAX && (flags & RENAME_EXCHANGE)) Attach(from.dir, from.name, replaced);
  if (replaced != SIZE_MAX) MaybeFree(replaced);
  ++unsynced_[dir];
  if (from.dir != dir) ++unsynced_[from.dir];
}

bool Generator::Create() {
  const size_t dir = Pick(Dirs());
  const std::string name = kFileNames[rng_.Below(std::size(kFileNames))];
  if (nodes_[dir].children.contains(name)) return false;
  DoCreate(OpKind::kCreate, dir, name);
  return true;
}

bool Generator::Write() {
  const auto files = Files();
  if (files.empty()) return false;
  const auto& [node, path] = Pick(files);
  const uint64_t size = nodes_[node].size;
  const uint64_t r = rng_.Below(100);
  uint64_t offset = size;                                       // append
  if (r < 20) offset = rng_.Below(size + 1);                    // overwrite
  if (r >= 20 && r < 32) offset = size + 1 + rng_.Below(5000);  // past the end: a hole
  if (r >= 32 && r < 45) offset = 0;                            // rewrite from the start
  if (r >= 45 && r < 55) offset = 4096 - rng_.Below(8);         // across a page boundary
  const size_t length = Chance(75) ? 1 + rng_.Below(10) : 100 + rng_.Below(9000);
  DoWrite(node, path, offset, RandomBytes(length));
  return true;
}

bool Generator::Truncate() {
  const auto files = Files();
  if (files.empty()) return false;
  const auto& [node, path] = Pick(files);
  const uint64_t size = nodes_[node].size;
  const uint64_t to = Chance(50) ? rng_.Below(size + 1) : size + 1 + rng_.Below(5000);
  Emit(OpKind::kTruncate, path, nodes_[node].ino).offset = to;
  nodes_[node].size = to;
  return true;
}

bool Generator::SyncFile() {
  const auto files = Files();
  if (files.empty()) return false;
  const auto& [node, path] = Pick(files);
  DoSync(Chance(65) ? OpKind::kFsync : OpKind::kFdatasync, node, path);
  return true;
}

bool Generator::SyncDir() {
  const size_t dir = Chance(40) ? 0 : Pick(Dirs());
  DoSync(OpKind::kFsyncdir, dir, DirPath(dir));
  return true;
}

bool Generator::RenameFile() {
  const auto from = NamesWhere([](const Node& n) { return n.type != NodeType::kDir; });
  if (from.empty()) return false;
  const Name& src = Pick(from);
  const size_t dir = Chance(60) ? src.dir : Pick(Dirs());
  const std::string name = kFileNames[rng_.Below(std::size(kFileNames))];
  auto it = nodes_[dir].children.find(name);
  uint32_t flags = 0;
  if (it != nodes_[dir].children.end()) {
    // Over an existing name; never one of the same object (rename would do nothing).
    if (it->second == src.node || nodes_[it->second].type == NodeType::kDir) return false;
    if (Chance(15)) flags = RENAME_EXCHANGE;
  } else if (Chance(20)) {
    flags = RENAME_NOREPLACE;
  }
  DoRename(src, dir, name, flags);
  return true;
}

// A name moved away and back again, perhaps with an fsync between.
bool Generator::RenameBackAndForth() {
  const auto from = NamesWhere([](const Node& n) { return n.type != NodeType::kDir; });
  if (from.empty()) return false;
  const Name src = Pick(from);
  const std::string name = kFileNames[rng_.Below(std::size(kFileNames))];
  if (nodes_[src.dir].children.contains(name)) return false;
  DoRename(src, src.dir, name, 0);
  if (Chance(50)) SyncFile();
  DoRename(Name{PathIn(src.dir, name), src.dir, name, src.node}, src.dir, src.name, 0);
  return true;
}

bool Generator::RenameDir() {
  const auto dirs = NamesWhere([](const Node& n) { return n.type == NodeType::kDir; });
  if (dirs.empty()) return false;
  const Name& src = Pick(dirs);
  const size_t dir = Pick(Dirs());
  const std::string name = kDirNames[rng_.Below(std::size(kDirNames))];
  if (Inside(dir, src.node)) return false;  // into itself
  auto it = nodes_[dir].children.find(name);
  if (it != nodes_[dir].children.end()) {
    const Node& target = nodes_[it->second];
    if (it->second == src.node || target.type != NodeType::kDir || !target.children.empty()) {
      return false;
    }
  }
  DoRename(src, dir, name, 0);
  return true;
}

bool Generator::Link() {
  const auto files = NamesWhere([](const Node& n) { return n.type == NodeType::kFile; });
  if (files.empty()) return false;
  const Name& src = Pick(files);
  const size_t dir = Pick(Dirs());
  const std::string name = kFileNames[rng_.Below(std::size(kFileNames))];
  if (nodes_[dir].children.contains(name)) return false;
  Emit(OpKind::kLink, src.path, nodes_[src.node].ino).path2 = PathIn(dir, name);
  Attach(dir, name, src.node);
  ++unsynced_[dir];
  return true;
}

bool Generator::Unlink() {
  const auto names = NamesWhere([](const Node& n) { return n.type != NodeType::kDir; });
  if (names.empty()) return false;
  const Name& victim = Pick(names);
  Emit(OpKind::kUnlink, victim.path, nodes_[victim.node].ino);
  Detach(victim.dir, victim.name);
  MaybeFree(victim.node);
  ++unsynced_[victim.dir];
  return true;
}

bool Generator::Mkdir() {
  const size_t dir = Pick(Dirs());
  const std::string name = kDirNames[rng_.Below(std::size(kDirNames))];
  if (nodes_[dir].children.contains(name) || DirPath(dir).size() > 12) return false;
  DoCreate(OpKind::kMkdir, dir, name);
  return true;
}

bool Generator::Rmdir() {
  const auto dirs = NamesWhere([](const Node& n) { return n.type == NodeType::kDir; });
  if (dirs.empty()) return false;
  const Name& victim = Pick(dirs);
  if (!nodes_[victim.node].children.empty()) return false;
  Emit(OpKind::kRmdir, victim.path, nodes_[victim.node].ino);
  Detach(victim.dir, victim.name);
  MaybeFree(victim.node);
  unsynced_.erase(victim.node);
  ++unsynced_[victim.dir];
  return true;
}

bool Generator::Special() {
  const size_t dir = Pick(Dirs());
  const std::string name = Chance(50) ? "s" : "p";
  if (nodes_[dir].children.contains(name)) return false;
  DoCreate(name == "s" ? OpKind::kSymlink : OpKind::kMknod, dir, name);
  return true;
}

bool Generator::Chmod() {
  const auto names = NamesWhere(
      [](const Node& n) { return n.type == NodeType::kFile || n.type == NodeType::kDir; });
  if (names.empty()) return false;
  const Name& target = Pick(names);
  const bool dir = nodes_[target.node].type == NodeType::kDir;
  static const uint32_t kFileModes[] = {0600, 0640, 0644, 0755, 0444, 0666};
  static const uint32_t kDirModes[] = {0700, 0711, 0755};
  Emit(OpKind::kChmod, target.path, nodes_[target.node].ino).mode =
      dir ? kDirModes[rng_.Below(3)] : kFileModes[rng_.Below(6)];
  return true;
}

bool Generator::Xattr() {
  if (!options_.xattrs) return false;
  const auto names = NamesWhere(
      [](const Node& n) { return n.type == NodeType::kFile || n.type == NodeType::kDir; });
  if (names.empty()) return false;
  const Name& target = Pick(names);
  Node& node = nodes_[target.node];
  const std::string attr = Chance(50) ? "user.a" : "user.b";
  if (node.xattrs.contains(attr) && Chance(40)) {
    Emit(OpKind::kRemovexattr, target.path, node.ino).path2 = attr;
    node.xattrs.erase(attr);
    return true;
  }
  Op& op = Emit(OpKind::kSetxattr, target.path, node.ino);
  op.path2 = attr;
  op.data = RandomBytes(1 + rng_.Below(6));
  node.xattrs.insert(attr);
  return true;
}

bool Generator::Mark() {
  Op& op = Emit(OpKind::kMark, "", 0);
  op.data = "acknowledged " + std::to_string(op.seq);
  return true;
}

bool Generator::Close() {
  std::vector<size_t> open;
  for (size_t i = 0; i < nodes_.size(); ++i) {
    if (nodes_[i].alive && nodes_[i].open) open.push_back(i);
  }
  if (open.empty()) return false;
  const size_t node = Pick(open);
  nodes_[node].open = false;
  MaybeFree(node);
  return false;  // records nothing
}

// The atomic-replace idiom, once or a few times in a row: tmp; write; fsync tmp; rename tmp -> f;
// perhaps fsyncdir.
bool Generator::Idiom() {
  bool done = ReplaceOnce();
  while (done && Chance(40)) ReplaceOnce();
  return done;
}

bool Generator::ReplaceOnce() {
  const size_t dir = Chance(70) ? 0 : Pick(Dirs());
  auto& children = nodes_[dir].children;
  if (children.contains("f.tmp")) return false;
  if (children.contains("f") && nodes_[children.at("f")].type == NodeType::kDir) return false;
  const size_t tmp = DoCreate(OpKind::kCreate, dir, "f.tmp");
  const std::string tmp_path = PathIn(dir, "f.tmp");
  DoWrite(tmp, tmp_path, 0, "v" + std::to_string(log_.ops.size()) + "\n");
  DoSync(OpKind::kFsync, tmp, tmp_path);
  DoRename(Name{tmp_path, dir, "f.tmp", tmp}, dir, "f", 0);
  if (Chance(50)) DoSync(OpKind::kFsyncdir, dir, DirPath(dir));
  if (Chance(50)) {
    nodes_[tmp].open = false;
    MaybeFree(tmp);
  }
  return true;
}

// Persistence points often enough that brute force stays cheap: few ops per epoch, few entry
// ops that no fsyncdir covers.
void Generator::KeepStatesFew() {
  if (since_sync_ >= 3 + rng_.Below(4)) {
    if (!SyncFile()) SyncDir();
  }
  int pending = 0;
  auto worst = unsynced_.end();
  for (auto it = unsynced_.begin(); it != unsynced_.end(); ++it) {
    pending += it->second;
    if (worst == unsynced_.end() || it->second > worst->second) worst = it;
  }
  if (pending < 5) return;
  const size_t dir = worst->first;
  if (dir != 0 && (!nodes_[dir].alive || nodes_[dir].names == 0)) {
    unsynced_.erase(worst);
    return;
  }
  DoSync(OpKind::kFsyncdir, dir, DirPath(dir));
}

void Generator::Generate() {
  using Action = bool (Generator::*)();
  static const std::pair<Action, int> kActions[] = {
      {&Generator::Create, 10},   {&Generator::Write, 18},  {&Generator::Truncate, 4},
      {&Generator::SyncFile, 9},  {&Generator::SyncDir, 5}, {&Generator::RenameFile, 10},
      {&Generator::RenameDir, 3}, {&Generator::Link, 4},    {&Generator::Unlink, 6},
      {&Generator::Mkdir, 4},     {&Generator::Rmdir, 3},   {&Generator::Special, 2},
      {&Generator::Chmod, 3},     {&Generator::Xattr, 2},   {&Generator::Mark, 3},
      {&Generator::Close, 4},     {&Generator::Idiom, 6},   {&Generator::RenameBackAndForth, 2},
  };
  int total = 0;
  for (const auto& [action, weight] : kActions) total += weight;
  const size_t target = options_.min_ops + rng_.Below(options_.max_ops - options_.min_ops + 1);
  for (int attempts = 0; log_.ops.size() < target && attempts < 1000; ++attempts) {
    auto r = static_cast<int>(rng_.Below(static_cast<uint64_t>(total)));
    for (const auto& [action, weight] : kActions) {
      if ((r -= weight) >= 0) continue;
      if ((this->*action)()) KeepStatesFew();
      break;
    }
  }
}

// ---- the starting tree ----

Status WriteFileAt(const std::string& path, const std::string& data) {
  std::ofstream out(path, std::ios::binary);
  out << data;
  out.close();
  return out ? Status::Ok() : Status::Invalid("cannot write " + path);
}

Status Generator::BuildStart(const std::string& scratch, const std::string& snapshot) {
  nodes_.clear();
  NewNode(NodeType::kDir, 0);  // the root
  nodes_[0].names = 1;
  std::map<std::string, size_t> by_path = {{"", 0}};
  auto add = [&](const std::string& path, NodeType type) -> Status {
    const size_t slash = path.rfind('/');
    const size_t dir = by_path.at(slash == std::string::npos ? "" : path.substr(0, slash));
    const std::string name = slash == std::string::npos ? path : path.substr(slash + 1);
    const std::string full = scratch + "/" + path;
    const size_t node = NewNode(type, 0);
    if (type == NodeType::kDir && mkdir(full.c_str(), 0755) != 0) {
      return Status::FromErrno(errno, "mkdir " + full);
    }
    if (type == NodeType::kFile) {
      const size_t size = Chance(20) ? 4000 + rng_.Below(5000) : rng_.Below(12);
      FAULTFS_RETURN_IF_ERROR(WriteFileAt(full, RandomBytes(size)));
      nodes_[node].size = size;
    }
    if (type == NodeType::kSymlink && symlink("f", full.c_str()) != 0) {
      return Status::FromErrno(errno, "symlink " + full);
    }
    if (type == NodeType::kFifo && mkfifo(full.c_str(), 0644) != 0) {
      return Status::FromErrno(errno, "mkfifo " + full);
    }
    Attach(dir, name, node);
    by_path[path] = node;
    return Status::Ok();
  };
  for (const char* f : {"f", "a"}) {
    if (Chance(80)) FAULTFS_RETURN_IF_ERROR(add(f, NodeType::kFile));
  }
  if (Chance(70)) {
    FAULTFS_RETURN_IF_ERROR(add("d", NodeType::kDir));
    if (Chance(60)) FAULTFS_RETURN_IF_ERROR(add("d/x", NodeType::kFile));
    if (Chance(30)) FAULTFS_RETURN_IF_ERROR(add("d/sub", NodeType::kDir));
  }
  if (Chance(30)) FAULTFS_RETURN_IF_ERROR(add("e", NodeType::kDir));
  if (Chance(20)) FAULTFS_RETURN_IF_ERROR(add("s", NodeType::kSymlink));
  if (Chance(10)) FAULTFS_RETURN_IF_ERROR(add("p", NodeType::kFifo));
  if (by_path.contains("f") && Chance(25)) {
    if (link((scratch + "/f").c_str(), (scratch + "/h").c_str()) != 0) {
      return Status::FromErrno(errno, "link");
    }
    Attach(0, "h", by_path.at("f"));
    by_path["h"] = by_path.at("f");
  }
  if (by_path.contains("a") && Chance(20) && chmod((scratch + "/a").c_str(), 0600) != 0) {
    return Status::FromErrno(errno, "chmod");
  }
  if (options_.xattrs && by_path.contains("f") && Chance(20)) {
    if (setxattr((scratch + "/f").c_str(), "user.a", "start", 5, 0) != 0) {
      return Status::FromErrno(errno, "setxattr");
    }
    nodes_[by_path.at("f")].xattrs.insert("user.a");
  }
  InodeNames inodes;
  FAULTFS_RETURN_IF_ERROR(CopyTree(scratch, snapshot, &inodes));
  for (const auto& [ino, path] : inodes) {
    nodes_[by_path.at(path.ends_with('/') ? path.substr(0, path.size() - 1) : path)].ino = ino;
  }
  log_.header.snapshot = snapshot;
  log_.header.inodes = std::move(inodes);
  return Status::Ok();
}

}  // namespace

Result<record::ReadLog> MakeRandomLog(uint64_t seed, const RandomLogOptions& options,
                                      const std::string& scratch, const std::string& snapshot) {
  Generator g(seed, options);
  FAULTFS_RETURN_IF_ERROR(g.BuildStart(scratch, snapshot));
  g.Generate();
  return g.Take();
}

}  // namespace faultfs::crash
