// Path globs for policies, matched against paths relative to the mount root ("db/wal/000001.log").
// A pattern is a sequence of '/'-separated segments, matched segment by segment:
//   **      a whole segment: zero or more path segments ("**/x" matches "x" and "a/b/x")
//   *       any characters within one segment (never '/')
//   ?       one character within a segment
//   [abc]   one of the characters; [a-z] ranges; [!abc] negation
//   {a,b}   one of the alternatives (may hold the other syntax; not nested)
// A glob is compiled once (alternatives expanded, segments split) and matched without allocation,
// in time bounded by the pattern's and the path's lengths however many '*' and '**' it has. Its
// size and expansion are capped (limits.h): "{a,b}" repeated 40 times would be 2^40 patterns.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "faultfs/core/status.h"

namespace faultfs::policy {

class Glob {
 public:
  static Result<Glob> Compile(std::string_view pattern);
  bool Matches(std::string_view path) const;
  const std::string& pattern() const { return pattern_; }
  // The patterns the {..} alternatives expand to, and their bytes in all (for PatternBudget).
  size_t alternatives() const { return alternatives_.size(); }
  size_t expanded_bytes() const { return expanded_bytes_; }

  // For indexing rules: the literal first segment every match starts with (e.g. "db" for
  // "db/**"), or "" if the pattern can start otherwise; and the extension every match ends with
  // (e.g. ".wal" for "**/*.wal"), or "".
  std::vector<std::string> FirstSegments() const;  // one per alternative, "" if not literal
  std::vector<std::string> Extensions() const;     // one per alternative, "" if not an extension

 private:
  using Segments = std::vector<std::string>;
  struct Alternative {
    Segments segments;
    std::string prefix;  // literal characters every match starts with
    std::string suffix;  // literal characters every match ends with
  };
  std::string pattern_;
  std::vector<Alternative> alternatives_;  // the pattern with {..} expanded, split at '/'
  size_t expanded_bytes_ = 0;
};

}  // namespace faultfs::policy
