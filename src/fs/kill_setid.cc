#include "kill_setid.h"

#include <linux/fuse.h>
#include <sys/stat.h>

#include <cstring>
#include <functional>

#include "current_request.h"
#include "passthrough.h"

namespace faultfs::fs {
namespace {

// The request's first argument (its op header), if the request is long enough to hold one.
template <typename Arg>
bool ArgOf(Arg& arg) {
  const size_t at = sizeof(fuse_in_header);
  if (CurrentRequest::data() == nullptr || CurrentRequest::size() < at + sizeof(Arg)) return false;
  std::memcpy(&arg, CurrentRequest::data() + at, sizeof(Arg));
  return true;
}

}  // namespace

bool RequestKillsSetId() {
  if (CurrentRequest::data() == nullptr || CurrentRequest::size() < sizeof(fuse_in_header))
    return false;
  fuse_in_header in{};
  std::memcpy(&in, CurrentRequest::data(), sizeof(in));
  switch (in.opcode) {
    case FUSE_WRITE: {
      fuse_write_in w{};
      return ArgOf(w) && (w.write_flags & FUSE_WRITE_KILL_SUIDGID) != 0;
    }
    case FUSE_SETATTR: {
      fuse_setattr_in s{};
      // A SETATTR that sets nothing: the kernel removing privileges after a write it served
      // in passthrough (under KILLPRIV_V2 it drops the kill bits and sends what is left).
      if (!ArgOf(s)) return false;
      const uint32_t sets = s.valid & ~static_cast<uint32_t>(FATTR_FH | FATTR_LOCKOWNER);
      return (s.valid & FATTR_KILL_SUIDGID) != 0 || sets == 0;
    }
    case FUSE_OPEN: {
      fuse_open_in o{};
      return ArgOf(o) && (o.open_flags & FUSE_OPEN_KILL_SUIDGID) != 0;
    }
    case FUSE_CREATE: {  // open(O_CREAT | O_TRUNC) of a file that exists
      fuse_create_in c{};
      return ArgOf(c) && (c.open_flags & FUSE_OPEN_KILL_SUIDGID) != 0;
    }
    default:
      return false;
  }
}

bool KillSetId(int fd, const std::function<bool(gid_t)>& caller_in_group) {
  struct stat st {};
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) return false;
  mode_t kill = st.st_mode & S_ISUID;
  // As Linux's setattr_should_drop_sgid: without group-execute, setgid marks mandatory locking,
  // and only a caller outside the file's group loses it.
  if ((st.st_mode & S_ISGID) != 0 && ((st.st_mode & S_IXGRP) != 0 || !caller_in_group(st.st_gid))) {
    kill |= S_ISGID;
  }
  if (kill == 0) return false;
  return chmod(ProcFdPath(fd).c_str(), st.st_mode & 07777 & ~kill) == 0;
}

bool CallerInGroup(fuse_req_t req, gid_t gid) {
  if (fuse_req_ctx(req)->gid == gid) return true;
  gid_t groups[256];
  const int n = fuse_req_getgroups(req, 256, groups);  // the count, which may exceed the room
  for (int i = 0; i < n && i < 256; ++i) {
    if (groups[i] == gid) return true;
  }
  return false;
}

}  // namespace faultfs::fs
