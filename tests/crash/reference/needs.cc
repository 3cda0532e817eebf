#include "reference/needs.h"

#include <algorithm>

namespace faultfs::crash::reference {

namespace {

bool ChangesEntry(const Step& s, const Entry& e) {
  return std::any_of(s.changes.begin(), s.changes.end(),
                     [&](const Change& c) { return c.entry == e; });
}

bool ChangesEntryIn(const Step& s, ObjId dir) {
  return std::any_of(s.changes.begin(), s.changes.end(),
                     [&](const Change& c) { return c.entry.dir == dir; });
}

// The four rules, without transitivity.
bool NeedsDirectly(const History& h, size_t j, size_t i) {
  const Step& sj = h.step(j);
  const Step& si = h.step(i);
  for (const Change& c : sj.changes) {
    if (ChangesEntry(si, c.entry)) return true;  // rule 1
  }
  if (sj.removed_dir != kNoObject && ChangesEntryIn(si, sj.removed_dir)) return true;  // rule 2
  for (const auto& [entry, obj] : sj.source_path) {
    if (ChangesEntry(si, entry)) return true;  // rule 3 (empty unless j is a link or rename)
  }
  for (const Entry& entry : sj.dest_path) {
    if (ChangesEntry(si, entry)) return true;  // rule 4 (empty unless j renames a directory)
  }
  return false;
}

}  // namespace

Needs::Needs(const History& h) : needs_(h.size(), std::vector<bool>(h.size(), false)) {
  const size_t n = h.size();
  for (size_t j = 0; j < n; ++j) {
    if (!IsEntryOp(h.op(j))) continue;
    for (size_t i = 0; i < j; ++i) {
      if (IsEntryOp(h.op(i))) needs_[j][i] = NeedsDirectly(h, j, i);
    }
  }
  // Transitive closure, in log order: what i needs is earlier than i, so it is complete when j
  // looks at it.
  for (size_t j = 0; j < n; ++j) {
    for (size_t i = j; i-- > 0;) {
      if (!needs_[j][i]) continue;
      for (size_t k = 0; k < i; ++k) {
        if (needs_[i][k]) needs_[j][k] = true;
      }
    }
  }
}

}  // namespace faultfs::crash::reference
