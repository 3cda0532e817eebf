#include "crash_diff.h"

#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <iostream>
#include <nlohmann/json.hpp>
#include <vector>

#include "commands.h"
#include "crash_json.h"
#include "faultfs/core/scratch_dir.h"
#include "faultfs/core/tree_copy.h"
#include "faultfs/core/tree_diff.h"
#include "faultfs/crash/materialize.h"

namespace faultfs::cli {

namespace {

constexpr size_t kRangesShown = 8;  // per file; the rest are counted
constexpr size_t kLinesShown = 40;  // per section; --json lists them all
constexpr size_t kPathColumn = 40;  // longer paths push their line's value to the right

// A scratch directory under $TMPDIR, removed with everything in it when it goes out of scope,
// on errors too (two rebuilt states can be as large as the workload's data).
class ScratchDir {
 public:
  ScratchDir() = default;
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;
  ~ScratchDir() {
    if (path_.empty()) return;
    if (Status s = RemoveTree(path_); !s.ok())
      std::cerr << "faultfs: removing " << path_ << ": " << s.ToString() << "\n";
  }
  Status Create() {
    auto made = MakeScratchDir("faultfs-crash-diff");
    if (!made.ok()) return made.status();
    path_ = std::move(*made);
    return Status::Ok();
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// Rebuilds `state` in `dir`, which is created; `what` names the state in errors.
Status Rebuild(const LoadedLog& in, const crash::CrashState& state, uint64_t seed,
               const std::string& dir, const std::string& what) {
  if (mkdir(dir.c_str(), 0755) != 0) return Status::FromErrno(errno, "creating " + dir);
  Status s = crash::Materialize(in.snapshot, in.log, state, seed, dir);
  if (!s.ok()) return Status::Invalid("rebuilding " + what + ": " + s.ToString());
  return Status::Ok();
}

// The differences of `state` from the state where every op before its crash point persisted.
Result<std::vector<TreeDifference>> Differences(const CrashDiffRequest& request,
                                                const LoadedLog& in,
                                                const crash::CrashState& state) {
  ScratchDir scratch;
  FAULTFS_RETURN_IF_ERROR(scratch.Create());
  crash::Model prefix;
  prefix.kind = crash::ModelKind::kPrefix;
  const crash::CrashState full = crash::StateAt(in.log, prefix, request.seed, state.crash_point, 0);
  FAULTFS_RETURN_IF_ERROR(
      Rebuild(in, full, request.seed, scratch.path() + "/full", "the full state"));
  FAULTFS_RETURN_IF_ERROR(
      Rebuild(in, state, request.seed, scratch.path() + "/state", "state " + state.id));
  return DiffTrees(scratch.path() + "/full", scratch.path() + "/state",
                   {.max_ranges = kRangesShown});
}

std::string PathWords(const std::string& path) { return path.empty() ? "." : path; }

// Control characters (a newline in a file name) would break the one-line-per-difference layout.
std::string Printable(std::string s) {
  std::replace_if(
      s.begin(), s.end(), [](char c) { return static_cast<unsigned char>(c) < 0x20; }, '?');
  return s;
}

std::string NoneIfEmpty(const std::string& s) { return s.empty() ? "none" : s; }

// "a", "a and b", "a, b and c".
std::string Enumeration(const std::vector<std::string>& parts) {
  std::string out;
  for (size_t i = 0; i < parts.size(); ++i)
    out += (i == 0 ? "" : i + 1 == parts.size() ? " and " : ", ") + parts[i];
  return out;
}

std::string ContentWords(const TreeDifference& d) {
  std::vector<std::string> ranges;
  for (const ByteRange& r : d.ranges)
    ranges.push_back("[" + std::to_string(r.begin) + ", " + std::to_string(r.end) + ")");
  if (d.range_count > d.ranges.size())
    ranges.push_back(std::to_string(d.range_count - d.ranges.size()) + " more");
  std::string out = ranges.empty() ? "" : "bytes " + Enumeration(ranges) + " differ";
  if (d.expected_size != d.actual_size) {
    out += (out.empty() ? "size " : "; size ") + std::to_string(d.expected_size) + " vs " +
           std::to_string(d.actual_size);
  }
  return out;
}

// The part of a difference's line after its path: each side's value, full state first.
std::string ValueWords(const TreeDifference& d) {
  switch (d.kind) {
    case TreeDiffKind::kMissing:
      return d.expected == "file" ? "" : "(" + d.expected + ")";
    case TreeDiffKind::kExtra:
      return d.actual == "file" ? "" : "(" + d.actual + ")";
    case TreeDiffKind::kContent:
      return ContentWords(d);
    case TreeDiffKind::kSymlink:
      return "-> " + d.expected + " vs -> " + d.actual;
    case TreeDiffKind::kLinks:
      return "other names " + NoneIfEmpty(d.expected) + " vs " + NoneIfEmpty(d.actual);
    default:
      return NoneIfEmpty(d.expected) + " vs " + NoneIfEmpty(d.actual);
  }
}

// "the full state, where ops 1-12 all persisted".
std::string FullStateWords(uint32_t crash_point) {
  if (crash_point == 0) return "the full state, the starting one (no op before the crash)";
  if (crash_point == 1) return "the full state, where op 1 persisted";
  return "the full state, where ops 1-" + std::to_string(crash_point) + " all persisted";
}

void PrintDifferences(const std::vector<TreeDifference>& diffs, uint32_t crash_point) {
  if (diffs.empty()) {
    std::cout << "no difference from " << FullStateWords(crash_point) << "\n";
    return;
  }
  std::cout << diffs.size() << (diffs.size() == 1 ? " difference" : " differences") << " from "
            << FullStateWords(crash_point) << " (values: full vs crash):\n";
  const size_t shown = std::min(diffs.size(), kLinesShown);
  size_t width = 0;
  for (size_t i = 0; i < shown; ++i) width = std::max(width, PathWords(diffs[i].path).size());
  width = std::min(width, kPathColumn);
  for (size_t i = 0; i < shown; ++i) {
    std::string kind = TreeDiffKindName(diffs[i].kind), path = PathWords(diffs[i].path);
    kind.resize(std::max<size_t>(kind.size(), 8), ' ');
    path.resize(std::max(path.size(), width), ' ');
    std::string line = "  " + kind + "  " + path + "  " + ValueWords(diffs[i]);
    line.erase(line.find_last_not_of(' ') + 1);  // a missing file has no value
    std::cout << Printable(line) << "\n";
  }
  if (diffs.size() > shown)
    std::cout << "  ... and " << diffs.size() - shown << " more (--json lists them all)\n";
}

// What the state lost, by op: its deviations, in log order, in the words of findings.
void PrintLostOps(const std::vector<record::Op>& ops, const crash::CrashState& state) {
  std::vector<crash::Deviation> deviations = state.deviations;
  std::stable_sort(deviations.begin(), deviations.end(),
                   [](const auto& a, const auto& b) { return a.op < b.op; });
  std::cout << "ops it loses or tears:" << (deviations.empty() ? " none\n" : "\n");
  const size_t shown = std::min(deviations.size(), kLinesShown);
  for (size_t i = 0; i < shown; ++i)
    std::cout << "  " << Printable(crash::FindingText(ops, deviations[i])) << "\n";
  if (deviations.size() > shown)
    std::cout << "  ... and " << deviations.size() - shown << " more (--json lists them all)\n";
}

nlohmann::json DifferenceJson(const TreeDifference& d) {
  nlohmann::json j = {{"kind", TreeDiffKindName(d.kind)}, {"path", PathWords(d.path)}};
  if (d.kind != TreeDiffKind::kContent) {
    j["full"] = d.expected;
    j["crash"] = d.actual;
    return j;
  }
  nlohmann::json ranges = nlohmann::json::array();
  for (const ByteRange& r : d.ranges) ranges.push_back({r.begin, r.end});
  j["full_size"] = d.expected_size;
  j["crash_size"] = d.actual_size;
  j["ranges"] = ranges;  // the first few, [begin, end)
  j["range_count"] = d.range_count;
  return j;
}

}  // namespace

int RunCrashDiff(const CrashDiffRequest& request, const LoadedLog& in,
                 const crash::CrashState& state) {
  auto diffs = Differences(request, in, state);
  if (!diffs.ok()) {
    std::cerr << "faultfs: crash diff: " << diffs.status().ToString() << "\n";
    return kExitFailure;
  }
  if (request.json) {
    nlohmann::json j = StateJson(in.log.ops, request.model, request.seed, state);
    nlohmann::json list = nlohmann::json::array();
    for (const auto& d : *diffs) list.push_back(DifferenceJson(d));
    j["compared_with"] = {{"model", "prefix"}, {"crash_after_op", state.crash_point}};
    j["differences"] = list;
    std::cout << JsonLine(j) << "\n";
    return kExitOk;
  }
  std::cout << "state " << state.id << " (model " << request.model.Name() << ", seed "
            << request.seed << "): " << Printable(state.summary) << "\n";
  PrintDifferences(*diffs, state.crash_point);
  PrintLostOps(in.log.ops, state);
  return kExitOk;
}

}  // namespace faultfs::cli
