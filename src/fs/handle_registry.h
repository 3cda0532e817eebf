// Every open file and directory handle the kernel holds, so the daemon can free them at the end.
// The kernel does not always send RELEASE: when the last file on a lazily detached mount closes,
// the release is queued and then aborted with the connection.
#pragma once

#include <mutex>

#include "faultfs/core/mutex.h"

namespace faultfs::fs {

// Base of FileHandle and DirHandle: an intrusive list node, so registering costs no allocation.
class RegisteredHandle {
 public:
  RegisteredHandle() = default;
  RegisteredHandle(const RegisteredHandle&) = delete;
  RegisteredHandle& operator=(const RegisteredHandle&) = delete;
  virtual ~RegisteredHandle() = default;

 private:
  friend class HandleRegistry;
  RegisteredHandle* prev_ = nullptr;
  RegisteredHandle* next_ = nullptr;
};

class HandleRegistry {
 public:
  HandleRegistry() { head_.prev_ = head_.next_ = &head_; }
  HandleRegistry(const HandleRegistry&) = delete;
  HandleRegistry& operator=(const HandleRegistry&) = delete;
  ~HandleRegistry() { DeleteAll(); }

  void Add(RegisteredHandle* h) {
    MutexLock lock(mu_);
    h->next_ = head_.next_;
    h->prev_ = &head_;
    head_.next_->prev_ = h;
    head_.next_ = h;
  }
  // Unlinks and deletes `h` (its release arrived).
  void Delete(RegisteredHandle* h) {
    {
      MutexLock lock(mu_);
      h->prev_->next_ = h->next_;
      h->next_->prev_ = h->prev_;
    }
    delete h;
  }
  void DeleteAll() {
    MutexLock lock(mu_);
    while (head_.next_ != &head_) {
      RegisteredHandle* h = head_.next_;
      head_.next_ = h->next_;
      delete h;
    }
    head_.prev_ = &head_;
  }

 private:
  class Sentinel : public RegisteredHandle {};
  Mutex mu_;
  Sentinel head_ FAULTFS_GUARDED_BY(mu_);
};

}  // namespace faultfs::fs
