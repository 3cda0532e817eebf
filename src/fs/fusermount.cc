#include "fusermount.h"

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

namespace faultfs::fs {
namespace {

constexpr const char* kHelper = "fusermount3";

// Runs fusermount3 with `args`; `comm_fd` (or -1) is handed to it as _FUSE_COMMFD.
Status RunHelper(const std::vector<std::string>& args, int comm_fd) {
  std::vector<char*> argv;
  argv.push_back(const_cast<char*>(kHelper));
  for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  // The environment is built before fork: the child of a threaded process may only call
  // async-signal-safe functions, and setenv allocates.
  const std::string comm = "_FUSE_COMMFD=" + std::to_string(comm_fd);
  std::vector<char*> env;
  for (char** e = environ; *e != nullptr; ++e) {
    if (comm_fd < 0 || std::strncmp(*e, "_FUSE_COMMFD=", 13) != 0) env.push_back(*e);
  }
  if (comm_fd >= 0) env.push_back(const_cast<char*>(comm.c_str()));
  env.push_back(nullptr);
  const pid_t pid = fork();
  if (pid < 0) return Status::FromErrno(errno, "starting fusermount3");
  if (pid == 0) {
    execvpe(kHelper, argv.data(), env.data());
    _exit(127);
  }
  int status = 0;
  while (waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) return Status::FromErrno(errno, "waiting for fusermount3");
  }
  if (WIFEXITED(status) && WEXITSTATUS(status) == 127)
    return Status::Invalid("fusermount3 is not installed (Debian: apt-get install fuse3)");
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    return Status::Invalid(
        "fusermount3 failed (its message is above; a user may mount only on a directory they "
        "own, and --allow-other needs user_allow_other in /etc/fuse.conf)");
  }
  return Status::Ok();
}

// The descriptor fusermount3 sends over `sock` (SCM_RIGHTS).
Result<UniqueFd> ReceiveFd(int sock) {
  char byte = 0;
  iovec iov{&byte, 1};
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = sizeof(control);
  ssize_t n = 0;
  while ((n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC)) < 0 && errno == EINTR) {
  }
  if (n < 0) return Status::FromErrno(errno, "receiving the FUSE device from fusermount3");
  const cmsghdr* c = CMSG_FIRSTHDR(&msg);
  if (n == 0 || c == nullptr || c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
    return Status::Invalid("fusermount3 sent no FUSE device descriptor");
  int fd = -1;
  std::memcpy(&fd, CMSG_DATA(c), sizeof(fd));
  return UniqueFd(fd);
}

}  // namespace

bool MountsThroughFusermount() { return geteuid() != 0; }

Result<UniqueFd> FusermountMount(const std::string& backing, const std::string& mountpoint,
                                 bool allow_other) {
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0)
    return Status::FromErrno(errno, "socketpair for fusermount3");
  UniqueFd ours(sv[0]), theirs(sv[1]);
  // (fusermount3 splits its options at commas: a backing path with one is named plainly.)
  const bool plain = backing.find_first_of(",\\") != std::string::npos;
  std::string options = "rootmode=40000,default_permissions,subtype=faultfs,fsname=" +
                        (plain ? std::string("faultfs") : backing);
  if (allow_other) options += ",allow_other";
  // The helper inherits its end; ours stays with the daemon only.
  if (fcntl(ours.get(), F_SETFD, FD_CLOEXEC) != 0)
    return Status::FromErrno(errno, "socketpair for fusermount3");
  Status ran = RunHelper({"-o", options, "--", mountpoint}, theirs.get());
  theirs.reset();
  FAULTFS_RETURN_IF_ERROR(ran);
  return ReceiveFd(ours.get());
}

Status FusermountUnmount(const std::string& mountpoint, bool lazy) {
  if (lazy) return RunHelper({"-u", "-z", "--", mountpoint}, -1);
  return RunHelper({"-u", "--", mountpoint}, -1);
}

}  // namespace faultfs::fs
