#include "faultfs/harness/history.h"

#include <xxhash.h>

#include <charconv>

namespace faultfs::harness {
namespace {

std::string Hex16(uint64_t v) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out(16, '0');
  for (int i = 15; i >= 0; --i, v >>= 4) out[static_cast<size_t>(i)] = kDigits[v & 0xf];
  return out;
}

uint64_t Xxh3(std::string_view bytes) { return XXH3_64bits(bytes.data(), bytes.size()); }

// A decimal int64 that is the whole of `text` (no sign, no spaces: MakeValue writes none for
// the non-negative numbers clients use).
std::optional<int64_t> WholeNumber(std::string_view text) {
  int64_t v = 0;
  const char* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, v);
  if (ec != std::errc() || ptr != end || text.empty() || text[0] == '-') return std::nullopt;
  return v;
}

}  // namespace

std::string_view OpTypeName(OpType type) {
  switch (type) {
    case OpType::kInvoke:
      return "invoke";
    case OpType::kOk:
      return "ok";
    case OpType::kFail:
      return "fail";
    case OpType::kInfo:
      return "info";
  }
  return "?";
}

std::string_view OpFName(OpF f) { return f == OpF::kAppend ? "append" : "read"; }

std::string MakeValue(int64_t client, int64_t req, std::string_view text) {
  std::string body = std::to_string(client) + "/" + std::to_string(req) + "/";
  body.append(text);
  return body + "|" + Hex16(Xxh3(body));
}

std::optional<ParsedValue> VerifyValue(std::string_view value) {
  const size_t bar = value.rfind('|');
  if (bar == std::string_view::npos || value.size() - bar - 1 != 16) return std::nullopt;
  const std::string_view body = value.substr(0, bar);
  if (Hex16(Xxh3(body)) != value.substr(bar + 1)) return std::nullopt;
  const size_t slash1 = body.find('/');
  const size_t slash2 = slash1 == std::string_view::npos ? slash1 : body.find('/', slash1 + 1);
  if (slash2 == std::string_view::npos) return std::nullopt;
  auto client = WholeNumber(body.substr(0, slash1));
  auto req = WholeNumber(body.substr(slash1 + 1, slash2 - slash1 - 1));
  if (!client || !req) return std::nullopt;
  return ParsedValue{*client, *req};
}

}  // namespace faultfs::harness
