// An open's reply that hands the kernel a backing file (backing_files.h). libfuse 3.14 cannot say
// it (its fuse_open_out still has padding where the backing id goes), so the reply is armed on
// the replying thread, and the session's writev (mount.cc), which libfuse calls on that thread
// before fuse_reply_open or fuse_reply_create returns, marks the outgoing fuse_open_out.
#pragma once

#include <sys/uio.h>

#include <cstdint>
#include <vector>

namespace faultfs::fs {

class OpenReplyPatch {
 public:
  // Arms the patch for the reply this thread sends next, while the guard lives.
  class Armed {
   public:
    explicit Armed(int32_t backing_id) { backing_id_ = backing_id; }
    ~Armed() { backing_id_ = 0; }
    Armed(const Armed&) = delete;
    Armed& operator=(const Armed&) = delete;
  };

  // With a patch armed and `iov` a successful open or create reply (out header, then one buffer
  // ending in fuse_open_out): the buffer, marked passthrough with the backing id, in `patched`.
  static bool Apply(const iovec* iov, int count, std::vector<char>& patched);

 private:
  static inline thread_local int32_t backing_id_ = 0;
};

}  // namespace faultfs::fs
