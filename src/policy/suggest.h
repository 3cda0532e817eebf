// "Did you mean": the known word closest to a misspelt one, for the parser's error messages.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace faultfs::policy {

// "; did you mean 'write'?" when one of `known` is within a couple of edits of `given` (case
// aside), else "". Words longer than 64 characters get no suggestion: a hostile policy must not
// buy quadratic work with one long string.
std::string DidYouMean(std::string_view given, const std::vector<std::string_view>& known);

}  // namespace faultfs::policy
