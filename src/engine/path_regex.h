// An anchored path regex with the literal text every match must begin and end with. std::regex
// costs 50 ns to 1 µs even to reject a path; the literals reject most paths in a few ns. A prefix
// reaching past the first '/' names the one first segment the rule can match, and a suffix like
// ".wal" the one extension, so the engine's index can place the rule like a glob.
#pragma once

#include <regex>
#include <string>
#include <string_view>

#include "faultfs/core/status.h"

namespace faultfs::engine {

// The literal text at the start of every string `pattern` (ECMAScript, matched whole) matches;
// "" when it cannot tell (alternation, a class or a quantified character first...).
std::string RegexLiteralPrefix(std::string_view pattern);
// The same at the end.
std::string RegexLiteralSuffix(std::string_view pattern);

class PathRegex {
 public:
  static Result<PathRegex> Compile(const std::string& pattern);
  bool Matches(std::string_view path) const {
    return path.starts_with(prefix_) && path.ends_with(suffix_) &&
           std::regex_match(path.begin(), path.end(), re_);
  }
  // The first path segment every match has, or "" when it is not fixed.
  std::string FirstSegment() const;
  // The extension (".wal") every match has, or "" when it is not fixed.
  std::string Extension() const;

 private:
  PathRegex(std::regex re, std::string prefix, std::string suffix)
      : re_(std::move(re)), prefix_(std::move(prefix)), suffix_(std::move(suffix)) {}
  std::regex re_;
  std::string prefix_;
  std::string suffix_;
};

}  // namespace faultfs::engine
