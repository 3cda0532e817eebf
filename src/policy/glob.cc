#include "faultfs/policy/glob.h"

#include <algorithm>
#include <array>

#include "faultfs/policy/limits.h"

namespace faultfs::policy {

namespace {

// One character class at p[0] == '['. Returns the length of the class (through ']'), or 0 if it
// is unterminated; `matched` says whether c belongs to it.
size_t MatchClass(std::string_view p, char c, bool& matched) {
  size_t i = 1;
  const bool negate = i < p.size() && (p[i] == '!' || p[i] == '^');
  if (negate) ++i;
  bool in = false;
  for (bool first = true; i < p.size() && (p[i] != ']' || first); ++i, first = false) {
    if (i + 2 < p.size() && p[i + 1] == '-' && p[i + 2] != ']') {
      in = in || (c >= p[i] && c <= p[i + 2]);
      i += 2;
    } else {
      in = in || c == p[i];
    }
  }
  if (i >= p.size()) return 0;
  matched = in != negate;
  return i + 1;
}

// Wildcards within one segment: '*' with single-star backtracking (linear in practice).
bool MatchSegment(std::string_view p, std::string_view s) {
  size_t pi = 0, si = 0;
  size_t star_p = std::string_view::npos, star_s = 0;
  while (si < s.size()) {
    if (pi < p.size() && p[pi] == '*') {
      while (pi < p.size() && p[pi] == '*') ++pi;
      star_p = pi;
      star_s = si;
      continue;
    }
    if (pi < p.size()) {
      if (p[pi] == '?') {
        ++pi;
        ++si;
        continue;
      }
      if (p[pi] == '[') {
        bool matched = false;
        const size_t len = MatchClass(p.substr(pi), s[si], matched);
        if (len != 0 && matched) {
          pi += len;
          ++si;
          continue;
        }
      } else if (p[pi] == s[si]) {
        ++pi;
        ++si;
        continue;
      }
    }
    if (star_p == std::string_view::npos) return false;
    pi = star_p;
    si = ++star_s;
  }
  while (pi < p.size() && p[pi] == '*') ++pi;
  return pi == p.size();
}

// Path segments by position; paths deeper than kMaxDepth segments never match.
constexpr size_t kMaxDepth = 256;
struct PathSegments {
  std::array<std::string_view, kMaxDepth> seg;
  size_t n = 0;
};

// Segment by segment, the way MatchSegment treats '*' within one: "**" takes any run of
// segments, and on a mismatch the last "**" seen takes one segment more. At most
// pattern x path segment comparisons, however many "**" the pattern has (trying every split for
// each "**" would take time exponential in their number).
bool MatchSegments(const std::vector<std::string>& pat, const PathSegments& path) {
  size_t i = 0, j = 0;
  size_t star_i = std::string::npos, star_j = 0;
  while (j < path.n) {
    if (i < pat.size() && pat[i] == "**") {
      star_i = ++i;
      star_j = j;
      continue;
    }
    if (i < pat.size() && MatchSegment(pat[i], path.seg[j])) {
      ++i;
      ++j;
      continue;
    }
    if (star_i == std::string::npos) return false;
    i = star_i;
    j = ++star_j;
  }
  while (i < pat.size() && pat[i] == "**") ++i;
  return i == pat.size();
}

Status ValidateSegment(std::string_view seg) {
  for (size_t i = 0; i < seg.size(); ++i) {
    bool unused = false;
    if (seg[i] == '[' && MatchClass(seg.substr(i), 'x', unused) == 0) {
      return Status::Invalid("unterminated '[' in '" + std::string(seg) + "'");
    }
  }
  return Status::Ok();
}

std::vector<std::string> Split(std::string_view p) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= p.size()) {
    const size_t slash = p.find('/', start);
    const std::string_view seg =
        p.substr(start, slash == std::string_view::npos ? std::string_view::npos : slash - start);
    if (!seg.empty()) out.emplace_back(seg);
    if (slash == std::string_view::npos) break;
    start = slash + 1;
  }
  return out;
}

// Where the {..} groups of a pattern are; checks that they are balanced and not nested.
Status FindGroups(std::string_view pattern, std::vector<std::pair<size_t, size_t>>& groups) {
  size_t open = std::string_view::npos;
  for (size_t i = 0; i < pattern.size(); ++i) {
    if (pattern[i] == '{') {
      if (open != std::string_view::npos) return Status::Invalid("nested '{' is not supported");
      open = i;
    } else if (pattern[i] == '}') {
      if (open == std::string_view::npos) return Status::Invalid("unbalanced '{' and '}'");
      groups.emplace_back(open, i);
      open = std::string_view::npos;
    }
  }
  if (open != std::string_view::npos) return Status::Invalid("unbalanced '{' and '}'");
  return Status::Ok();
}

// How many patterns the groups expand to, counted before anything is expanded; stops counting
// past the limit, so that 2^40 never has to be represented.
Status CheckExpansion(std::string_view pattern,
                      const std::vector<std::pair<size_t, size_t>>& groups) {
  size_t count = 1;
  for (const auto& [open, close] : groups) {
    const std::string_view body = pattern.substr(open + 1, close - open - 1);
    count *= static_cast<size_t>(std::count(body.begin(), body.end(), ',')) + 1;
    if (count > kMaxGlobAlternatives) {
      return Status::Invalid("its {..} alternatives expand to more than " +
                             std::to_string(kMaxGlobAlternatives) + " patterns");
    }
  }
  return Status::Ok();
}

