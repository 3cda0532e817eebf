// `weak`: ALICE-style relaxations inside the epoch that ends at the crash point. Everything before
// the epoch persisted; within it exactly one thing went wrong: one op is missing although the
// last op persisted, one write persisted only in part, one append exposed zeros or garbage, or
// (weak-rename only) one rename removed its destination without moving its source.
#include <algorithm>

#include "models.h"

namespace faultfs::crash::models {
namespace {

using record::Op;
using record::OpKind;

constexpr uint64_t kBlock = 4096;
constexpr uint32_t kRenameNoreplace = 1;  // renameat2 flags: no destination could be replaced
constexpr uint32_t kRenameExchange = 2;

uint64_t AlignDown(uint64_t x) { return x / kBlock * kBlock; }

// File offsets where a write is cut into 2 or 3 pieces: 4 KiB boundaries near its thirds, or its
// byte thirds when it crosses no boundary.
std::vector<uint64_t> Cuts(const Op& op) {
  const uint64_t len = op.data.size();
  if (len < 2) return {};
  const uint64_t first = AlignDown(op.offset) + kBlock;  // boundaries strictly inside the write
  const uint64_t last = AlignDown(op.offset + len - 1);
  if (first > last) {
    if (len == 2) return {op.offset + 1};
    return {op.offset + len / 3, op.offset + 2 * len / 3};
  }
  if (last - first <= kBlock) return first == last ? std::vector{first} : std::vector{first, last};
  const uint64_t cut1 = std::clamp(AlignDown(op.offset + len / 3), first, last);
  const uint64_t cut2 = std::clamp(AlignDown(op.offset + 2 * len / 3), first, last);
  return {cut1, cut2 > cut1 ? cut2 : cut1 + kBlock};
}

// Every contiguous run of the pieces but the whole write.
void AddPieces(const Op& op, std::vector<Applied>* out) {
  std::vector<uint64_t> bounds{op.offset};
  for (uint64_t cut : Cuts(op)) bounds.push_back(cut);
  bounds.push_back(op.offset + op.data.size());
  if (bounds.size() < 3) return;
  const size_t pieces = bounds.size() - 1;
  for (size_t a = 0; a < pieces; ++a) {
    for (size_t b = a + 1; b <= pieces; ++b) {
      if (a == 0 && b == pieces) continue;
      out->push_back(Applied{.begin = bounds[a] - op.offset, .end = bounds[b] - op.offset});
    }
  }
}

bool HalfRenamable(const Op& op, bool half_renames) {
  return half_renames && op.kind == OpKind::kRename &&
         (op.flags & (kRenameNoreplace | kRenameExchange)) == 0;
}

// The ways one op can reach the disk wrongly (besides not at all); `op` is left for the caller.
std::vector<Applied> Relaxations(const Op& op, uint64_t size_before, bool half_renames) {
  std::vector<Applied> out;
  if (op.kind == OpKind::kWrite) {
    AddPieces(op, &out);
    if (size_before != kUnknownSize && op.offset >= size_before && !op.data.empty()) {
      out.push_back(Applied{.fill = Applied::Fill::kZeros});
      out.push_back(Applied{.fill = Applied::Fill::kGarbage});
    }
  }
  if (HalfRenamable(op, half_renames)) out.push_back(Applied{.part = Applied::Part::kUnlinkTarget});
  return out;
}

class WeakPlan : public ModelPlan {
 public:
  WeakPlan(const std::vector<Op>& ops, const History& history, bool half_renames)
      : ops_(ops),
        history_(history),
        half_renames_(half_renames),
        epochs_(ops),
        size_before_(SizesBefore(ops, history)),
        relaxed_before_(ops.size() + 1, 0) {
    for (size_t i = 0; i < ops.size(); ++i) {
      const uint64_t n =
          IsDiskOp(ops[i]) ? Relaxations(ops[i], size_before_[i], half_renames_).size() : 0;
      relaxed_before_[i + 1] = relaxed_before_[i] + n;
    }
  }

  bool KeepsPoint(uint32_t c) const override {
    return !record::IsPersistencePoint(ops_[c - 1].kind);
  }
  uint64_t Count(uint32_t c) const override {
    const uint64_t in_epoch = epochs_.DiskOpsInEpoch(c);
    const uint64_t omits = in_epoch > 0 ? in_epoch - 1 : 0;
    const uint64_t relaxed = relaxed_before_[c] - relaxed_before_[epochs_.Start(c)];
    const std::vector<uint32_t> blocked = Blocked(c);
    return std::min(kMaxStatesPerPoint, 1 + omits + relaxed - Removed(blocked, c));
  }
  CrashState Make(uint32_t c, uint64_t index) const override;

