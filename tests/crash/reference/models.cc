#include "reference/models.h"

#include <algorithm>
#include <bit>
#include <set>
#include <string>

namespace faultfs::crash::reference {

using record::Op;
using record::OpKind;
using Kind = RefModel::Kind;

std::optional<RefModel> ParseRefModel(std::string_view name) {
  RefModel m;
  if (name == "prefix") return m;
  if (name == "ext4") return RefModel{.kind = Kind::kExt4};
  if (name == "pp") return RefModel{.kind = Kind::kPp};
  if (name == "pp-strict") return RefModel{.kind = Kind::kPpStrict};
  if (name == "weak") return RefModel{.kind = Kind::kWeak};
  if (name == "weak-rename") return RefModel{.kind = Kind::kWeak, .half_renames = true};
  if (name == "reorder") return RefModel{.kind = Kind::kReorder};
  if (name == "torn" || name == "torn-4096") return RefModel{.kind = Kind::kTorn};
  if (name == "torn-512") return RefModel{.kind = Kind::kTorn, .sector = 512};
  if (name.starts_with("reorder-") && name.size() == 9 && name[8] >= '1' && name[8] <= '8') {
    return RefModel{.kind = Kind::kReorder, .k = static_cast<uint32_t>(name[8] - '0')};
  }
  return std::nullopt;
}

std::vector<uint32_t> KeptCrashPoints(const History& h, const RefModel& model) {
  std::vector<uint32_t> kept;
  const auto n = static_cast<uint32_t>(h.size());
  for (uint32_t c = 0; c <= n; ++c) {
    bool keep = true;
    if (c != 0 && c != n && h.op(c - 1).kind != OpKind::kMark) {
      const Op& prev = h.op(c - 1);
      const bool sync_op = prev.kind == OpKind::kFsync || prev.kind == OpKind::kFdatasync ||
                           prev.kind == OpKind::kFsyncdir;
      const bool lost_data = IsDataOp(prev) && !IsSyncWriteOp(prev);
      switch (model.kind) {
        case Kind::kPp:
        case Kind::kPpStrict:
          keep = !lost_data && !IsMetaOp(prev);
          break;
        case Kind::kExt4:
          // "left out when op c-1 is a data op that is not itself a sync write": for ext4 that
          // can only mean a write, since truncate and fallocate are metadata ops there, which
          // change the states (the rule's reason: the op "cannot change the model's states").
          keep = !(prev.kind == OpKind::kWrite && !IsSyncWriteOp(prev));
          break;
        default:
          keep = !sync_op;
          break;
      }
    }
    if (keep) kept.push_back(c);
  }
  return kept;
}

std::vector<uint64_t> WeakCuts(uint64_t offset, uint64_t size) {
  constexpr uint64_t kPage = 4096;
  if (size < 2) return {};
  const uint64_t end = offset + size;
  const uint64_t third = offset + size / 3, two_thirds = offset + 2 * size / 3;
  std::vector<uint64_t> cuts;
  if (offset / kPage == (end - 1) / kPage) {
    cuts = {third, two_thirds};  // no 4 KiB boundary inside: the byte thirds
  } else {
    // "2 or 3 pieces at 4 KiB-aligned file offsets near its thirds", read as: each third rounded
    // down to a 4 KiB boundary, moved up as little as keeps the cuts inside the write and apart
    // (the document does not say which boundary is "near"; this is the reading the builder
    // rewrite agreed with on every log tried, see the report).
    const uint64_t first = (offset / kPage + 1) * kPage;
    const uint64_t cut1 = std::max(third / kPage * kPage, first);
    const uint64_t cut2 = std::max(two_thirds / kPage * kPage, cut1 + kPage);
    cuts = {cut1, cut2};
  }
  std::vector<uint64_t> out;
  for (uint64_t c : cuts) {
    if (c > offset && c < end && (out.empty() || out.back() != c - offset)) {
      out.push_back(c - offset);
    }
  }
  return out;
}

namespace {

// A state under construction: which ops before the crash point reach the disk, one of them
// perhaps in part.
class Draft {
 public:
  Draft(const History& h, uint32_t c) : h_(h), in_(c, false) {
    for (uint32_t i = 0; i < c; ++i) in_[i] = IsDiskOp(h.op(i));
  }
  void Drop(size_t i) { in_.at(i) = false; }
  void Keep(size_t i, bool keep) { in_.at(i) = keep && IsDiskOp(h_.op(i)); }
  void Part(const Applied& a) { part_ = a; }
  std::vector<Applied> Take() const {
    std::vector<Applied> out;
    for (uint32_t i = 0; i < in_.size(); ++i) {
      if (!in_[i]) continue;
      out.push_back(part_ && part_->op == i ? *part_ : Applied{.op = i});
    }
    return out;
  }

