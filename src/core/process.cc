#include "faultfs/core/process.h"

#include <pwd.h>
#include <unistd.h>

#include <algorithm>
#include <climits>
#include <cstdlib>
#include <fstream>
#include <set>
#include <string>

#include "faultfs/core/tree_read.h"

namespace faultfs {

bool ProcessRunning(pid_t pid) {
  if (pid <= 0) return false;
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!std::getline(stat, line)) return false;
  // "pid (comm) S ...": the state follows the last ')' (comm itself may contain parentheses).
  const auto close = line.rfind(')');
  if (close == std::string::npos || close + 2 >= line.size()) return false;
  const char state = line[close + 2];
  return state != 'Z' && state != 'X';
}

namespace {

// The children of every thread of `pid` (/proc/PID/task/TID/children: a thread's own children).
std::vector<pid_t> ChildrenOf(pid_t pid) {
  const std::string task = "/proc/" + std::to_string(pid) + "/task";
  auto threads = ReadDirAt(task);
  std::vector<pid_t> children;
  if (!threads.ok()) return children;
  for (const DirEntry& t : *threads) {
    std::ifstream list(task + "/" + t.name + "/children");
    for (pid_t child = 0; list >> child;) children.push_back(child);
  }
  return children;
}

}  // namespace

std::vector<pid_t> LiveDescendants(pid_t pid) {
  std::vector<pid_t> found;
  std::set<pid_t> seen{pid};  // a pid reused while we walk must not loop
  std::vector<pid_t> next = ChildrenOf(pid);
  for (size_t i = 0; i < next.size(); ++i) {
    const pid_t p = next[i];
    if (!seen.insert(p).second) continue;
    if (ProcessRunning(p)) found.push_back(p);
    for (pid_t c : ChildrenOf(p)) next.push_back(c);
  }
  return found;
}

std::string ProcessName(pid_t pid) {
  std::ifstream comm("/proc/" + std::to_string(pid) + "/comm");
  std::string name;
  std::getline(comm, name);
  return name;
}

namespace {

// Whether `path` is `dir` or under it.
bool Within(const std::string& path, const std::string& dir) {
  if (dir == "/") return !path.empty() && path[0] == '/';
  return path == dir || (path.size() > dir.size() && path.compare(0, dir.size(), dir) == 0 &&
                         path[dir.size()] == '/');
}

std::string LinkTarget(const std::string& link) {
  char buf[PATH_MAX];
  const ssize_t n = readlink(link.c_str(), buf, sizeof(buf));
  return n > 0 ? std::string(buf, static_cast<size_t>(n)) : std::string();
}

// Counts the entries of /proc/PID/fd that point under `dir`.
size_t OpenFilesWithin(const std::string& proc, const std::string& dir) {
  auto fds = ReadDirAt(proc + "/fd");
  if (!fds.ok()) return 0;
  size_t n = 0;
  for (const DirEntry& e : *fds) n += Within(LinkTarget(proc + "/fd/" + e.name), dir);
  return n;
}

// Counts the distinct files under `dir` in /proc/PID/maps (the path is the sixth field).
size_t MappedFilesWithin(const std::string& proc, const std::string& dir) {
  std::ifstream maps(proc + "/maps");
  std::set<std::string> files;
  for (std::string line; std::getline(maps, line);) {
    const size_t slash = line.find(" /");
    if (slash == std::string::npos) continue;
    std::string path = line.substr(slash + 1);
    if (path.ends_with(" (deleted)")) path.resize(path.size() - 10);
    if (Within(path, dir)) files.insert(std::move(path));
  }
  return files.size();
}

}  // namespace

std::string LoginName(uid_t uid) {
  passwd entry{};
  passwd* found = nullptr;
  std::vector<char> buf(16384);  // glibc's suggested size (sysconf) is 1024; room for NSS lines
  if (getpwuid_r(uid, &entry, buf.data(), buf.size(), &found) != 0 || found == nullptr) return "";
  return entry.pw_name;
}

std::vector<DirectoryUser> ProcessesUsing(const std::string& dir) {
  std::vector<DirectoryUser> users;
  auto entries = ReadDirAt("/proc");
  if (!entries.ok()) return users;
  const pid_t self = getpid();
  for (const DirEntry& e : *entries) {
    char* end = nullptr;
    const long pid = std::strtol(e.name.c_str(), &end, 10);
    if (pid <= 0 || *end != '\0' || pid == self) continue;
    const std::string base = "/proc/" + e.name;
    DirectoryUser u;
    u.pid = static_cast<pid_t>(pid);
    u.cwd = Within(LinkTarget(base + "/cwd"), dir);
    u.root = dir != "/" && Within(LinkTarget(base + "/root"), dir);
    u.open_files = OpenFilesWithin(base, dir);
    u.mapped_files = MappedFilesWithin(base, dir);
    if (!u.cwd && !u.root && u.open_files == 0 && u.mapped_files == 0) continue;
    u.name = ProcessName(u.pid);
    users.push_back(std::move(u));
  }
  std::sort(users.begin(), users.end(),
            [](const DirectoryUser& a, const DirectoryUser& b) { return a.pid < b.pid; });
  return users;
}

}  // namespace faultfs
