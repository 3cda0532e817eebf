// Facts about other processes, read from /proc.
#pragma once

#include <sys/types.h>

#include <string>

namespace faultfs {

// True while `pid` exists and has not exited (a zombie waiting to be reaped has exited).
bool ProcessRunning(pid_t pid);
// The process's command name (/proc/PID/comm), or "" if it does not exist.
std::string ProcessName(pid_t pid);

}  // namespace faultfs
