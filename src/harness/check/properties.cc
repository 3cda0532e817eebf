// The checker's properties, one function each (docs/harness.md, "The checker"; checker.h says
// what each violation means).
#include <algorithm>
#include <map>
#include <set>

#include "analysis.h"

namespace faultfs::harness::check {

namespace {

Violation About(std::string kind, const Observation& o, std::vector<std::string> values,
                std::string detail) {
  return {std::move(kind),    o.index,           o.op->end->index,
          o.op->end->process, std::move(values), std::move(detail)};
}

// What each readable node holds at `index`, in words ("node 0: '<value>', node 1: nothing").
std::string WhatNodesHold(const Analysis& a, int64_t index) {
  std::string out;
  for (const NodeLogState* n : a.readable) {
    if (!out.empty()) out += ", ";
    const LogEntryState* e = Held(*n, index);
    out += "node " + std::to_string(n->node) + ": " +
           (e ? "'" + Printable(e->value) + "'" : "nothing");
  }
  return out.empty() ? "no node's log was read" : out;
}

}  // namespace

void CheckLostAppends(const Analysis& a, CheckResult& result) {
  if (a.readable.empty()) return;  // nothing to look in: unavailable, not unsafe
  for (const Observation& o : a.observations) {
    if (o.is_read || Holders(a, o.index, o.value) > 0) continue;
    AddViolation(result, About("lost_append", o, {o.value},
                               "acknowledged at index " + std::to_string(o.index) +
                                   ", held there by no node (" + WhatNodesHold(a, o.index) + ")"));
  }
}

void CheckConflictingValues(const Analysis& a, CheckResult& result) {
  std::map<int64_t, std::vector<const Observation*>> by_index;
  for (const Observation& o : a.observations)
    if (!o.damaged) by_index[o.index].push_back(&o);
  for (const auto& [index, seen] : by_index) {
    std::set<std::string> values;
    for (const Observation* o : seen) values.insert(o->value);
    if (values.size() < 2) continue;
    // The example names the first observation that disagreed with the first one.
    const std::string& first = seen[0]->value;
    const Observation* second = *std::find_if(
        seen.begin(), seen.end(), [&first](const Observation* o) { return o->value != first; });
    AddViolation(result, About("conflicting_values", *second, {values.begin(), values.end()},
                               std::to_string(values.size()) + " values committed at index " +
                                   std::to_string(index)));
  }
}

namespace {

using AcksByIndex = std::multimap<int64_t, const Observation*>;

// A read that returned something other than what was acknowledged at its index before it began.
void CheckStale(const AcksByIndex& acks, const Observation& read, CheckResult& result) {
  for (auto [it, end] = acks.equal_range(read.index); it != end; ++it) {
    const Observation& ack = *it->second;
    if (ack.value == read.value) continue;
    if (ack.op->end->time_ns >= read.op->invoke->time_ns) continue;  // concurrent: not "after"
    AddViolation(result, About("stale_read", read, {read.value, ack.value},
                               "read index " + std::to_string(read.index) + " after '" +
                                   Printable(ack.value) + "' was acknowledged there (op " +
                                   std::to_string(ack.op->end->index) + ")"));
    return;
  }
}

// A read that returned a value that was never committed there.
void CheckUncommitted(const Analysis& a, const Observation& read, CheckResult& result) {
  auto it = a.append_of.find(read.value);
  if (it != a.append_of.end() && it->second->outcome() == OpType::kOk &&
      it->second->end->log_index == read.index)
    return;  // acknowledged there: if it is gone, lost_append says so
  std::string why;
  if (it == a.append_of.end()) {
    why = "no client ever appended it";
  } else if (it->second->outcome() == OpType::kFail) {
    why = "its append failed (op " + std::to_string(it->second->end->index) + ")";
  } else if (!a.readable.empty() && Holders(a, read.index, read.value) == 0) {
    why = "no node holds it there at the end (" + WhatNodesHold(a, read.index) + ")";
  } else {
    return;
  }
  AddViolation(result, About("uncommitted_read", read, {read.value},
                             "read at index " + std::to_string(read.index) + ": " + why));
}

}  // namespace

void CheckReads(const Analysis& a, CheckResult& result) {
  AcksByIndex acks;
  for (const Observation& o : a.observations)
    if (!o.is_read) acks.emplace(o.index, &o);
  for (const Observation& o : a.observations) {
    if (!o.is_read) continue;
    if (o.damaged) {
      AddViolation(result,
                   About("damaged_read", o, {o.value},
                         "read at index " + std::to_string(o.index) + ": its checksum fails"));
      continue;
    }
    CheckStale(acks, o, result);
    CheckUncommitted(a, o, result);
  }
}

void CheckDoubleApply(const Analysis& a, CheckResult& result) {
  // (client, req) -> the indexes it was applied at, and where that was seen.
  std::map<std::pair<int64_t, int64_t>, std::pair<std::set<int64_t>, std::string>> applied;
  for (const NodeLogState* n : a.readable) {
    std::map<std::pair<int64_t, int64_t>, int64_t> first_at;
    for (size_t i = 0; i < n->entries.size(); ++i) {
      const LogEntryState& e = n->entries[i];
      if (!e.present || !e.verified || e.client < 0) continue;  // client < 0: a leader's no-op
      const auto index = static_cast<int64_t>(i + 1);
      auto [it, fresh] = first_at.try_emplace({e.client, e.req}, index);
      if (fresh) continue;
      auto& [indexes, where] = applied[{e.client, e.req}];
      indexes.insert({it->second, index});
      if (where.empty()) where = "node " + std::to_string(n->node) + "'s log";
    }
  }
  std::map<std::string, std::set<int64_t>> committed_at;  // value -> indexes observed
  for (const Observation& o : a.observations)
    if (!o.damaged) committed_at[o.value].insert(o.index);
  for (const auto& [value, indexes] : committed_at) {
    if (indexes.size() < 2) continue;
    const std::optional<ParsedValue> p = VerifyValue(value);
    auto& [all, where] = applied[{p->client, p->req}];
    all.insert(indexes.begin(), indexes.end());
    if (where.empty()) where = "the clients' observations";
  }
  for (const auto& [key, seen] : applied) {
    const auto& [indexes, where] = seen;
    std::string list;
    for (int64_t i : indexes) list += (list.empty() ? "" : ", ") + std::to_string(i);
    AddViolation(result,
                 {"double_apply",
                  *indexes.begin(),
                  -1,
                  key.first,
                  {},
                  "request (client " + std::to_string(key.first) + ", req " +
                      std::to_string(key.second) + ") at indexes " + list + " in " + where});
  }
}

void CheckConvergence(const Analysis& a, CheckResult& result) {
  for (int64_t index = 1; index <= a.horizon; ++index) {
    const LogEntryState* first = nullptr;
    bool diverged = false;
    for (const NodeLogState* n : a.readable) {
      const LogEntryState* e = Held(*n, index);
      if (!e) {
        ++result.unconverged_slots;
        continue;
      }
      if (!first)
        first = e;
      else
        diverged = diverged || e->client != first->client || e->req != first->req ||
                   e->value != first->value;
    }
    if (!diverged) continue;
    std::vector<std::string> values;
    for (const NodeLogState* n : a.readable)
      if (const LogEntryState* e = Held(*n, index)) values.push_back(e->value);
    AddViolation(result, {"divergence", index, -1, -1, values,
                          "nodes hold different entries at committed index " +
                              std::to_string(index) + " (" + WhatNodesHold(a, index) + ")"});
  }
}

}  // namespace faultfs::harness::check
