// The parser's typed values: each reads one TOML value, and on a wrong one records an error
// at its position and returns nothing, so that parsing goes on and every problem is reported.
#include <cmath>
#include <sstream>

#include "faultfs/core/errno_names.h"
#include "faultfs/core/join.h"
#include "parser.h"
#include "suggest.h"

namespace faultfs::policy {

// Past kMaxErrors, one last error says so: a hostile text must not make a list (or a control
// reply) that grows with every line of it.
void Parser::Error(const toml::source_region& where, std::string message) {
  if (errors_.size() > kMaxErrors) return;
  if (errors_.size() == kMaxErrors) message = "too many errors; the rest are not reported";
  errors_.push_back({std::string(name_), where.begin.line, where.begin.column, std::move(message)});
}

void Parser::CheckKeys(const toml::table& table, const std::vector<std::string_view>& allowed,
                       const std::string& where) {
  for (const auto& [key, value] : table) {
    bool known = false;
    for (auto a : allowed) known = known || key.str() == a;
    if (known) continue;
    Error(value, "unknown key '" + std::string(key.str()) + "' in " + where +
                     DidYouMean(key.str(), allowed) + " (expected one of: " + Join(allowed) + ")");
  }
}

const toml::table* Parser::Table(const toml::node& node, const std::string& what) {
  if (const auto* t = node.as_table()) return t;
  Error(node, what + " must be a table");
  return nullptr;
}

// A finite number. Integers too, even those a double cannot hold exactly (2^63-1): the checks
// that follow are about range, and nan or inf would pass every comparison they make.
std::optional<double> Parser::Number(const toml::node& node, const std::string& what) {
  std::optional<double> v;
  if (const auto* i = node.as_integer()) {
    v = static_cast<double>(i->get());
  } else if (const auto* f = node.as_floating_point()) {
    v = f->get();
  }
  if (!v) {
    Error(node, what + " must be a number");
  } else if (!std::isfinite(*v)) {
    Error(node, what + " must be a finite number, got " + FormatNumber(*v));
    v.reset();
  }
  return v;
}

// A number in [0, max].
std::optional<double> Parser::AtMost(const toml::node& node, const std::string& what, double max,
                                     const std::string& max_in_words) {
  const auto v = NonNegative(node, what);
  if (v && *v > max) {
    Error(node, what + " must be at most " + max_in_words + ", got " + FormatNumber(*v));
    return std::nullopt;
  }
  return v;
}

std::optional<double> Parser::NonNegative(const toml::node& node, const std::string& what) {
  const auto v = Number(node, what);
  if (v && *v < 0) {
    Error(node, what + " must be >= 0, got " + FormatNumber(*v));
    return std::nullopt;
  }
  return v;
}

std::optional<uint64_t> Parser::Count(const toml::node& node, const std::string& what) {
  const auto* i = node.as_integer();
  if (i == nullptr || i->get() < 0) {
    Error(node, what + " must be a whole number >= 0");
    return std::nullopt;
  }
  return static_cast<uint64_t>(i->get());
}

std::optional<uint64_t> Parser::Positive(const toml::node& node, const std::string& what) {
  const auto v = Count(node, what);
  if (v && *v == 0) {
    Error(node, what + " must be >= 1");
    return std::nullopt;
  }
  return v;
}

std::optional<uint64_t> Parser::Bytes(const toml::node& node, const std::string& what) {
  if (node.is_integer()) return Count(node, what);
  if (const auto s = node.value<std::string>()) {
    if (auto b = ParseBytes(*s)) return b;
    Error(node, what + ": '" + *s + "' is not a size (write bytes, or e.g. \"64 KiB\", \"1 MiB\")");
    return std::nullopt;
  }
  Error(node, what + " must be a size (bytes, or a string such as \"64 KiB\")");
  return std::nullopt;
}

std::optional<std::string> Parser::String(const toml::node& node, const std::string& what) {
  if (const auto s = node.value<std::string>()) return *s;
  Error(node, what + " must be a string");
  return std::nullopt;
}

// A string or an array of strings.
std::vector<std::pair<std::string, const toml::node*>> Parser::Strings(const toml::node& node,
                                                                       const std::string& what) {
  std::vector<std::pair<std::string, const toml::node*>> out;
  if (const auto s = node.value<std::string>()) {
    out.emplace_back(*s, &node);
  } else if (const auto* arr = node.as_array()) {
    for (const auto& item : *arr) {
      if (const auto s2 = item.value<std::string>()) {
        out.emplace_back(*s2, &item);
      } else {
        Error(item, what + " must hold strings");
      }
    }
  } else {
    Error(node, what + " must be a string or an array of strings");
  }
  return out;
}

std::optional<Range> Parser::RangeOf(const toml::node& node, const std::string& what, bool bytes) {
  const auto* arr = node.as_array();
  if (arr == nullptr || arr->size() != 2) {
    Error(node, what + " must be [low, high] (low inclusive, high exclusive)");
    return std::nullopt;
  }
  const auto lo = bytes ? Bytes(*arr->get(0), what + " low") : Count(*arr->get(0), what + " low");
  const auto hi = bytes ? Bytes(*arr->get(1), what + " high") : Count(*arr->get(1), what + " high");
  if (!lo || !hi) return std::nullopt;
  if (*lo >= *hi) {
    Error(node, what + " is empty: low (" + std::to_string(*lo) + ") must be below high (" +
                    std::to_string(*hi) + ")");
    return std::nullopt;
  }
  return Range{*lo, *hi};
}

std::optional<int> Parser::ErrnoOf(const toml::node& node, const std::string& what) {
  const auto name = String(node, what);
  if (!name) return std::nullopt;
  if (const auto code = ErrnoFromName(*name)) return *code;
  Error(node, what + ": unknown errno '" + *name + "'" + DidYouMean(*name, ErrnoNames()) +
                  " (expected a name such as EIO, ENOSPC)");
  return std::nullopt;
}

std::string Parser::FormatNumber(double v) {
  std::ostringstream s;
  s << v;
  return s.str();
}

}  // namespace faultfs::policy
