// "What an op needs" (docs/persistence-models.md), computed from the resolved history: op j needs
// op i (i < j, both entry ops) when they change the same entry (rule 1), when j removes a directory
// in which i changed an entry (rule 2), when j is a link or rename and i changed an entry on the
// way to j's source (rule 3); and transitively.
#pragma once

#include <cstddef>
#include <vector>

#include "reference/history.h"

namespace faultfs::crash::reference {

class Needs {
 public:
  explicit Needs(const History& history);
  // Whether op j needs op i (transitively); false unless both are entry ops and i < j.
  bool operator()(size_t j, size_t i) const { return needs_[j][i]; }
  size_t size() const { return needs_.size(); }

 private:
  std::vector<std::vector<bool>> needs_;
};

}  // namespace faultfs::crash::reference
