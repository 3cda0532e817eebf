#include "faultfs/crash/causes.h"

#include <algorithm>
#include <map>
#include <set>

#include "models.h"

namespace faultfs::crash {

namespace {

// "durability of the changes to db-journal (ops 15, 16, 17, 18, ...) needs an fsync of
// db-journal": one finding however many of the file's changes a state lost, so the states of
// every crash point group under it.
std::string FileText(const std::vector<record::Op>& ops, const std::vector<Deviation>& devs) {
  if (devs.size() == 1) return FindingText(ops, devs[0]);
  const std::string& path = ops[devs[0].op].path;
  return "durability of the changes to " + path + " needs an fsync of " + path;
}

}  // namespace

std::vector<Cause> CausesOf(const std::vector<record::Op>& ops, const History& history,
                            const CrashState& state) {
  std::vector<Cause> causes;
  std::map<ObjectId, size_t> file_cause;  // object -> its cause of lost unsynced changes
  std::map<uint32_t, size_t> op_cause;    // op -> the cause it is (ops lost with it join it)
  for (const Deviation& d : state.deviations) {
    if (d.kind == Deviation::Kind::kLostWith) continue;
    if (d.kind == Deviation::Kind::kDataNotDurable && d.op < ops.size()) {
      auto [it, fresh] = file_cause.try_emplace(history.at(d.op).obj, causes.size());
      if (fresh) causes.emplace_back();
      causes[it->second].deviations.push_back(d);
      continue;
    }
    op_cause[d.op] = causes.size();
    causes.push_back({{d}, FindingText(ops, d)});
  }
  for (const Deviation& d : state.deviations) {
    const auto it = op_cause.find(d.later);
    if (d.kind == Deviation::Kind::kLostWith && it != op_cause.end())
      causes[it->second].deviations.push_back(d);
  }
  for (auto& c : causes) {
    if (c.text.empty()) c.text = FileText(ops, c.deviations);
  }
  return causes;
}

namespace {}  // namespace

Fix FixOf(const std::vector<record::Op>& ops, const History& history, const Cause& cause) {
  Fix fix;
  for (const Deviation& d : cause.deviations) {
    if (d.kind != Deviation::Kind::kLostWith && d.op < ops.size()) fix.ops.push_back(d.op);
  }
  std::sort(fix.ops.begin(), fix.ops.end());
  if (fix.ops.empty()) return Fix{"none", cause.text, {}};
  const Deviation& d = cause.deviations.front();
  const uint32_t first = fix.ops.front();
  const record::Op& op = ops[first];
  if (d.kind == Deviation::Kind::kTorn) {
    fix.key = "atomic:" + std::to_string(first);
    fix.text = "make " + DescribeOp(ops, first) + " tear-proof: it can reach the disk in part";
  } else if (record::IsEntryKind(op.kind)) {
    const std::string dir =
        d.kind == Deviation::Kind::kEntryNotDurable ? d.dir : models::EntryDir(op);
    fix.key = "entry:" + std::to_string(first);
    fix.text = "fsync " + models::DirWords(dir) + " after " + DescribeOp(ops, first);
  } else {
    fix.key = "file:" + std::to_string(history.at(first).obj);
    const uint32_t last = fix.ops.back();
    fix.text = "fsync " + models::PathWords(ops[last].path) + " after " + DescribeOp(ops, last);
  }
  if (d.kind == Deviation::Kind::kOmitted || d.kind == Deviation::Kind::kReordered)
    fix.text += ", before " + DescribeOp(ops, d.later);
  return fix;
}

CrashState Undo(const History& history, const CrashState& state, const Cause& cause,
                size_t cause_index) {
  CrashState out = state;
  out.id = state.id + "-without-" + std::to_string(cause_index + 1);
  std::set<uint32_t> applied;
  for (const Applied& a : state.applied) applied.insert(a.op);
  // The cause's ops, and every missing op they need: a state never holds an op without them.
  std::set<uint32_t> back;
  std::vector<uint32_t> todo;
  for (const Deviation& d : cause.deviations) todo.push_back(d.op);
  while (!todo.empty()) {
    const uint32_t op = todo.back();
    todo.pop_back();
    if (!back.insert(op).second || op >= history.size()) continue;
    for (uint32_t need : history.needs(op)) {
      if (applied.count(need) == 0) todo.push_back(need);
    }
  }
  for (uint32_t op : back) {
    auto it = std::find_if(out.applied.begin(), out.applied.end(),
                           [&](const Applied& a) { return a.op >= op; });
    if (it != out.applied.end() && it->op == op) {
      *it = Applied{.op = op};  // torn or half done: now whole
    } else {
      out.applied.insert(it, Applied{.op = op});
    }
    std::erase_if(out.deviations, [&](const Deviation& d) { return d.op == op; });
  }
  out.summary = state.summary + " (without: " + cause.text + ")";
  return out;
}

}  // namespace faultfs::crash