 private:
  const History& h_;
  std::vector<bool> in_;
  std::optional<Applied> part_;
};

bool IsFsyncLike(const Op& op) { return op.kind == OpKind::kFsync || op.kind == OpKind::kFsyncdir; }

// Whether an op in (after, c) -- or in [after, c) when `inclusive` -- satisfies `pred`.
template <typename Pred>
bool AnyBetween(const History& h, size_t after, uint32_t c, bool inclusive, Pred pred) {
  for (size_t s = inclusive ? after : after + 1; s < c; ++s) {
    if (pred(h.op(s), h.step(s))) return true;
  }
  return false;
}

// Data op i is durable by crash point c: a later fsync/fdatasync of its object, or a sync write
// to it (covering itself).
bool DataSynced(const History& h, size_t i, uint32_t c) {
  const ObjId obj = h.step(i).object;
  return AnyBetween(h, i, c, true, [&](const Op& op, const Step& s) {
    if (s.object != obj) return false;
    if (IsSyncWriteOp(op)) return true;
    return &op != &h.op(i) && (op.kind == OpKind::kFsync || op.kind == OpKind::kFdatasync);
  });
}

// An fsync of `obj` after i: fsync, fsyncdir of it, or an O_SYNC write to it.
bool ObjectFsynced(const History& h, size_t i, uint32_t c, ObjId obj) {
  return AnyBetween(h, i, c, false, [&](const Op& op, const Step& s) {
    if (s.object != obj) return false;
    return IsFsyncLike(op) || (op.kind == OpKind::kWrite && (op.flags & record::kSyncAll));
  });
}

uint32_t EpochStart(const History& h, uint32_t c) {
  for (uint32_t i = c; i-- > 0;) {
    if (IsPersistencePointOp(h.op(i))) return i + 1;
  }
  return 0;
}

std::vector<uint32_t> DiskOpsIn(const History& h, uint32_t begin, uint32_t end) {
  std::vector<uint32_t> out;
  for (uint32_t i = begin; i < end; ++i) {
    if (IsDiskOp(h.op(i))) out.push_back(i);
  }
  return out;
}

Status TooMany(const char* what, size_t count, uint32_t c) {
  return Status::Invalid(std::to_string(count) + " " + what + " at crash point " +
                         std::to_string(c) + ": too many for brute force");
}

class ModelBuilder {
 public:
  ModelBuilder(const History& h, const Needs& needs, const RefModel& m, size_t max_free)
      : h_(h), needs_(needs), m_(m), max_free_(max_free) {}

  Result<PointStates> At(uint32_t c) {
    PointStates p;
    p.crash_point = c;
    p.plain = Draft(h_, c).Take();
    Status s;
    switch (m_.kind) {
      case Kind::kPrefix:
        p.exact = {p.plain};
        break;
      case Kind::kExt4:
        s = Ext4(c, p);
        break;
      case Kind::kPp:
      case Kind::kPpStrict:
        s = Pp(c, p);
        break;
      case Kind::kWeak:
        Weak(c, p);
        break;
      case Kind::kReorder:
        s = Reorder(c, p);
        break;
      case Kind::kTorn:
        Torn(c, p);
        break;
    }
    if (!s.ok()) return s;
    return p;
  }

