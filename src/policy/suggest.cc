#include "suggest.h"

#include <algorithm>
#include <cctype>
#include <numeric>

namespace faultfs::policy {
namespace {

constexpr size_t kMaxWord = 64;

char Lower(char c) { return static_cast<char>(std::tolower(static_cast<unsigned char>(c))); }

// Edits (insert, delete, substitute, swap two neighbours) from a to b, ignoring case.
size_t Distance(std::string_view a, std::string_view b) {
  std::vector<std::vector<size_t>> d(a.size() + 1, std::vector<size_t>(b.size() + 1));
  for (size_t i = 0; i <= a.size(); ++i) d[i][0] = i;
  std::iota(d[0].begin(), d[0].end(), size_t{0});
  for (size_t i = 1; i <= a.size(); ++i) {
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t cost = Lower(a[i - 1]) == Lower(b[j - 1]) ? 0 : 1;
      d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost});
      if (i > 1 && j > 1 && Lower(a[i - 1]) == Lower(b[j - 2]) &&
          Lower(a[i - 2]) == Lower(b[j - 1]))
        d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
    }
  }
  return d[a.size()][b.size()];
}

}  // namespace

std::string DidYouMean(std::string_view given, const std::vector<std::string_view>& known) {
  if (given.empty() || given.size() > kMaxWord) return "";
  // Up to 1 edit for short words, 2 from 5 characters: "wrte" -> "write", not "ab" -> "rm".
  const size_t allowed = given.size() < 5 ? 1 : 2;
  std::string_view best;
  size_t best_distance = allowed + 1;
  for (std::string_view word : known) {
    if (word.size() > kMaxWord) continue;
    const size_t d = Distance(given, word);
    if (d < best_distance) {
      best = word;
      best_distance = d;
    }
  }
  return best.empty() ? "" : "; did you mean '" + std::string(best) + "'?";
}

}  // namespace faultfs::policy