// Expands the groups from `g` on into plain patterns, `prefix` being what comes before.
void Expand(std::string_view pattern, const std::vector<std::pair<size_t, size_t>>& groups,
            size_t g, std::string prefix, std::vector<std::string>& out) {
  const size_t from = g == 0 ? 0 : groups[g - 1].second + 1;
  if (g == groups.size()) {
    out.push_back(prefix.append(pattern.substr(from)));
    return;
  }
  prefix.append(pattern.substr(from, groups[g].first - from));
  const std::string_view body =
      pattern.substr(groups[g].first + 1, groups[g].second - groups[g].first - 1);
  for (size_t start = 0;;) {
    const size_t comma = body.find(',', start);
    Expand(pattern, groups, g + 1, prefix + std::string(body.substr(start, comma - start)), out);
    if (comma == std::string_view::npos) break;
    start = comma + 1;
  }
}

bool IsWild(char c) { return c == '*' || c == '?' || c == '['; }

// Literal characters every match starts with. A "**" segment may match nothing, so the '/' in
// front of it is not part of the prefix ("db/**" matches "db").
std::string LiteralPrefix(const std::vector<std::string>& segs) {
  std::string out;
  for (size_t i = 0; i < segs.size() && segs[i] != "**"; ++i) {
    const std::string& seg = segs[i];
    size_t n = 0;
    while (n < seg.size() && !IsWild(seg[n])) ++n;
    out += seg.substr(0, n);
    if (n < seg.size()) return out;
    if (i + 1 < segs.size() && segs[i + 1] != "**") out += '/';
  }
  return out;
}

// Literal characters every match ends with: the literal tail of the last segment (a class or star
// ends it; "**" has none).
std::string LiteralSuffix(const std::vector<std::string>& segs) {
  if (segs.empty()) return "";
  const std::string& last = segs.back();
  size_t n = last.size();
  while (n > 0 && !IsWild(last[n - 1]) && last[n - 1] != ']') --n;
  return last.substr(n);
}

}  // namespace

Result<Glob> Glob::Compile(std::string_view pattern) {
  if (pattern.empty()) return Status::Invalid("empty glob");
  if (pattern.front() == '/')
    return Status::Invalid("globs are relative to the mount root: drop the leading '/'");
  if (pattern.size() > kMaxPatternBytes) {
    return Status::Invalid("longer than " + std::to_string(kMaxPatternBytes) + " bytes");
  }
  std::vector<std::pair<size_t, size_t>> groups;
  FAULTFS_RETURN_IF_ERROR(FindGroups(pattern, groups));
  FAULTFS_RETURN_IF_ERROR(CheckExpansion(pattern, groups));
  std::vector<std::string> expanded;
  Expand(pattern, groups, 0, "", expanded);
  Glob g;
  g.pattern_ = std::string(pattern);
  for (const auto& alt : expanded) g.expanded_bytes_ += alt.size();
  if (g.expanded_bytes_ > kMaxGlobExpandedBytes) {
    return Status::Invalid("its {..} alternatives expand to more than " +
                           std::to_string(kMaxGlobExpandedBytes >> 10) + " KiB");
  }
  for (const auto& alt : expanded) {
    Segments segs = Split(alt);
    for (const auto& seg : segs) FAULTFS_RETURN_IF_ERROR(ValidateSegment(seg));
    Alternative a;
    a.prefix = LiteralPrefix(segs);
    a.suffix = LiteralSuffix(segs);
    a.segments = std::move(segs);
    g.alternatives_.push_back(std::move(a));
  }
  return g;
}

std::vector<std::string> Glob::FirstSegments() const {
  std::vector<std::string> out;
  for (const auto& a : alternatives_) {
    const bool literal = !a.segments.empty() && a.segments[0] != "**" &&
                         std::none_of(a.segments[0].begin(), a.segments[0].end(), IsWild);
    out.push_back(literal ? a.segments[0] : "");
  }
  return out;
}

std::vector<std::string> Glob::Extensions() const {
  std::vector<std::string> out;
  for (const auto& a : alternatives_) {
    // "*.wal" as the last segment: the match's last segment ends with ".wal" and that is its
    // extension only when the literal tail is a '.' followed by no other '.'.
    const bool ext = a.suffix.size() > 1 && a.suffix[0] == '.' &&
                     a.suffix.find('.', 1) == std::string::npos && !a.segments.empty() &&
                     a.segments.back().size() > a.suffix.size() &&
                     a.segments.back()[a.segments.back().size() - a.suffix.size() - 1] == '*';
    out.push_back(ext ? a.suffix : "");
  }
  return out;
}

bool Glob::Matches(std::string_view path) const {
  PathSegments segs;
  size_t start = 0;
  while (start <= path.size()) {
    const size_t slash = path.find('/', start);
    const std::string_view seg = path.substr(
        start, slash == std::string_view::npos ? std::string_view::npos : slash - start);
    if (!seg.empty()) {
      if (segs.n == kMaxDepth) return false;
      segs.seg[segs.n++] = seg;
    }
    if (slash == std::string_view::npos) break;
    start = slash + 1;
  }
  for (const auto& alt : alternatives_) {
    // Cheap literal checks first: most non-matching paths fail here.
    if (path.size() < alt.prefix.size() || path.compare(0, alt.prefix.size(), alt.prefix) != 0)
      continue;
    if (path.size() < alt.suffix.size() ||
        path.compare(path.size() - alt.suffix.size(), alt.suffix.size(), alt.suffix) != 0)
      continue;
    if (MatchSegments(alt.segments, segs)) return true;
  }
  return false;
}

}  // namespace faultfs::policy