 private:
  // ---- pp, pp-strict ----

  bool EntryDurableByItself(size_t i, uint32_t c) const {
    const bool strict = m_.kind == Kind::kPpStrict;
    const Step& st = h_.step(i);
    const bool dir_synced = AnyBetween(h_, i, c, false, [&](const Op& op, const Step& s) {
      if (op.kind != OpKind::kFsyncdir) return false;
      return s.object == st.dest_dir || (!strict && s.object == st.source_dir);
    });
    return dir_synced || (!strict && ObjectFsynced(h_, i, c, st.object));
  }

  bool DataDurable(size_t i, uint32_t c) const {
    if (IsDataOp(h_.op(i))) return DataSynced(h_, i, c);
    return ObjectFsynced(h_, i, c, h_.step(i).object);  // inode metadata: fsync only
  }

  Status Pp(uint32_t c, PointStates& p) {
    std::vector<bool> durable(c, false);
    for (uint32_t i = c; i-- > 0;) {
      if (!IsEntryOp(h_.op(i))) continue;
      if (EntryDurableByItself(i, c)) durable[i] = true;
      if (!durable[i]) continue;
      for (uint32_t k = 0; k < i; ++k) {
        if (needs_(i, k)) durable[k] = true;
      }
    }
    std::vector<uint32_t> pending;
    for (uint32_t i = 0; i < c; ++i) {
      if (IsEntryOp(h_.op(i)) && !durable[i]) pending.push_back(i);
    }
    if (pending.size() > max_free_) return TooMany("pending entry ops", pending.size(), c);
    // up[a]: the pending ops that need pending op a (they go when a goes).
    std::vector<uint64_t> up(pending.size(), 0);
    for (size_t a = 0; a < pending.size(); ++a) {
      for (size_t b = 0; b < pending.size(); ++b) {
        if (needs_(pending[b], pending[a])) up[a] |= uint64_t{1} << b;
      }
    }
    Draft base(h_, c);
    for (uint32_t i = 0; i < c; ++i) {
      if (IsDataOp(h_.op(i)) || IsMetaOp(h_.op(i))) base.Keep(i, DataDurable(i, c));
    }
    p.plain = base.Take();
    for (uint64_t dropped = 0; dropped < (uint64_t{1} << pending.size()); ++dropped) {
      bool closed = true;
      for (size_t a = 0; a < pending.size() && closed; ++a) {
        if ((dropped >> a & 1) && (up[a] & ~dropped) != 0) closed = false;
      }
      if (!closed) continue;
      Draft d = base;
      for (size_t a = 0; a < pending.size(); ++a) {
        if (dropped >> a & 1) d.Drop(pending[a]);
      }
      p.exact.push_back(d.Take());
    }
    return Status::Ok();
  }

  // ---- ext4 ----

  static bool IsExt4Metadata(const Op& op) {
    return IsEntryOp(op) || IsMetaOp(op) || op.kind == OpKind::kTruncate ||
           op.kind == OpKind::kFallocate;
  }

  // Which ops are commit points (a property of the log, not of the crash point).
  std::vector<bool> CommitPoints() const {
    std::vector<bool> commit(h_.size(), false);
    std::set<ObjId> changed, size_changed;
    for (size_t s = 0; s < h_.size(); ++s) {
      const Op& op = h_.op(s);
      const Step& st = h_.step(s);
      if (IsEntryOp(op)) {
        changed.insert(st.named.begin(), st.named.end());
        for (const Change& ch : st.changes) changed.insert(ch.entry.dir);
      }
      if (IsDataOp(op) || IsMetaOp(op)) changed.insert(st.object);
      if (st.changes_size) size_changed.insert(st.object);
      bool is_commit = false;
      if (IsFsyncLike(op)) is_commit = changed.contains(st.object);
      if (op.kind == OpKind::kFdatasync) is_commit = size_changed.contains(st.object);
      if (op.kind == OpKind::kWrite && (op.flags & record::kSyncAll)) is_commit = true;
      if (op.kind == OpKind::kWrite && (op.flags & record::kSyncData)) {
        is_commit = size_changed.contains(st.object);
      }
      if (is_commit) {
        commit[s] = true;
        changed.clear();
        size_changed.clear();
      }
    }
    return commit;
  }