 private:
  // The ops of the epoch that the last disk op before c needs: they cannot be missing while it
  // persisted, so they have no "omitted" variant, nor a half-rename one.
  std::vector<uint32_t> Blocked(uint32_t c) const;
  // The variants the ops of `blocked` before op `before` lose.
  uint64_t Removed(const std::vector<uint32_t>& blocked, uint32_t before) const;
  uint64_t Slots(uint32_t start, uint32_t i, const std::vector<uint32_t>& blocked) const;
  // Op i missing (or half done: `half`), with the later ops that need it.
  void Drop(CrashState& state, uint32_t i, uint32_t c, bool half) const;

  const std::vector<Op>& ops_;
  const History& history_;
  const bool half_renames_;
  EpochIndex epochs_;
  std::vector<uint64_t> size_before_;
  std::vector<uint64_t> relaxed_before_;  // per crash point: relaxations of the ops before it
};

std::vector<uint32_t> WeakPlan::Blocked(uint32_t c) const {
  const uint32_t start = epochs_.Start(c);
  for (uint32_t i = c; i-- > start;) {
    if (IsDiskOp(ops_[i])) return NeededFrom(history_, i, start);
  }
  return {};
}

uint64_t WeakPlan::Removed(const std::vector<uint32_t>& blocked, uint32_t before) const {
  uint64_t removed = 0;
  for (uint32_t b : blocked) {
    if (b < before) removed += HalfRenamable(ops_[b], half_renames_) ? uint64_t{2} : uint64_t{1};
  }
  return removed;
}

// Variant order: for each disk op of the epoch, "omitted" (all but the last op, and not an op the
// last one needs), then its relaxations in Relaxations() order (no half rename of an op the last
// one needs). Slots(i) counts the variants of the epoch's ops before i.
uint64_t WeakPlan::Slots(uint32_t start, uint32_t i, const std::vector<uint32_t>& blocked) const {
  return (epochs_.DiskOpsBefore(i) - epochs_.DiskOpsBefore(start)) +
         (relaxed_before_[i] - relaxed_before_[start]) - Removed(blocked, i);
}

void WeakPlan::Drop(CrashState& state, uint32_t i, uint32_t c, bool half) const {
  const auto lost = LostWith(history_, {i}, c);
  std::vector<uint32_t> gone;
  for (const auto& [op, need] : lost) gone.push_back(op);
  if (!half) gone.insert(std::lower_bound(gone.begin(), gone.end(), i), i);
  std::erase_if(state.applied, [&](const Applied& a) {
    return std::binary_search(gone.begin(), gone.end(), a.op);
  });
  for (const auto& [op, need] : lost) {
    state.deviations.push_back(
        Deviation{.kind = Deviation::Kind::kLostWith, .op = op, .later = need});
  }
}

CrashState WeakPlan::Make(uint32_t c, uint64_t index) const {
  CrashState state;
  AppendWhole(ops_, 0, c, &state.applied);
  if (index == 0) return state;
  const uint32_t start = epochs_.Start(c);
  const uint32_t last = state.applied.back().op;
  const std::vector<uint32_t> blocked = Blocked(c);
  // The op whose variants hold index - 1: the first whose next op starts beyond it.
  uint32_t lo = start;
  uint32_t hi = c - 1;
  while (lo < hi) {
    const uint32_t mid = lo + (hi - lo) / 2;
    if (Slots(start, mid + 1, blocked) > index - 1) {
      hi = mid;
    } else {
      lo = mid + 1;
    }
  }
  const uint32_t i = lo;
  uint64_t local = index - 1 - Slots(start, i, blocked);
  const bool is_blocked = std::binary_search(blocked.begin(), blocked.end(), i);
  if (i != last && !is_blocked) {  // "omitted" comes first
    if (local == 0) {
      std::vector<Deviation> own{
          Deviation{.kind = Deviation::Kind::kOmitted, .op = i, .later = last}};
      Drop(state, i, c, /*half=*/false);
      own.insert(own.end(), state.deviations.begin(), state.deviations.end());
      state.deviations = std::move(own);
      return state;
    }
    --local;
  }
  std::vector<Applied> relaxations = Relaxations(ops_[i], size_before_[i], half_renames_);
  if (is_blocked)
    std::erase_if(relaxations,
                  [](const Applied& a) { return a.part == Applied::Part::kUnlinkTarget; });
  Applied how = relaxations[local];
  how.op = i;
  state.deviations.push_back(Deviation{.kind = Deviation::Kind::kTorn, .op = i});
  if (how.part == Applied::Part::kUnlinkTarget) Drop(state, i, c, /*half=*/true);
  for (Applied& a : state.applied) {
    if (a.op == i) a = how;
  }
  return state;
}

}  // namespace

std::unique_ptr<ModelPlan> MakeWeakPlan(const std::vector<Op>& ops, const History& history,
                                        bool half_renames) {
  return std::make_unique<WeakPlan>(ops, history, half_renames);
}

}  // namespace faultfs::crash::models
