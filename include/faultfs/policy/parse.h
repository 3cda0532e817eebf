// Reading policies from TOML. Every problem is reported (not just the first), each with
// file:line:column and what was expected; unknown keys, op names, errno names and actions are
// errors, never ignored.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "faultfs/core/status.h"
#include "faultfs/policy/policy.h"

namespace faultfs::policy {

struct PolicyError {
  std::string file;
  uint32_t line = 0;  // 1-based; 0 when the problem has no position (an unreadable file)
  uint32_t column = 0;
  std::string message;
  std::string ToString() const;  // "file:line:column: message"
};

struct ParseOutcome {
  std::optional<Policy> policy;  // set only when there are no errors
  std::vector<PolicyError> errors;
  bool ok() const { return errors.empty(); }
};

// `source_name` names the text in error messages (usually the file path). A text larger than
// kMaxPolicyBytes (limits.h) is refused unread.
ParseOutcome ParsePolicy(std::string_view text, std::string_view source_name);
// ReadPolicyText, then ParsePolicy.
ParseOutcome ParsePolicyFile(const std::string& path);

// The text of a policy file: a regular file (symlinks followed) of at most kMaxPolicyBytes, read
// through one descriptor that was opened without blocking. Everything that reads a policy file
// goes through here, so a FIFO, /dev/zero or /dev/urandom can neither hang nor flood it.
Result<std::string> ReadPolicyText(const std::string& path);

// "64 KiB", "1 MiB", "4096" (bytes).
std::optional<uint64_t> ParseBytes(std::string_view text);

// What each rule targets and does, in words, one paragraph per rule.
std::string Explain(const Policy& policy);

}  // namespace faultfs::policy
