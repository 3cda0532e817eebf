// Reply: the only way ops answer the kernel. Every request is answered exactly once: a second reply
// is an invariant violation, and a request dropped without a reply (an early return, an exception)
// is answered with EIO by the destructor and logged as a bug.
#pragma once

#include <sys/stat.h>
#include <sys/statvfs.h>

#include <utility>

#include "faultfs/core/check.h"
#include "fuse_version.h"

namespace faultfs::fs {

class Reply {
 public:
  explicit Reply(fuse_req_t req) : req_(req) {}
  Reply(const Reply&) = delete;
  Reply& operator=(const Reply&) = delete;
  ~Reply();

  fuse_req_t req() const { return req_; }
  bool answered() const { return req_ == nullptr; }

  // Each returns libfuse's result: non-zero means the kernel did not get the reply (the request was
  // interrupted), which matters to replies that hand the kernel a reference (entries, open files).
  int Err(int err) { return fuse_reply_err(Take(), err); }
  int Ok() { return fuse_reply_err(Take(), 0); }
  void None() { fuse_reply_none(Take()); }
  int Entry(const fuse_entry_param& e) { return fuse_reply_entry(Take(), &e); }
  int Create(const fuse_entry_param& e, const fuse_file_info* fi) {
    return fuse_reply_create(Take(), &e, fi);
  }
  int Attr(const struct stat& st, double timeout) { return fuse_reply_attr(Take(), &st, timeout); }
  int Open(const fuse_file_info* fi) { return fuse_reply_open(Take(), fi); }
  int Readlink(const char* target) { return fuse_reply_readlink(Take(), target); }
  int Write(size_t count) { return fuse_reply_write(Take(), count); }
  int Buf(const void* data, size_t size) {
    return fuse_reply_buf(Take(), static_cast<const char*>(data), size);
  }
  int Data(fuse_bufvec* bufv, fuse_buf_copy_flags flags) {
    return fuse_reply_data(Take(), bufv, flags);
  }
  int Statfs(const struct statvfs& st) { return fuse_reply_statfs(Take(), &st); }
  int Xattr(size_t size) { return fuse_reply_xattr(Take(), size); }
  int Lseek(off_t off) { return fuse_reply_lseek(Take(), off); }

  // Runs hook(arg) just before the reply leaves, whichever reply it is: a caller killed "after"
  // its operation must get the signal while it still waits for the result, or it may see the
  // result and exit first.
  void BeforeReply(void (*hook)(void*), void* arg) {
    hook_ = hook;
    hook_arg_ = arg;
  }

 private:
  fuse_req_t Take() {
    FAULTFS_CHECK(req_ != nullptr) << "second reply to one FUSE request";
    if (hook_ != nullptr) std::exchange(hook_, nullptr)(hook_arg_);
    return std::exchange(req_, nullptr);
  }
  fuse_req_t req_;
  void (*hook_)(void*) = nullptr;
  void* hook_arg_ = nullptr;
};

}  // namespace faultfs::fs
