// What a rule matches (ops, paths, callers, counts, time), and the [capacity] table.
#include <fcntl.h>

#include <map>

#include "faultfs/policy/glob.h"
#include "faultfs/policy/path_regex.h"
#include "parser.h"
#include "suggest.h"

namespace faultfs::policy {

namespace {

const std::map<std::string, int, std::less<>>& OpenFlagNames() {
  static const std::map<std::string, int, std::less<>> kFlags = {
      {"O_DIRECT", O_DIRECT}, {"O_SYNC", O_SYNC},   {"O_DSYNC", O_DSYNC}, {"O_APPEND", O_APPEND},
      {"O_TRUNC", O_TRUNC},   {"O_CREAT", O_CREAT}, {"O_EXCL", O_EXCL},   {"O_NOATIME", O_NOATIME},
      {"O_WRONLY", O_WRONLY}, {"O_RDWR", O_RDWR}};
  return kFlags;
}

}  // namespace

std::optional<Capacity> Parser::ParseCapacity(const toml::node& node) {
  const auto* t = Table(node, "[capacity]");
  if (t == nullptr) return std::nullopt;
  CheckKeys(*t, {"bytes", "inodes", "free_bytes", "free_inodes", "errno"}, "[capacity]");
  Capacity c;
  if (const auto* n = t->get("bytes")) c.bytes = Bytes(*n, "capacity.bytes");
  if (const auto* n = t->get("inodes")) c.inodes = Count(*n, "capacity.inodes");
  if (const auto* n = t->get("free_bytes")) {
    c.free_bytes = Bytes(*n, "capacity.free_bytes");
    if (c.bytes) Error(*n, "capacity: give bytes or free_bytes, not both");
  }
  if (const auto* n = t->get("free_inodes")) {
    c.free_inodes = Count(*n, "capacity.free_inodes");
    if (c.inodes) Error(*n, "capacity: give inodes or free_inodes, not both");
  }
  if (const auto* n = t->get("errno")) {
    if (const auto e = ErrnoOf(*n, "capacity.errno")) {
      if (*e != ENOSPC && *e != EDQUOT) Error(*n, "capacity.errno must be ENOSPC or EDQUOT");
      c.err = *e;
    }
  }
  if (t->get("bytes") == nullptr && t->get("inodes") == nullptr &&
      t->get("free_bytes") == nullptr && t->get("free_inodes") == nullptr) {
    Error(node, "[capacity] needs bytes or free_bytes, inodes or free_inodes, or both");
  }
  return c;
}

void Parser::ParseMatch(const toml::table& t, Match& m) {
  ParseOps(t, m);
  ParsePaths(t, m);
  ParseFileTypes(t, m);
  if (const auto* n = t.get("offset")) m.offset = RangeOf(*n, "offset", true);
  if (const auto* n = t.get("size")) m.size = RangeOf(*n, "size", true);
  ParseOpenFlags(t, m);
  if (const auto* n = t.get("pid")) m.pids = Ids<pid_t>(*n, "pid", kMaxPid);
  if (const auto* n = t.get("uid")) m.uids = Ids<uid_t>(*n, "uid", kMaxId);
  if (const auto* n = t.get("gid")) m.gids = Ids<gid_t>(*n, "gid", kMaxId);
  if (const auto* n = t.get("process")) {
    for (auto& [name, at] : Strings(*n, "process")) m.process_names.push_back(name);
  }
  ParseCounters(t, m);
  if (const auto* n = t.get("window")) ParseWindow(*n, m);
  if (const auto* n = t.get("flakey")) ParseFlakey(*n, m);
  if (const auto* n = t.get("after_rule")) m.after_rule = String(*n, "after_rule");
}

void Parser::ParseOps(const toml::table& t, Match& m) {
  if (const auto* n = t.get("ops")) {
    for (const auto& [name, at] : Strings(*n, "ops")) {
      if (const auto op = OpFromName(name)) {
        m.ops.set(static_cast<size_t>(*op));
      } else if (const auto group = OpGroupFromName(name)) {
        m.ops |= *group;
      } else {
        Error(*at, "unknown op '" + name + "'" + DidYouMean(name, OpWords()) +
                       " (expected an op such as read, write, fsync, "
                       "rename, or a group: xattr, sync, all)");
      }
    }
  }
}

// path (globs) and path_regex, each within the policy's budget.
void Parser::ParsePaths(const toml::table& t, Match& m) {
  if (const auto* n = t.get("path")) {
    for (auto& [glob, at] : Strings(*n, "path")) {
      auto compiled = Glob::Compile(glob);
      Status fits = compiled.ok() ? budget_.AddGlob(*compiled) : compiled.status();
      if (fits.ok()) {
        m.path_globs.push_back(glob);
      } else {
        Error(*at, "path '" + glob + "': " + fits.ToString());
      }
    }
  }
  if (const auto* n = t.get("path_regex")) {
    for (auto& [re, at] : Strings(*n, "path_regex")) {
      if (auto compiled = PathRegex::Compile(re); !compiled.ok()) {
        Error(*at, "path_regex '" + re + "' is not a valid regular expression (RE2 syntax): " +
                       compiled.status().ToString());
      } else if (Status fits = budget_.AddRegex(); !fits.ok()) {
        Error(*at, "path_regex '" + re + "': " + fits.ToString());
      } else {
        m.path_regexes.push_back(re);
      }
    }
  }
}

void Parser::ParseFileTypes(const toml::table& t, Match& m) {
  if (const auto* n = t.get("file_type")) {
    for (const auto& [name, at] : Strings(*n, "file_type")) {
      if (const auto ft = FileTypeFromName(name)) {
        m.file_types.push_back(*ft);
      } else {
        Error(*at, "unknown file_type '" + name + "'" + DidYouMean(name, FileTypeWords()) +
                       " (expected regular, directory, symlink, "
                       "fifo, socket, char_device or block_device)");
      }
    }
  }
}

void Parser::ParseOpenFlags(const toml::table& t, Match& m) {
  if (const auto* n = t.get("flags")) {
    for (const auto& [name, at] : Strings(*n, "flags")) {
      const auto it = OpenFlagNames().find(name);
      if (it == OpenFlagNames().end()) {
        Error(*at, "unknown open flag '" + name +
                       "' (expected e.g. O_DIRECT, O_SYNC, O_DSYNC, O_APPEND)");
      } else {
        m.open_flags |= it->second;
      }
    }
  }
}

// probability, nth, every, after, max_times, and the combinations that contradict each other.
void Parser::ParseCounters(const toml::table& t, Match& m) {
  if (const auto* n = t.get("probability")) {
    if (const auto p = Number(*n, "probability")) {
      if (!(*p >= 0 && *p <= 1)) {
        Error(*n, "probability must be between 0 and 1, got " + FormatNumber(*p));
      } else {
        m.probability = *p;
      }
    }
  }
  if (const auto* n = t.get("nth")) m.nth = Positive(*n, "nth");
  if (const auto* n = t.get("every")) m.every = Positive(*n, "every");
  if (const auto* n = t.get("after")) m.after = Count(*n, "after");
  if (const auto* n = t.get("max_times")) m.max_fires = Positive(*n, "max_times");
  if (m.nth && m.every) Error(*t.get("every"), "nth and every contradict each other: use one");
  if (m.nth && m.max_fires)
    Error(*t.get("max_times"), "nth already fires once: max_times is redundant");
}

void Parser::ParseWindow(const toml::node& n, Match& m) {
  const auto* arr = n.as_array();
  if (arr == nullptr || arr->size() != 2) {
    Error(n, "window must be [start_s, end_s] (seconds after mount)");
    return;
  }
  const auto start = NonNegative(*arr->get(0), "window start");
  const auto end = NonNegative(*arr->get(1), "window end");
  if (start && end && *start >= *end) {
    Error(n, "window is empty: start must be before end");
    return;
  }
  m.window_start_s = start;
  m.window_end_s = end;
}

void Parser::ParseFlakey(const toml::node& n, Match& m) {
  const auto* t = Table(n, "flakey");
  if (t == nullptr) return;
  CheckKeys(*t, {"up_s", "down_s"}, "flakey");
  const auto* up = t->get("up_s");
  const auto* down = t->get("down_s");
  if (up == nullptr || down == nullptr) {
    Error(n, "flakey needs both up_s and down_s");
    return;
  }
  m.flakey_up_s = NonNegative(*up, "flakey.up_s");
  m.flakey_down_s = NonNegative(*down, "flakey.down_s");
  if (m.flakey_down_s && *m.flakey_down_s == 0) Error(*down, "flakey.down_s must be > 0");
}

}  // namespace faultfs::policy