  Status Ext4(uint32_t c, PointStates& p) {
    const std::vector<bool> commit = CommitPoints();
    uint32_t after = 0;  // metadata ops before this are on disk
    for (uint32_t s = 0; s < c; ++s) {
      if (commit[s]) after = s + 1;
    }
    const std::vector<uint32_t> open = [&] {
      std::vector<uint32_t> out;
      for (uint32_t i = after; i < c; ++i) {
        if (IsExt4Metadata(h_.op(i))) out.push_back(i);
      }
      return out;
    }();
    p.exact.clear();
    for (size_t lost = 0; lost <= open.size(); ++lost) {
      Draft d(h_, c);
      std::vector<bool> on_disk(c, true);
      for (size_t k = open.size() - lost; k < open.size(); ++k) {
        d.Drop(open[k]);
        on_disk[open[k]] = false;
      }
      for (uint32_t w = 0; w < c; ++w) {
        if (h_.op(w).kind == OpKind::kWrite) d.Keep(w, Ext4WriteOnDisk(w, c, on_disk));
      }
      p.exact.push_back(d.Take());
    }
    p.plain = p.exact.front();
    return Status::Ok();
  }

  // A write reaches the disk through a sync of its object, or through a replacing rename of its
  // object that is on disk (auto_da_alloc).
  bool Ext4WriteOnDisk(uint32_t w, uint32_t c, const std::vector<bool>& on_disk) const {
    if (DataSynced(h_, w, c)) return true;
    const ObjId obj = h_.step(w).object;
    for (uint32_t r = w + 1; r < c; ++r) {
      const Step& st = h_.step(r);
      if (h_.op(r).kind == OpKind::kRename && st.replaces_file && st.object == obj && on_disk[r]) {
        return true;
      }
    }
    return false;
  }

  // ---- weak, weak-rename ----

  void Weak(uint32_t c, PointStates& p) {
    p.exact = {p.plain};
    const std::vector<uint32_t> epoch = DiskOpsIn(h_, EpochStart(h_, c), c);
    if (epoch.empty()) return;
    const uint32_t last = epoch.back();
    for (uint32_t o : epoch) {
      const Op& op = h_.op(o);
      if (o != last && !needs_(last, o)) p.exact.push_back(Without(c, epoch, o, std::nullopt));
      if (op.kind == OpKind::kWrite) WeakWrite(c, o, p);
      if (m_.half_renames && op.kind == OpKind::kRename && op.flags == 0 && !needs_(last, o)) {
        p.exact.push_back(
            Without(c, epoch, o, Applied{.op = o, .part = Applied::Part::kUnlinkTarget}));
      }
    }
  }

  // Every op before c but `o` (or `o` as `part`) and the epoch's ops that need it.
  std::vector<Applied> Without(uint32_t c, const std::vector<uint32_t>& epoch, uint32_t o,
                               std::optional<Applied> part) const {
    Draft d(h_, c);
    if (part) {
      d.Part(*part);
    } else {
      d.Drop(o);
    }
    for (uint32_t j : epoch) {
      if (needs_(j, o)) d.Drop(j);
    }
    return d.Take();
  }

