// Symbolic errno names ("ENOENT") in both directions, for policies, logs and test messages, and
// the system's wording of an errno, safe to call from any thread.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace faultfs {

// "ENOENT" for 2; "errno 4242" for a code the C library has no name for.
std::string ErrnoName(int code);
// "No such file or directory" for 2. Unlike strerror, which may format an unknown code into a
// buffer all threads share, it reads only the C library's constant table.
std::string ErrnoText(int code);
// 2 for "ENOENT"; nullopt for anything that is not an errno name.
std::optional<int> ErrnoFromName(std::string_view name);
// Every name ErrnoFromName() accepts.
std::vector<std::string_view> ErrnoNames();

}  // namespace faultfs
