// What the models share: op classes, epochs, write pieces, saturating counts.
#include <algorithm>
#include <map>
#include <set>
#include <unordered_map>

#include "models.h"

namespace faultfs::crash::models {

using record::Op;
using record::OpKind;

bool IsBarrier(const Op& op) { return record::IsPersistencePoint(op.kind) || IsSyncWrite(op); }

bool IsDiskOp(const Op& op) {
  return op.kind != OpKind::kMark && !record::IsPersistencePoint(op.kind);
}

std::string NormalDir(std::string_view path) {
  while (path.starts_with("./")) path.remove_prefix(2);
  while (path.starts_with('/')) path.remove_prefix(1);
  while (path.ends_with('/')) path.remove_suffix(1);
  if (path == ".") return "";
  return std::string(path);
}

std::string ParentDir(std::string_view path) {
  const std::string normal = NormalDir(path);
  const size_t slash = normal.rfind('/');
  return slash == std::string::npos ? "" : normal.substr(0, slash);
}

std::string EntryDir(const Op& op) {
  const bool new_name = op.kind == OpKind::kLink || op.kind == OpKind::kRename;
  return ParentDir(new_name ? op.path2 : op.path);
}

std::vector<std::pair<uint32_t, uint32_t>> LostWith(const History& history,
                                                    const std::vector<uint32_t>& missing,
                                                    uint32_t end) {
  // Ops only need earlier ops, so one pass in log order finds the whole closure.
  std::map<uint32_t, uint32_t> lost;  // op -> the missing op it needs
  std::set<uint32_t> frontier(missing.begin(), missing.end());
  std::map<uint32_t, uint32_t> cause;
  for (uint32_t m : missing) cause[m] = m;
  while (!frontier.empty()) {
    const uint32_t i = *frontier.begin();
    frontier.erase(frontier.begin());
    for (uint32_t j : history.needed_by(i)) {
      if (j >= end || cause.count(j) != 0) continue;
      cause[j] = cause[i];
      lost[j] = cause[i];
      frontier.insert(j);
    }
  }
  return {lost.begin(), lost.end()};
}

std::vector<uint32_t> NeededFrom(const History& history, uint32_t i, uint32_t begin) {
  std::set<uint32_t> seen;
  std::vector<uint32_t> stack{i};
  while (!stack.empty()) {
    const uint32_t at = stack.back();
    stack.pop_back();
    for (uint32_t need : history.needs(at)) {
      if (need >= begin && seen.insert(need).second) stack.push_back(need);
    }
  }
  return {seen.begin(), seen.end()};
}

std::vector<uint64_t> SizesBefore(const std::vector<Op>& ops, const History& history) {
  constexpr uint32_t kFallocKeepSize = 1;
  std::vector<uint64_t> before(ops.size(), kUnknownSize);
  std::unordered_map<ObjectId, uint64_t> size;
  for (size_t i = 0; i < ops.size(); ++i) {
    const Op& op = ops[i];
    const ObjectId obj = history.at(i).obj;
    const auto it = size.find(obj);
    const uint64_t known = it == size.end() ? kUnknownSize : it->second;
    before[i] = known;
    if (op.kind == OpKind::kCreate || op.kind == OpKind::kMknod) size[obj] = 0;
    if (op.kind == OpKind::kTruncate) size[obj] = op.offset;
    if (known == kUnknownSize) continue;
    if (op.kind == OpKind::kWrite) size[obj] = std::max(known, op.offset + op.data.size());
    if (op.kind == OpKind::kFallocate && (op.flags & kFallocKeepSize) == 0) {
      size[obj] = std::max(known, op.offset + op.length);
    }
  }
  return before;
}

void AppendWhole(const std::vector<Op>& ops, uint32_t begin, uint32_t end,
                 std::vector<Applied>* out) {
  for (uint32_t i = begin; i < end; ++i) {
    if (IsDiskOp(ops[i])) out->push_back(Applied{.op = i});
  }
}

std::vector<uint32_t> DiskOps(const std::vector<Op>& ops, uint32_t begin, uint32_t end) {
  std::vector<uint32_t> out;
  for (uint32_t i = begin; i < end; ++i) {
    if (IsDiskOp(ops[i])) out.push_back(i);
  }
  return out;
}

EpochIndex::EpochIndex(const std::vector<Op>& ops)
    : start_(ops.size() + 1, 0), disk_before_(ops.size() + 1, 0) {
  for (uint32_t i = 0; i < ops.size(); ++i) {
    start_[i + 1] = IsBarrier(ops[i]) ? i + 1 : start_[i];
    disk_before_[i + 1] = disk_before_[i] + (IsDiskOp(ops[i]) ? 1 : 0);
  }
}

uint64_t CountUnits(const Op& op, uint64_t unit) {
  if (op.data.empty()) return 0;
  const uint64_t first = op.offset / unit;
  const uint64_t last = (op.offset + op.data.size() - 1) / unit;
  return last - first + 1;
}

Piece UnitRange(const Op& op, uint64_t unit, uint64_t first, uint64_t last) {
  const uint64_t base = op.offset / unit;
  const uint64_t file_begin = std::max(op.offset, (base + first) * unit);
  const uint64_t file_end = std::min(op.offset + op.data.size(), (base + last + 1) * unit);
  return Piece{file_begin - op.offset, file_end - op.offset};
}

uint64_t SaturatingAdd(uint64_t a, uint64_t b) {
  uint64_t sum = 0;
  return __builtin_add_overflow(a, b, &sum) ? UINT64_MAX : sum;
}

uint64_t Binomial(uint64_t n, uint64_t k) {
  if (k > n) return 0;
  k = std::min(k, n - k);
  uint64_t result = 1;
  for (uint64_t i = 1; i <= k; ++i) {
    // result * (n - k + i) / i is exact at every step: it is C(n - k + i, i).
    uint64_t product = 0;
    if (__builtin_mul_overflow(result, n - k + i, &product)) return kMaxStatesPerPoint;
    result = product / i;
    if (result >= kMaxStatesPerPoint) return kMaxStatesPerPoint;
  }
  return result;
}

}  // namespace faultfs::crash::models