  void WeakWrite(uint32_t c, uint32_t o, PointStates& p) const {
    const Op& op = h_.op(o);
    const uint64_t size = op.data.size();
    std::vector<uint64_t> bounds = WeakCuts(op.offset, size);
    bounds.insert(bounds.begin(), 0);
    bounds.push_back(size);
    const size_t pieces = bounds.size() - 1;
    if (pieces >= 2) {
      for (size_t first = 0; first < pieces; ++first) {
        for (size_t end = first + 1; end <= pieces; ++end) {
          if (first == 0 && end == pieces) continue;  // the whole write
          Draft d(h_, c);
          d.Part(Applied{.op = o, .begin = bounds[first], .end = bounds[end]});
          p.exact.push_back(d.Take());
        }
      }
    }
    const Step& st = h_.step(o);
    if (st.size_known && op.offset >= st.size_before) {
      for (auto fill : {Applied::Fill::kZeros, Applied::Fill::kGarbage}) {
        Draft d(h_, c);
        d.Part(Applied{.op = o, .fill = fill});
        p.exact.push_back(d.Take());
      }
    }
  }

  // ---- reorder-K ----

  Status Reorder(uint32_t c, PointStates& p) {
    p.exact = {p.plain};
    const std::vector<uint32_t> epoch = DiskOpsIn(h_, EpochStart(h_, c), c);
    const size_t e = epoch.size();
    if (e > max_free_) return TooMany("epoch ops", e, c);
    std::vector<std::vector<Applied>> larger;
    for (uint64_t set = 1; set < (uint64_t{1} << e); ++set) {
      const auto size = static_cast<size_t>(std::popcount(set));
      const uint64_t suffix = ((uint64_t{1} << size) - 1) << (e - size);
      if (set == suffix) continue;
      Draft d(h_, c);
      for (size_t b = 0; b < e; ++b) {
        bool missing = (set >> b & 1) != 0;
        for (size_t a = 0; a < e && !missing; ++a) {
          missing = (set >> a & 1) && needs_(epoch[b], epoch[a]);
        }
        if (missing) d.Drop(epoch[b]);
      }
      (size <= m_.k ? p.exact : larger).push_back(d.Take());
    }
    if (larger.size() <= 8) {
      p.exact.insert(p.exact.end(), larger.begin(), larger.end());
    } else {
      p.drawn_from = std::move(larger);
    }
    return Status::Ok();
  }

  // ---- torn-512, torn-4096 ----

  void Torn(uint32_t c, PointStates& p) const {
    p.exact = {p.plain};
    uint32_t last = c;
    for (uint32_t i = c; i-- > 0;) {
      if (h_.op(i).kind != OpKind::kMark) {
        last = i;
        break;
      }
    }
    if (last == c) return;
    const Op& op = h_.op(last);
    if (op.kind != OpKind::kWrite || IsSyncWriteOp(op) || op.data.empty()) return;
    const uint64_t size = op.data.size(), sector = m_.sector;
    const uint64_t first = op.offset / sector, last_sector = (op.offset + size - 1) / sector;
    const uint64_t s = last_sector - first + 1;
    if (s < 2) return;
    // bound[k]: where sector k of the write starts, in its data (bound[s] = its end).
    std::vector<uint64_t> bound = {0};
    for (uint64_t k = 1; k < s; ++k) bound.push_back((first + k) * sector - op.offset);
    bound.push_back(size);
    auto add = [&](uint64_t begin, uint64_t end) {
      Draft d(h_, c);
      d.Part(Applied{.op = last, .begin = begin, .end = end});
      p.exact.push_back(d.Take());
    };
    for (uint64_t j = 1; j < s; ++j) add(0, bound[j]);
    for (uint64_t j = 1; j < s; ++j) add(bound[s - j], size);
    for (uint64_t k = 1; k + 1 < s; ++k) add(bound[k], bound[k + 1]);
  }

  const History& h_;
  const Needs& needs_;
  const RefModel m_;
  const size_t max_free_;
};

}  // namespace

Result<std::vector<PointStates>> ModelStates(const History& history, const Needs& needs,
                                             const RefModel& model, size_t max_free) {
  ModelBuilder builder(history, needs, model, max_free);
  std::vector<PointStates> out;
  for (uint32_t c : KeptCrashPoints(history, model)) {
    auto p = builder.At(c);
    if (!p.ok()) return p.status();
    out.push_back(std::move(*p));
  }
  return out;
}

}  // namespace faultfs::crash::reference
