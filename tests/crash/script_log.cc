#include "script_log.h"

#include <linux/fs.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <map>
#include <sstream>
#include <vector>

#include "faultfs/core/tree_copy.h"
#include "reference/history.h"

namespace faultfs::crash {
namespace {

using record::Op;
using record::OpKind;
namespace ref = reference;

std::string Unescape(const std::string& word) {
  const size_t star = word.find('*');
  if (star != std::string::npos && star + 1 < word.size()) {
    return std::string(std::stoul(word.substr(star + 1)), word[0]);
  }
  std::string out;
  for (size_t i = 0; i < word.size(); ++i) {
    if (word[i] == '\\' && i + 1 < word.size() && word[i + 1] == 'n') {
      out += '\n';
      ++i;
    } else {
      out += word[i];
    }
  }
  return out;
}

std::string Path(const std::string& word) { return word == "/" ? "" : word; }

Status BuildStart(std::istream& in, const std::string& scratch) {
  for (std::string line; std::getline(in, line) && line != "--";) {
    std::istringstream words(line);
    std::string what, path, arg;
    words >> what >> path >> arg;
    const std::string full = scratch + "/" + path;
    if (what == "file") {
      std::ofstream(full, std::ios::binary) << Unescape(arg);
    } else if (what == "dir") {
      if (mkdir(full.c_str(), 0755) != 0) return Status::FromErrno(errno, "mkdir " + full);
    } else if (what == "hardlink") {
      if (link((scratch + "/" + arg).c_str(), full.c_str()) != 0) {
        return Status::FromErrno(errno, "link " + full);
      }
    } else if (what == "symlink") {
      if (symlink(arg.c_str(), full.c_str()) != 0) return Status::FromErrno(errno, full);
    } else if (!what.empty()) {
      return Status::Invalid("starting tree: cannot read \"" + line + "\"");
    }
  }
  return Status::Ok();
}

const std::map<std::string, OpKind> kKinds = {{"write", OpKind::kWrite},
                                              {"truncate", OpKind::kTruncate},
                                              {"create", OpKind::kCreate},
                                              {"mknod", OpKind::kMknod},
                                              {"mkdir", OpKind::kMkdir},
                                              {"symlink", OpKind::kSymlink},
                                              {"link", OpKind::kLink},
                                              {"unlink", OpKind::kUnlink},
                                              {"rmdir", OpKind::kRmdir},
                                              {"rename", OpKind::kRename},
                                              {"chmod", OpKind::kChmod},
                                              {"setxattr", OpKind::kSetxattr},
                                              {"removexattr", OpKind::kRemovexattr},
                                              {"fsync", OpKind::kFsync},
                                              {"fdatasync", OpKind::kFdatasync},
                                              {"fsyncdir", OpKind::kFsyncdir},
                                              {"mark", OpKind::kMark}};

// Parses one op line (its inode still unknown unless "ino=N" gives it).
Result<Op> ParseOp(const std::string& line, const InodeNames& start_inodes) {
  std::vector<std::string> w;
  std::istringstream words(line);
  for (std::string word; words >> word;) w.push_back(word);
  Op op;
  if (!w.empty() && w.back().starts_with("ino=")) {
    const std::string ino = w.back().substr(4);
    if (ino.starts_with("@")) {  // the inode a name of the starting tree had
      for (const auto& [number, path] : start_inodes) {
        if (path == ino.substr(1)) op.ino = number;
      }
      if (op.ino == 0) return Status::Invalid("no " + ino.substr(1) + " in the starting tree");
    } else {
      op.ino = std::stoull(ino);
    }
    w.pop_back();
  }
  auto kind = w.empty() ? kKinds.end() : kKinds.find(w[0]);
  if (kind == kKinds.end()) return Status::Invalid("cannot read op \"" + line + "\"");
  op.kind = kind->second;
  auto arg = [&](size_t i) { return i < w.size() ? w[i] : std::string(); };
  op.path = op.kind == OpKind::kMark ? "" : Path(arg(1));
  op.mode = op.kind == OpKind::kMkdir ? 0755 : 0644;
  switch (op.kind) {
    case OpKind::kWrite:
      op.offset = std::stoull(arg(2));
      op.data = Unescape(arg(3));
      op.length = op.data.size();
      op.flags = arg(4) == "sync" ? record::kSyncAll : arg(4) == "dsync" ? record::kSyncData : 0;
      break;
    case OpKind::kTruncate:
      op.offset = std::stoull(arg(2));
      break;
    case OpKind::kMknod:
      op.mode = S_IFIFO | 0644;
      break;
    case OpKind::kSymlink:
      op.data = arg(2);
      break;
    case OpKind::kLink:
    case OpKind::kRename:
      op.path2 = Path(arg(2));
      op.flags = arg(3) == "noreplace"  ? RENAME_NOREPLACE
                 : arg(3) == "exchange" ? RENAME_EXCHANGE
                                        : 0;
      break;
    case OpKind::kChmod:
      op.mode = static_cast<uint32_t>(std::stoul(arg(2), nullptr, 8));
      break;
    case OpKind::kSetxattr:
    case OpKind::kRemovexattr:
      op.path2 = arg(2);
      op.data = Unescape(arg(3));
      break;
    case OpKind::kMark:
      op.data = arg(1);
      break;
    default:
      break;
  }
  return op;
}

// The object at `path` in `fs`, or kNoObject.
ref::ObjId Find(const ref::Fs& fs, const std::string& path) {
  ref::ObjId obj = fs.root;
  std::istringstream parts(path);
  for (std::string part; obj != ref::kNoObject && std::getline(parts, part, '/');) {
    obj = fs.Lookup({obj, part});
  }
  return obj;
}

}  // namespace

Result<record::ReadLog> ScriptLog(const std::string& script, const std::string& scratch,
                                  const std::string& snapshot) {
  std::istringstream in(script);
  FAULTFS_RETURN_IF_ERROR(BuildStart(in, scratch));
  record::ReadLog log;
  FAULTFS_RETURN_IF_ERROR(CopyTree(scratch, snapshot, &log.header.inodes));
  log.header.snapshot = snapshot;
  auto start = ref::ReadFs(snapshot);
  if (!start.ok()) return start.status();
  std::map<ref::ObjId, uint64_t> inos;
  for (const auto& [ino, path] : log.header.inodes) inos[Find(*start, path)] = ino;
  uint64_t next_ino = uint64_t{1} << 40;
  for (std::string line; std::getline(in, line);) {
    if (line.empty() || line[0] == '#') continue;
    auto op = ParseOp(line, log.header.inodes);
    if (!op.ok()) return op.status();
    op->seq = log.ops.size() + 1;
    auto before = ref::History::Replay(log, *start);
    if (!before.ok()) return before.status();
    const bool makes = op->kind >= OpKind::kCreate && op->kind <= OpKind::kSymlink;
    if (op->ino == 0 && makes) op->ino = next_ino++;
    if (op->ino == 0 && op->kind != OpKind::kMark) {
      const ref::ObjId obj = Find(before->end(), op->path);
      if (obj == ref::kNoObject) return Status::Invalid("op " + line + ": no such path");
      op->ino = inos.at(obj);
    }
    log.ops.push_back(*op);
    if (makes) {
      auto after = ref::History::Replay(log, *start);
      if (!after.ok()) return after.status();
      inos[after->step(log.ops.size() - 1).object] = op->ino;
    }
  }
  return log;
}

}  // namespace faultfs::crash
