// A strict reader for the EDN subset the harness writes (maps with keyword keys, keywords,
// integers, strings with EDN's escapes, vectors, nil), so tests can prove the history parses.
// Anything outside it fails to parse.
#pragma once

#include <cctype>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace faultfs::harness::testing {

struct Edn {
  enum class Kind { kNil, kInteger, kString, kKeyword, kVector, kMap } kind = Kind::kNil;
  int64_t integer = 0;
  std::string text;  // string contents, or the keyword with its ':'
  std::vector<Edn> items;
  std::map<std::string, Edn> map;  // keyword -> value
  const Edn& at(const std::string& key) const { return map.at(key); }
  static Edn Of(Kind k) {
    Edn e;
    e.kind = k;
    return e;
  }
};

class EdnReader {
 public:
  explicit EdnReader(std::string_view in) : in_(in) {}
  std::optional<Edn> Whole() {
    auto v = Value();
    Skip();
    if (!v || pos_ != in_.size()) return std::nullopt;
    return v;
  }

 private:
  void Skip() {
    while (pos_ < in_.size() &&
           (std::isspace(static_cast<unsigned char>(in_[pos_])) || in_[pos_] == ','))
      ++pos_;
  }
  bool Eat(char c) {
    Skip();
    if (pos_ < in_.size() && in_[pos_] == c) return ++pos_, true;
    return false;
  }
  std::optional<Edn> Value() {
    Skip();
    if (pos_ >= in_.size()) return std::nullopt;
    const char c = in_[pos_];
    if (c == '{') return Map();
    if (c == '[') return Vector();
    if (c == '"') return String();
    if (c == ':') return Keyword();
    if (c == '-' || std::isdigit(static_cast<unsigned char>(c))) return Integer();
    if (in_.substr(pos_, 3) == "nil") return pos_ += 3, Edn{};
    return std::nullopt;
  }
  std::optional<Edn> Map() {
    Edn m = Edn::Of(Edn::Kind::kMap);
    ++pos_;
    while (!Eat('}')) {
      auto key = Value();
      if (!key || key->kind != Edn::Kind::kKeyword) return std::nullopt;
      auto value = Value();
      if (!value || !m.map.emplace(key->text, *value).second)
        return std::nullopt;  // no duplicate keys
    }
    return m;
  }
  std::optional<Edn> Vector() {
    Edn v = Edn::Of(Edn::Kind::kVector);
    ++pos_;
    while (!Eat(']')) {
      auto item = Value();
      if (!item) return std::nullopt;
      v.items.push_back(*item);
    }
    return v;
  }
  std::optional<Edn> Keyword() {
    Edn k = Edn::Of(Edn::Kind::kKeyword);
    const size_t start = pos_++;
    while (pos_ < in_.size() &&
           (std::isalnum(static_cast<unsigned char>(in_[pos_])) ||
            std::string_view("*+!-_?./").find(in_[pos_]) != std::string_view::npos))
      ++pos_;
    if (pos_ == start + 1) return std::nullopt;
    k.text = std::string(in_.substr(start, pos_ - start));
    return k;
  }
  std::optional<Edn> Integer() {
    Edn i = Edn::Of(Edn::Kind::kInteger);
    size_t used = 0;
    try {
      i.integer = std::stoll(std::string(in_.substr(pos_)), &used);
    } catch (...) {
      return std::nullopt;
    }
    pos_ += used;
    return i;
  }
  std::optional<Edn> String() {
    Edn s = Edn::Of(Edn::Kind::kString);
    ++pos_;
    while (pos_ < in_.size() && in_[pos_] != '"') {
      const char c = in_[pos_++];
      const auto b = static_cast<unsigned char>(c);
      if (b < 0x20 || b >= 0x7f) return std::nullopt;  // the writer escapes these
      if (c != '\\') {
        s.text.push_back(c);
        continue;
      }
      if (pos_ >= in_.size()) return std::nullopt;
      const char e = in_[pos_++];
      if (e == '"' || e == '\\')
        s.text.push_back(e);
      else if (e == 'n')
        s.text.push_back('\n');
      else if (e == 't')
        s.text.push_back('\t');
      else if (e == 'r')
        s.text.push_back('\r');
      else if (e == 'u' && pos_ + 4 <= in_.size()) {
        const unsigned long code = std::stoul(std::string(in_.substr(pos_, 4)), nullptr, 16);
        if (code > 0xff) return std::nullopt;  // the writer escapes single bytes
        s.text.push_back(static_cast<char>(code));
        pos_ += 4;
      } else {
        return std::nullopt;
      }
    }
    if (!Eat('"')) return std::nullopt;
    return s;
  }

  std::string_view in_;
  size_t pos_ = 0;
};

inline std::optional<Edn> ParseEdn(std::string_view text) { return EdnReader(text).Whole(); }

}  // namespace faultfs::harness::testing
