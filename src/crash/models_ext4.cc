// `ext4`: ext4 in its default mode (data=ordered, delayed allocation, auto_da_alloc). Its journal
// commits metadata in the order it was changed, so a crash leaves every metadata op up to the last
// commit point and any prefix of the later ones; data reaches the disk through fsync, or with a
// committed rename that replaced a file (docs/persistence-models.md, "ext4").
#include <algorithm>
#include <unordered_map>

#include "models.h"

namespace faultfs::crash::models {
namespace {

using record::Op;
using record::OpKind;

constexpr uint32_t kNever = UINT32_MAX;

// What ext4 journals: namespace, inode metadata, size and allocation changes.
bool IsMetadata(const Op& op) {
  return IsEntryKind(op.kind) || IsMetaKind(op.kind) || op.kind == OpKind::kTruncate ||
         op.kind == OpKind::kFallocate;
}

// Whether a rename replaces a file (not a directory): ext4 then writes out the renamed file's
// delayed data before the rename commits (auto_da_alloc). An exchange replaces nothing.
bool ReplacesFile(const History& history, const Op& op, const OpObjects& o) {
  constexpr uint32_t kRenameExchange = 2;
  return (op.flags & kRenameExchange) == 0 && o.replaced != kNoObject && o.replaced != o.obj &&
         history.object(o.replaced).type != ObjectType::kDir &&
         history.object(o.obj).type != ObjectType::kDir;
}

class Ext4Plan : public ModelPlan {
 public:
  Ext4Plan(const std::vector<Op>& ops, const History& history) : ops_(ops), history_(history) {
    RankMetadata();
    FindCommits();
    FindDataDurability();
  }

  bool KeepsPoint(uint32_t c) const override {
    const Op& op = ops_[c - 1];
    return op.kind == OpKind::kMark || IsMetadata(op) || IsBarrier(op);
  }
  uint64_t Count(uint32_t c) const override { return 1 + meta_before_[c] - committed_[c]; }
  CrashState Make(uint32_t c, uint64_t index) const override;

 private:
  void RankMetadata();
  void FindCommits();
  void FindDataDurability();
  // Whether op i changes the size or allocation of its object (or may: unknown sizes count).
  bool ChangesSize(uint32_t i, const std::vector<uint64_t>& size_before) const;

