// Facts about other processes, read from /proc.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <string>
#include <vector>

namespace faultfs {

// True while `pid` exists and has not exited (a zombie waiting to be reaped has exited).
bool ProcessRunning(pid_t pid);
// The processes under `pid` (its children, their children, ...) that have not exited, parents
// before their children; empty when it has none or is gone. A snapshot: they may fork meanwhile.
std::vector<pid_t> LiveDescendants(pid_t pid);

// The process's command name (/proc/PID/comm), or "" if it does not exist.
std::string ProcessName(pid_t pid);

// The login name of `uid` from the user database; empty if it has none. (getpwuid's result lives
// in storage every thread shares.)
std::string LoginName(uid_t uid);

// A process that uses files at or under a directory.
struct DirectoryUser {
  pid_t pid = 0;
  std::string name;         // /proc/PID/comm
  bool cwd = false;         // its working directory is there
  bool root = false;        // its root directory is there (chroot)
  size_t open_files = 0;    // descriptors open on something there
  size_t mapped_files = 0;  // distinct files there mapped into its memory
};
// Every process but this one that has its working or root directory, an open descriptor or a
// mapped file at `dir` or under it (an absolute path, resolved), by pid. Processes whose /proc
// entries cannot be read (gone, or not ours to read) are skipped.
std::vector<DirectoryUser> ProcessesUsing(const std::string& dir);

}  // namespace faultfs
