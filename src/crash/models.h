// The persistence models behind Enumerate() (docs/persistence-models.md). Each model is a plan
// over the whole log that answers, per crash point, how many states it defines and what state
// number i is. States are built only when chosen, so a model may define billions of them (2^m
// subsets of unsynced entries, k-subsets of a long epoch) while Enumerate() stays cheap.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "faultfs/crash/history.h"
#include "faultfs/crash/state.h"
#include "faultfs/record/op.h"

namespace faultfs::crash::models {

// No crash point defines more states than this; it keeps sums of counts far from overflow.
inline constexpr uint64_t kMaxStatesPerPoint = uint64_t{1} << 40;

class ModelPlan {
 public:
  virtual ~ModelPlan() = default;
  // Whether crash point c (0 < c < n) may add states that crash point c - 1 lacks. Points 0 and n
  // are always kept.
  virtual bool KeepsPoint(uint32_t c) const = 0;
  // How many states crash point c has (>= 1; state 0 is the plain one).
  virtual uint64_t Count(uint32_t c) const = 0;
  // State `index` of crash point c: only `applied` and `deviations` are filled.
  virtual CrashState Make(uint32_t c, uint64_t index) const = 0;
};

// `history`: the ops resolved (it outlives the plan). `seed`: for the models that draw some of
// their states (reorder-K beyond K).
std::unique_ptr<ModelPlan> MakePlan(const std::vector<record::Op>& ops, const History& history,
                                    const Model& model, uint64_t seed);
std::unique_ptr<ModelPlan> MakePrefixPlan(const std::vector<record::Op>& ops);
std::unique_ptr<ModelPlan> MakeExt4Plan(const std::vector<record::Op>& ops, const History& history);
std::unique_ptr<ModelPlan> MakePpPlan(const std::vector<record::Op>& ops, const History& history,
                                      bool strict);
std::unique_ptr<ModelPlan> MakeWeakPlan(const std::vector<record::Op>& ops, const History& history,
                                        bool half_renames);
std::unique_ptr<ModelPlan> MakeReorderPlan(const std::vector<record::Op>& ops,
                                           const History& history, uint32_t k, uint64_t seed);
std::unique_ptr<ModelPlan> MakeTornPlan(const std::vector<record::Op>& ops, uint32_t sector);

// --- Op classes (the basic ones are the op vocabulary's: faultfs/record/op.h) ---
using record::IsDataKind;
using record::IsEntryKind;
using record::IsMetaKind;
using record::IsSyncWrite;
// Ends an epoch: fsync, fdatasync, fsyncdir or a sync write.
bool IsBarrier(const record::Op& op);
// Changes the disk when re-applied: everything but markers and fsync-family ops.
bool IsDiskOp(const record::Op& op);
// "a/b/c" -> "a/b", "c" -> "" (the root).
std::string ParentDir(std::string_view path);
// A directory path as fsyncdir names it, normalized ("." and "/" are the root "").
std::string NormalDir(std::string_view path);
// The directory whose entry an entry op creates (link, rename: the new name's directory), as the
// recording named it (for findings).
std::string EntryDir(const record::Op& op);

// --- What ops need (history.h) ---
// The ops in [begin, end) that need an op of `missing` (sorted), transitively, each with the
// missing op it needs: they cannot have persisted without it.
std::vector<std::pair<uint32_t, uint32_t>> LostWith(const History& history,
                                                    const std::vector<uint32_t>& missing,
                                                    uint32_t end);
// The ops at or after `begin` that op `i` needs, transitively (sorted).
std::vector<uint32_t> NeededFrom(const History& history, uint32_t i, uint32_t begin);

// File sizes as the log makes them known, per op: the size of its object before it, or
// kUnknownSize (it existed before recording and was not truncated).
inline constexpr uint64_t kUnknownSize = UINT64_MAX;
std::vector<uint64_t> SizesBefore(const std::vector<record::Op>& ops, const History& history);

// Every disk op in [begin, end), in order, whole.
void AppendWhole(const std::vector<record::Op>& ops, uint32_t begin, uint32_t end,
                 std::vector<Applied>* out);
// The disk ops in [begin, end) (the indices).
std::vector<uint32_t> DiskOps(const std::vector<record::Op>& ops, uint32_t begin, uint32_t end);

// Where each crash point's epoch starts: the op after the last barrier before it (0 if none).
class EpochIndex {
 public:
  explicit EpochIndex(const std::vector<record::Op>& ops);
  uint32_t Start(uint32_t c) const { return start_[c]; }
  // Disk ops in [Start(c), c).
  uint64_t DiskOpsInEpoch(uint32_t c) const { return disk_before_[c] - disk_before_[start_[c]]; }
  // Disk ops in [0, c).
  uint64_t DiskOpsBefore(uint32_t c) const { return disk_before_[c]; }

 private:
  std::vector<uint32_t> start_;        // per crash point 0..n
  std::vector<uint64_t> disk_before_;  // per crash point: disk ops in [0, c)
};

// Pieces of the write `op` whose data bytes reach the disk: [begin, end) of op.data.
struct Piece {
  uint64_t begin = 0;
  uint64_t end = 0;
};
// The write's data cut at `unit`-aligned file offsets (the first and last piece may be partial).
uint64_t CountUnits(const record::Op& op, uint64_t unit);
Piece UnitRange(const record::Op& op, uint64_t unit, uint64_t first, uint64_t last);

// A path for humans ("." for the root), and a directory ("the root directory", "the directory d").
std::string PathWords(const std::string& path);
std::string DirWords(const std::string& dir);
// One line for humans: the crash point and the first deviations (describe.cc).
std::string Summary(const std::vector<record::Op>& ops, const CrashState& state);

// C(n, k), saturated at kMaxStatesPerPoint.
uint64_t Binomial(uint64_t n, uint64_t k);
uint64_t SaturatingAdd(uint64_t a, uint64_t b);

}  // namespace faultfs::crash::models
