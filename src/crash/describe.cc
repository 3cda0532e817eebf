// Ops, deviations and states in words. Human text numbers ops by their 1-based seq.
#include <algorithm>

#include "models.h"

namespace faultfs::crash {
namespace {

using models::DirWords;
using models::PathWords;
using record::Op;
using record::OpKind;

constexpr size_t kSummaryDeviations = 3;
constexpr size_t kMarkChars = 40;

uint64_t Seq(const std::vector<Op>& ops, uint32_t i) {
  return i < ops.size() && ops[i].seq != 0 ? ops[i].seq : uint64_t{i} + 1;
}

std::string OpWords(const Op& op) {
  const std::string kind(record::OpKindName(op.kind));
  switch (op.kind) {
    case OpKind::kLink:
    case OpKind::kRename:
      return kind + " " + PathWords(op.path) + " -> " + PathWords(op.path2);
    case OpKind::kSetxattr:
    case OpKind::kRemovexattr:
      return kind + " " + PathWords(op.path) + " " + op.path2;
    case OpKind::kMark: {
      const bool cut = op.data.size() > kMarkChars;
      return kind + " \"" + op.data.substr(0, kMarkChars) + (cut ? "...\"" : "\"");
    }
    default:
      return kind + " " + PathWords(op.path);
  }
}

// How a torn op reached the disk, for the summary.
std::string TornWords(const std::vector<Op>& ops, const CrashState& state, uint32_t i) {
  const auto how = std::find_if(state.applied.begin(), state.applied.end(),
                                [&](const Applied& a) { return a.op == i; });
  if (how == state.applied.end()) return "tears " + DescribeOp(ops, i);
  if (how->part == Applied::Part::kUnlinkTarget)
    return "half-does " + DescribeOp(ops, i) + " (target removed)";
  if (how->fill == Applied::Fill::kZeros) return "exposes zeros for " + DescribeOp(ops, i);
  if (how->fill == Applied::Fill::kGarbage) return "exposes garbage for " + DescribeOp(ops, i);
  const uint64_t size = ops[i].data.size();
  return "tears " + DescribeOp(ops, i) + ": bytes [" + std::to_string(how->begin) + ", " +
         std::to_string(std::min(how->end, size)) + ") of " + std::to_string(size);
}

std::string DeviationWords(const std::vector<Op>& ops, const CrashState& state,
                           const Deviation& d) {
  switch (d.kind) {
    case Deviation::Kind::kOmitted:
    case Deviation::Kind::kReordered:
      return "omits " + DescribeOp(ops, d.op);
    case Deviation::Kind::kTorn:
      return TornWords(ops, state, d.op);
    case Deviation::Kind::kEntryNotDurable:
    case Deviation::Kind::kDataNotDurable:
      return "loses " + DescribeOp(ops, d.op);
    case Deviation::Kind::kLostWith:
      return "loses " + DescribeOp(ops, d.op) + " with op " + std::to_string(Seq(ops, d.later));
  }
  return "?";
}

// How much a deviation tells a reader, for the order of a summary: what went wrong first, then
// lost data, then what was lost with it, then inode metadata (mode, owner, xattrs) last.
int Weight(const std::vector<Op>& ops, const Deviation& d) {
  if (d.kind == Deviation::Kind::kLostWith) return 2;
  if (d.kind != Deviation::Kind::kDataNotDurable) return 0;
  return d.op < ops.size() && record::IsMetaKind(ops[d.op].kind) ? 3 : 1;
}

}  // namespace

std::string DescribeOp(const std::vector<Op>& ops, uint32_t i) {
  if (i >= ops.size()) return "op " + std::to_string(uint64_t{i} + 1) + " (not in the log)";
  return "op " + std::to_string(Seq(ops, i)) + " (" + OpWords(ops[i]) + ")";
}

std::string FindingText(const std::vector<Op>& ops, const Deviation& d) {
  std::string op = DescribeOp(ops, d.op);
  switch (d.kind) {
    case Deviation::Kind::kOmitted:
    case Deviation::Kind::kReordered:
      return op + " must persist before " + DescribeOp(ops, d.later);
    case Deviation::Kind::kTorn:
      return op + " must be atomic";
    case Deviation::Kind::kEntryNotDurable:
      return "durability of " + op + " needs an fsync of " + DirWords(d.dir);
    case Deviation::Kind::kDataNotDurable: {
      const std::string path = d.op < ops.size() ? PathWords(ops[d.op].path) : "?";
      return "durability of " + op + " needs an fsync of " + path;
    }
    case Deviation::Kind::kLostWith:
      return op + " cannot persist without " + DescribeOp(ops, d.later);
  }
  return op;
}

namespace models {

std::string PathWords(const std::string& path) { return path.empty() ? "." : path; }

std::string DirWords(const std::string& dir) {
  return dir.empty() ? "the root directory" : "the directory " + dir;
}

std::string Summary(const std::vector<Op>& ops, const CrashState& state) {
  std::string text = state.crash_point == 0
                         ? "crash before any op"
                         : "crash after " + DescribeOp(ops, state.crash_point - 1);
  std::vector<Deviation> ordered = state.deviations;
  std::stable_sort(ordered.begin(), ordered.end(), [&](const Deviation& a, const Deviation& b) {
    return Weight(ops, a) < Weight(ops, b);
  });
  const size_t shown = std::min(ordered.size(), kSummaryDeviations);
  for (size_t i = 0; i < shown; ++i) {
    text += (i == 0 ? "; " : ", ") + DeviationWords(ops, state, ordered[i]);
  }
  if (state.deviations.size() > shown) {
    text += " and " + std::to_string(state.deviations.size() - shown) + " more";
  }
  return text;
}

}  // namespace models
}  // namespace faultfs::crash
