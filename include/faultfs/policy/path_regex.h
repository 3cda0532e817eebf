// Path regexes for policies (`path_regex`): RE2 syntax, matched against the whole path relative
// to the mount root. RE2 runs in time linear in the path, so no pattern can stall an operation.
// A regex also carries the literal text every match begins and ends with: checking those first
// rejects most paths in a few ns, and when they fix the first segment ("db/...") or the extension
// (".*\.wal") the engine indexes the rule like a glob.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "faultfs/core/status.h"

namespace re2 {
class RE2;
}

namespace faultfs::policy {

// The literal text at the start (end) of every string `pattern` matches whole; "" when it cannot
// tell (alternation, flags, a class or an optional character first...). Never too long.
std::string RegexLiteralPrefix(std::string_view pattern);
std::string RegexLiteralSuffix(std::string_view pattern);

class PathRegex {
 public:
  static Result<PathRegex> Compile(const std::string& pattern);
  PathRegex(PathRegex&&) noexcept;
  PathRegex& operator=(PathRegex&&) noexcept;
  ~PathRegex();

  bool Matches(std::string_view path) const;
  const std::string& pattern() const { return pattern_; }
  // The first path segment every match has, or "" when it is not fixed.
  std::string FirstSegment() const;
  // The extension (".wal") every match has, or "" when it is not fixed.
  std::string Extension() const;

 private:
  PathRegex(std::string pattern, std::unique_ptr<const re2::RE2> re);
  std::string pattern_;
  std::unique_ptr<const re2::RE2> re_;
  std::string prefix_;
  std::string suffix_;
};

}  // namespace faultfs::policy
