#include "faultfs/crash/oracle.h"

#include <sys/stat.h>

#include <algorithm>
#include <cerrno>

#include "applier.h"
#include "faultfs/core/tree_copy.h"
#include "faultfs/core/tree_hash.h"
#include "faultfs/core/tree_read.h"
#include "models.h"

namespace faultfs::crash {

namespace {

using record::Op;
using record::OpKind;

// `path` is `top` or lies under it.
bool Within(const std::string& path, const std::string& top) {
  if (top.empty() || path == top) return true;
  return path.size() > top.size() && path.compare(0, top.size(), top) == 0 &&
         path[top.size()] == '/';
}

bool IsNameChange(OpKind k) {
  return k == OpKind::kRename || k == OpKind::kUnlink || k == OpKind::kRmdir;
}

// Whether the model promises that a file's fsync also keeps the name it was reached by.
bool FsyncKeepsName(const Model& model, const Op& op) {
  if (model.kind == ModelKind::kPpStrict) return false;
  if (model.kind == ModelKind::kPp)
    return op.kind == OpKind::kFsync || (op.flags & record::kSyncAll) != 0;
  return true;  // the other models persist everything before the last persistence point
}

// Does op `op` change what a fact about `path` (object `ino`) says?
bool Touches(const Op& op, bool is_dir, const std::string& path, uint64_t ino) {
  if (op.kind == OpKind::kMark || record::IsPersistencePoint(op.kind)) return false;
  if (IsNameChange(op.kind) &&
      (Within(path, op.path) || (op.kind == OpKind::kRename && Within(path, op.path2)))) {
    return true;  // the object itself, or a directory above it, was moved or removed
  }
  if (!is_dir) return op.ino == ino && op.ino != 0;
  return record::IsEntryKind(op.kind) &&
         (models::ParentDir(op.path) == path ||
          (!op.path2.empty() && models::ParentDir(op.path2) == path));
}

std::vector<std::string> ListNames(const std::string& dir) {
  std::vector<std::string> names;
  auto entries = ReadDirAt(dir);
  if (!entries.ok()) return names;
  for (DirEntry& e : *entries) names.push_back(std::move(e.name));
  std::sort(names.begin(), names.end());
  return names;
}

std::string Join(const std::string& dir, const std::string& rel) {
  return rel.empty() ? dir : dir + "/" + rel;
}

bool Exists(const std::string& path) {
  struct stat st {};
  return lstat(path.c_str(), &st) == 0;
}

}  // namespace

Result<DurabilityOracle> DurabilityOracle::Build(const std::string& snapshot,
                                                 const record::ReadLog& log, const Model& model,
                                                 const std::string& scratch) {
  if (mkdir(scratch.c_str(), 0755) != 0)
    return Status::FromErrno(errno, "creating '" + scratch + "'");
  FAULTFS_RETURN_IF_ERROR(CopyTree(snapshot, scratch));
  auto applier = Applier::Open(scratch, log, /*replay=*/false);
  if (!applier.ok()) return applier.status();
  DurabilityOracle oracle;
  std::vector<uint64_t> inos;
  for (uint32_t i = 0; i < log.ops.size(); ++i) {
    const Op& op = log.ops[i];
    FAULTFS_RETURN_IF_ERROR(applier->Apply(i, Applied{i}, 0));
    if (!record::IsPersistencePoint(op.kind) && !record::IsSyncWrite(op)) continue;
    const auto name = applier->PathOf(i);
    if (!name) continue;  // synced through a descriptor after its last name was removed
    Fact fact;
    fact.at = i;
    fact.is_dir = op.kind == OpKind::kFsyncdir;
    fact.path = *name;
    fact.seq = static_cast<uint32_t>(op.seq);
    if (fact.is_dir) {
      fact.names = ListNames(Join(scratch, fact.path));
    } else {
      auto hash = HashFile(Join(scratch, fact.path));
      if (!hash.ok()) continue;  // not a regular file (an fsync of a directory through open())
      fact.content = *hash;
      fact.name_durable = FsyncKeepsName(model, op);
    }
    oracle.facts_.push_back(std::move(fact));
    inos.push_back(op.ino);
  }
  for (size_t f = 0; f < oracle.facts_.size(); ++f) {
    Fact& fact = oracle.facts_[f];
    fact.valid_until = static_cast<uint32_t>(log.ops.size());
    for (uint32_t j = fact.at + 1; j < log.ops.size(); ++j) {
      if (Touches(log.ops[j], fact.is_dir, fact.path, inos[f])) {
        fact.valid_until = j;  // op j is issued from crash point j + 1 on
        break;
      }
    }
  }
  return oracle;
}

std::vector<std::string> DurabilityOracle::Check(uint32_t crash_point,
                                                 const std::string& state_dir) const {
  std::vector<std::string> missing;
  for (const Fact& fact : facts_) {
    if (crash_point < fact.at + 1 || crash_point > fact.valid_until) continue;
    const std::string where = Join(state_dir, fact.path);
    const std::string by = " (made durable by op " + std::to_string(fact.seq) + ")";
    const std::string shown = fact.path.empty() ? "the root directory" : fact.path;
    if (fact.is_dir) {
      for (const auto& name : fact.names) {
        const std::string rel = fact.path.empty() ? name : fact.path + "/" + name;
        if (!Exists(where + "/" + name)) missing.push_back(rel + by + " is missing");
      }
      continue;
    }
    if (!Exists(where)) {
      if (fact.name_durable) missing.push_back(shown + by + " is missing");
      continue;
    }
    auto hash = HashFile(where);
    if (!hash.ok() || *hash != fact.content)
      missing.push_back(shown + by + " does not hold what it held then");
  }
  return missing;
}

}  // namespace faultfs::crash
