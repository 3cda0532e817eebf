// A mutex the compiler checks. Under clang with -Wthread-safety (thread_safety_test runs
// tests/style/check_thread_safety.py) every field marked FAULTFS_GUARDED_BY(mu) must be touched
// with `mu` held, and every function marked FAULTFS_REQUIRES(mu) called with it held: a
// forgotten lock is a build error, not a race found later (or never). Under other compilers the
// marks are empty and Mutex is a std::mutex.
//
// Waiting on a condition: std::condition_variable with `lock.native()`, in a loop that tests the
// guarded condition itself (`while (!ready_) cv_.wait(lock.native());`), so that the analysis
// sees the lock held where the fields are read (a predicate lambda is analysed on its own).
#pragma once

#include <mutex>

#if defined(__clang__)
#define FAULTFS_THREAD_ANNOTATION(x) __attribute__((x))
#else
#define FAULTFS_THREAD_ANNOTATION(x)
#endif

#define FAULTFS_CAPABILITY(x) FAULTFS_THREAD_ANNOTATION(capability(x))
#define FAULTFS_SCOPED_CAPABILITY FAULTFS_THREAD_ANNOTATION(scoped_lockable)
#define FAULTFS_GUARDED_BY(x) FAULTFS_THREAD_ANNOTATION(guarded_by(x))
#define FAULTFS_REQUIRES(...) FAULTFS_THREAD_ANNOTATION(requires_capability(__VA_ARGS__))
#define FAULTFS_ACQUIRE(...) FAULTFS_THREAD_ANNOTATION(acquire_capability(__VA_ARGS__))
#define FAULTFS_RELEASE(...) FAULTFS_THREAD_ANNOTATION(release_capability(__VA_ARGS__))
#define FAULTFS_TRY_ACQUIRE(...) FAULTFS_THREAD_ANNOTATION(try_acquire_capability(__VA_ARGS__))
#define FAULTFS_EXCLUDES(...) FAULTFS_THREAD_ANNOTATION(locks_excluded(__VA_ARGS__))

namespace faultfs {

class FAULTFS_CAPABILITY("mutex") Mutex {
 public:
  Mutex() = default;
  Mutex(const Mutex&) = delete;
  Mutex& operator=(const Mutex&) = delete;

  void Lock() FAULTFS_ACQUIRE() { mu_.lock(); }
  void Unlock() FAULTFS_RELEASE() { mu_.unlock(); }
  bool TryLock() FAULTFS_TRY_ACQUIRE(true) { return mu_.try_lock(); }
  // Tells the analysis that the caller holds this mutex where it cannot see it (after a lock
  // taken in another function); costs nothing at run time.
  void AssertHeld() const FAULTFS_THREAD_ANNOTATION(assert_capability(this)) {}

  std::mutex& native() { return mu_; }

 private:
  std::mutex mu_;
};

// Holds a Mutex for its scope (like std::unique_lock: it may be released early and taken again).
class FAULTFS_SCOPED_CAPABILITY MutexLock {
 public:
  explicit MutexLock(Mutex& mu) FAULTFS_ACQUIRE(mu) : lock_(mu.native()) {}
  ~MutexLock() FAULTFS_RELEASE() {}
  MutexLock(const MutexLock&) = delete;
  MutexLock& operator=(const MutexLock&) = delete;

  void Unlock() FAULTFS_RELEASE() { lock_.unlock(); }
  void Lock() FAULTFS_ACQUIRE() { lock_.lock(); }
  // For std::condition_variable::wait.
  std::unique_lock<std::mutex>& native() { return lock_; }

 private:
  std::unique_lock<std::mutex> lock_;
};

}  // namespace faultfs
