#include "faultfs/policy/path_regex.h"

#include <re2/re2.h>

#include <cctype>

#include "faultfs/policy/limits.h"

namespace faultfs::policy {

namespace {

// Alternatives share no start or end; flags such as (?i) change what a literal matches.
bool HasNoFixedLiterals(std::string_view pattern) {
  return pattern.find('|') != std::string_view::npos ||
         pattern.find("(?") != std::string_view::npos;
}

}  // namespace

std::string RegexLiteralPrefix(std::string_view pattern) {
  if (HasNoFixedLiterals(pattern)) return "";
  size_t i = pattern.starts_with('^') ? 1 : 0;
  std::string prefix;
  while (i < pattern.size()) {
    char literal = pattern[i];
    if (std::string_view(".[]()*+?{}^$").find(literal) != std::string_view::npos) break;
    if (literal == '\\') {
      // An escaped punctuation character is itself; \d, \w, \b, \1 ... are not literals.
      if (i + 1 >= pattern.size() || std::isalnum(static_cast<unsigned char>(pattern[i + 1])))
        break;
      literal = pattern[i + 1];
      i += 2;
    } else {
      i += 1;
    }
    if (i < pattern.size()) {
      const char next = pattern[i];
      if (next == '*' || next == '?' || next == '{') break;  // the character may be absent
      if (next == '+') {                                     // present at least once
        prefix += literal;
        break;
      }
    }
    prefix += literal;
  }
  return prefix;
}

std::string RegexLiteralSuffix(std::string_view pattern) {
  if (HasNoFixedLiterals(pattern)) return "";
  // Whether the character at i is escaped: an odd number of backslashes before it.
  auto escaped = [&](size_t i) {
    size_t n = 0;
    while (i > n && pattern[i - n - 1] == '\\') ++n;
    return n % 2 == 1;
  };
  size_t end = pattern.size();
  if (end > 0 && pattern[end - 1] == '$' && !escaped(end - 1)) --end;
  std::string reversed;
  while (end > 0) {
    const size_t i = end - 1;
    const char c = pattern[i];
    if (escaped(i)) {
      if (std::isalnum(static_cast<unsigned char>(c))) break;  // \d, \w ...: a class
      reversed += c;
      end -= 2;
      continue;
    }
    // Quantifiers follow their atom, so meeting one here ends the fixed tail.
    if (c == '\\' || std::string_view(".[]()*+?{}^$").find(c) != std::string_view::npos) break;
    reversed += c;
    end -= 1;
  }
  return {reversed.rbegin(), reversed.rend()};
}

Result<PathRegex> PathRegex::Compile(const std::string& pattern) {
  if (pattern.size() > kMaxPatternBytes) {
    return Status::Invalid("longer than " + std::to_string(kMaxPatternBytes) + " bytes");
  }
  RE2::Options options;
  options.set_log_errors(false);
  // Bounds the compiled program and the match-time caches of this regex; a pattern that needs
  // more ("a{1000}" nested) fails to compile instead of taking the memory.
  options.set_max_mem(kRegexMaxMemBytes);
  auto re = std::make_unique<const RE2>(pattern, options);
  if (!re->ok()) return Status::Invalid(re->error());
  return PathRegex(pattern, std::move(re));
}

PathRegex::PathRegex(std::string pattern, std::unique_ptr<const re2::RE2> re)
    : pattern_(std::move(pattern)),
      re_(std::move(re)),
      prefix_(RegexLiteralPrefix(pattern_)),
      suffix_(RegexLiteralSuffix(pattern_)) {}
PathRegex::PathRegex(PathRegex&&) noexcept = default;
PathRegex& PathRegex::operator=(PathRegex&&) noexcept = default;
PathRegex::~PathRegex() = default;

bool PathRegex::Matches(std::string_view path) const {
  return path.starts_with(prefix_) && path.ends_with(suffix_) &&
         RE2::FullMatch(re2::StringPiece(path.data(), path.size()), *re_);
}

std::string PathRegex::FirstSegment() const {
  const size_t slash = prefix_.find('/');
  return slash == std::string::npos ? "" : prefix_.substr(0, slash);
}

std::string PathRegex::Extension() const {
  // A path ending in the suffix has its extension there when the suffix's last dot is followed
  // by neither '/' nor another dot.
  const size_t dot = suffix_.rfind('.');
  if (dot == std::string::npos || suffix_.find('/', dot) != std::string::npos) return "";
  return suffix_.substr(dot);
}

}  // namespace faultfs::policy