  const std::vector<Op>& ops_;
  const History& history_;
  std::vector<uint64_t> meta_rank_;    // per metadata op: metadata ops before it
  std::vector<uint64_t> meta_before_;  // per crash point: metadata ops before it
  std::vector<uint64_t> committed_;    // per crash point: metadata ops committed before it
  std::vector<uint32_t> synced_at_;    // per write: the first later data sync of its object
  std::vector<uint32_t> renamed_at_;   // per write: the first later rename of it over a file
};

void Ext4Plan::RankMetadata() {
  meta_rank_.assign(ops_.size(), 0);
  meta_before_.assign(ops_.size() + 1, 0);
  for (size_t i = 0; i < ops_.size(); ++i) {
    meta_rank_[i] = meta_before_[i];
    meta_before_[i + 1] = meta_before_[i] + (IsMetadata(ops_[i]) ? 1 : 0);
  }
}

bool Ext4Plan::ChangesSize(uint32_t i, const std::vector<uint64_t>& size_before) const {
  const Op& op = ops_[i];
  switch (op.kind) {
    case OpKind::kWrite:
      return size_before[i] == kUnknownSize || op.offset + op.data.size() > size_before[i];
    case OpKind::kTruncate:
    case OpKind::kFallocate:
    case OpKind::kCreate:
    case OpKind::kMknod:
      return true;
    default:
      return false;
  }
}

// Commit points: an fsync of an object changed since the last commit point commits every
// metadata op before it; so does an fdatasync of a file whose size or allocation changed since.
void Ext4Plan::FindCommits() {
  const std::vector<uint64_t> size_before = SizesBefore(ops_, history_);
  std::unordered_map<ObjectId, uint32_t> changed;       // object -> last op that changed it
  std::unordered_map<ObjectId, uint32_t> size_changed;  // object -> last size/allocation change
  auto since = [](const std::unordered_map<ObjectId, uint32_t>& map, ObjectId obj, uint32_t t) {
    const auto it = map.find(obj);
    return it != map.end() && it->second >= t;
  };
  committed_.assign(ops_.size() + 1, 0);
  uint32_t commit = 0;  // metadata ops before this op are committed
  for (uint32_t i = 0; i < ops_.size(); ++i) {
    const Op& op = ops_[i];
    const OpObjects& o = history_.at(i);
    if (IsDiskOp(op)) {
      for (ObjectId obj : {o.obj, o.entry.dir, o.entry2.dir, o.replaced}) {
        if (obj != kNoObject) changed[obj] = i;
      }
      if (ChangesSize(i, size_before)) size_changed[o.obj] = i;
    }
    const bool full = op.kind == OpKind::kFsync || op.kind == OpKind::kFsyncdir ||
                      (IsSyncWrite(op) && (op.flags & record::kSyncAll) != 0);
    const bool data = op.kind == OpKind::kFdatasync || (IsSyncWrite(op) && !full);
    if ((full && since(changed, o.obj, commit)) || (data && since(size_changed, o.obj, commit)))
      commit = i + 1;
    committed_[i + 1] = meta_before_[commit];
  }
}

// Backwards: each write's first later data sync of its object, and its first later rename over a
// file.
void Ext4Plan::FindDataDurability() {
  synced_at_.assign(ops_.size(), kNever);
  renamed_at_.assign(ops_.size(), kNever);
  std::unordered_map<ObjectId, uint32_t> next_sync, next_rename;
  for (size_t k = ops_.size(); k-- > 0;) {
    const auto i = static_cast<uint32_t>(k);
    const Op& op = ops_[i];
    const OpObjects& o = history_.at(i);
    if (op.kind == OpKind::kFsync || op.kind == OpKind::kFdatasync || IsSyncWrite(op))
      next_sync[o.obj] = i;
    if (op.kind == OpKind::kRename && ReplacesFile(history_, op, o)) next_rename[o.obj] = i;
    if (op.kind != OpKind::kWrite) continue;
    if (const auto it = next_sync.find(o.obj); it != next_sync.end()) synced_at_[i] = it->second;
    if (const auto it = next_rename.find(o.obj); it != next_rename.end())
      renamed_at_[i] = it->second;
  }
}

CrashState Ext4Plan::Make(uint32_t c, uint64_t index) const {
  const uint64_t kept = meta_before_[c] - index;  // metadata ops on disk: the first `kept`
  auto on_disk = [&](uint32_t i) { return i < c && IsMetadata(ops_[i]) && meta_rank_[i] < kept; };
  CrashState state;
  for (uint32_t i = 0; i < c; ++i) {
    const Op& op = ops_[i];
    if (!IsDiskOp(op)) continue;
    bool applied = false;
    if (IsMetadata(op)) {
      applied = on_disk(i);
    } else {
      applied = synced_at_[i] < c || (renamed_at_[i] != kNever && on_disk(renamed_at_[i]));
    }
    if (applied) {
      state.applied.push_back(Applied{.op = i});
    } else if (IsEntryKind(op.kind)) {
      state.deviations.push_back(
          Deviation{.kind = Deviation::Kind::kEntryNotDurable, .op = i, .dir = EntryDir(op)});
    } else {
      state.deviations.push_back(Deviation{.kind = Deviation::Kind::kDataNotDurable, .op = i});
    }
  }
  return state;
}

}  // namespace

std::unique_ptr<ModelPlan> MakeExt4Plan(const std::vector<Op>& ops, const History& history) {
  return std::make_unique<Ext4Plan>(ops, history);
}

}  // namespace faultfs::crash::models
