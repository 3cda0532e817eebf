#include "as_caller.h"

#include <linux/capability.h>
#include <sys/fsuid.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>

namespace faultfs::fs {

namespace {

// Raises `caps` in this thread's effective set (they must be permitted).
Status RaiseEffective(std::initializer_list<int> caps) {
  __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};  // 0: this thread
  __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3] = {};
  if (syscall(SYS_capget, &header, data) != 0) return Status::FromErrno(errno, "capget");
  for (const int cap : caps) {
    const auto bit = 1U << (cap % 32);
    if ((data[cap / 32].permitted & bit) != 0) data[cap / 32].effective |= bit;
  }
  if (syscall(SYS_capset, &header, data) != 0) return Status::FromErrno(errno, "capset");
  return Status::Ok();
}

}  // namespace

AsCaller::AsCaller(uid_t uid, gid_t gid) : own_uid_(geteuid()), own_gid_(getegid()) {
  // setfsgid/setfsuid return the previous id whether or not they succeeded: a second call with an
  // invalid id (-1) reads the current one back.
  if (gid != own_gid_) {
    setfsgid(gid);
    switched_gid_ = true;
    if (static_cast<gid_t>(setfsgid(static_cast<gid_t>(-1))) != gid) {
      status_ = Status::FromErrno(EPERM, "taking the caller's group for a create");
      return;
    }
  }
  if (uid != own_uid_) {
    setfsuid(uid);
    switched_uid_ = true;
    if (static_cast<uid_t>(setfsuid(static_cast<uid_t>(-1))) != uid) {
      status_ = Status::FromErrno(EPERM, "taking the caller's uid for a create");
      return;
    }
    status_ = RaiseEffective({CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH, CAP_FSETID});
  }
}

AsCaller::~AsCaller() {
  // Back to fsuid 0 gives back every filesystem capability the permitted set has.
  if (switched_uid_) setfsuid(own_uid_);
  if (switched_gid_) setfsgid(own_gid_);
}

}  // namespace faultfs::fs
