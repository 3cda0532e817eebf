// Goal: what a non-root user creates through an --allow-other mount is theirs from the first
// instant: a watcher on the backing directory never sees it owned by root, nor changing owner
// afterwards; and owner, group and mode are what ext4 gives natively (umask, setgid directories,
// access through a supplementary group).
#include <fcntl.h>
#include <poll.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <set>
#include <string>
#include <thread>

#include "twin_fixture.h"

namespace faultfs::testing {
namespace {

constexpr uid_t kUser = 1000;
constexpr gid_t kGroup = 1000;
constexpr gid_t kSharedGroup = 500;

// Watches a backing directory: every entry that appears is stat'ed at once; any root-owned sighting
// and any attribute change of a new entry (a chown after the fact) is counted.
class Watcher {
 public:
  explicit Watcher(const std::string& dir)
      : dir_fd_(open(dir.c_str(), O_RDONLY | O_DIRECTORY)), fd_(inotify_init1(IN_NONBLOCK)) {
    inotify_add_watch(fd_, dir.c_str(), IN_CREATE | IN_ATTRIB);
    thread_ = std::thread([this] { Run(); });
  }
  ~Watcher() {
    Stop();
    close(fd_);
    close(dir_fd_);
  }
  // Stops after every event already queued has been seen (inotify queues them as they happen).
  void Stop() {
    if (!thread_.joinable()) return;
    stop_ = true;
    thread_.join();
  }
  int root_owned = 0;     // entries seen owned by root
  int changed_after = 0;  // attribute changes of entries (owner fixed afterwards)
  int seen = 0;
  std::string example;

 private:
  void Run() {
    for (;;) {
      pollfd p{fd_, POLLIN, 0};
      const bool stopping = stop_;  // read before draining: nothing arrives after the last read
      poll(&p, 1, stopping ? 0 : 10);
      alignas(inotify_event) char buf[64 * 1024];
      ssize_t n = 0;
      bool any = false;
      while ((n = read(fd_, buf, sizeof(buf))) > 0) {
        any = true;
        for (ssize_t at = 0; at < n;) {
          const auto* e = reinterpret_cast<const inotify_event*>(buf + at);
          Seen(*e);
          at += static_cast<ssize_t>(sizeof(inotify_event) + e->len);
        }
      }
      if (stopping && !any) return;
    }
  }
  void Seen(const inotify_event& e) {
    if (e.len == 0) return;
    if (e.mask & IN_ATTRIB) {
      ++changed_after;
      if (example.empty()) example = std::string("attributes of ") + e.name + " changed";
      return;
    }
    ++seen;
    struct stat st {};
    if (fstatat(dir_fd_, e.name, &st, AT_SYMLINK_NOFOLLOW) == 0 && st.st_uid == 0) {
      ++root_owned;
      if (example.empty()) example = std::string(e.name) + " seen owned by root";
    }
  }
  const int dir_fd_;
  const int fd_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

class CreateOwner : public TwinTest {
 protected:
  CreateOwner() : TwinTest({"--allow-other"}, /*world_traversable=*/true) {}
  void SetUp() override {
    TwinTest::SetUp();
    umask(0);
    Both([](const std::string& r) {
      ASSERT_EQ(chmod(r.c_str(), 0755), 0);
      ASSERT_EQ(mkdir(P(r, "open").c_str(), 0777), 0);
      ASSERT_EQ(chmod(P(r, "open").c_str(), 0777), 0);
      ASSERT_EQ(mkdir(P(r, "sgid").c_str(), 0777), 0);  // setgid, group kSharedGroup, open to all
      ASSERT_EQ(chown(P(r, "sgid").c_str(), 0, kSharedGroup), 0);
      ASSERT_EQ(chmod(P(r, "sgid").c_str(), 02777), 0);
      ASSERT_EQ(mkdir(P(r, "team").c_str(), 0770), 0);  // only the group may create here
      ASSERT_EQ(chown(P(r, "team").c_str(), 0, kSharedGroup), 0);
      ASSERT_EQ(chmod(P(r, "team").c_str(), 02770), 0);
    });
  }
  // `op(root)` as kUser with `groups` and `mask`, on both trees; both must succeed.
  void AsUserOnBoth(const char* what, mode_t mask, const std::vector<gid_t>& groups,
                    const std::function<long(const std::string&)>& op) {
    const Outcome n = AsUser(kUser, kGroup, groups, mask, [&] { return op(native_); });
    const Outcome m = AsUser(kUser, kGroup, groups, mask, [&] { return op(mnt_); });
    EXPECT_EQ(n, (Outcome{0, 0})) << what << " natively";
    EXPECT_EQ(m, n) << what << ": faultfs vs native";
  }
  // Owner, group and mode of `rel`: through the mount, in the backing directory, and natively.
  void ExpectAsNative(const std::string& rel) {
    struct stat n {
    }, m{}, b{};
    ASSERT_EQ(lstat(P(native_, rel).c_str(), &n), 0) << rel;
    ASSERT_EQ(lstat(P(mnt_, rel).c_str(), &m), 0) << rel;
    ASSERT_EQ(lstat(P(backing_, rel).c_str(), &b), 0) << rel;
    for (const struct stat* s : {&m, &b}) {
      EXPECT_EQ(s->st_uid, n.st_uid) << rel;
      EXPECT_EQ(s->st_gid, n.st_gid) << rel;
      EXPECT_EQ(s->st_mode, n.st_mode)
          << rel << std::oct << ": " << s->st_mode << " vs " << n.st_mode;
    }
  }
};

// Goal: 3,000 creates of set-id, world-writable entries by a non-root user; a watcher on the
// backing directory never sees one owned by root, nor one whose owner is changed afterwards.
TEST_F(CreateOwner, NoNewEntryIsEverRoots) {
  Watcher watcher(P(backing_, "open"));
  const std::string dir = P(mnt_, "open");
  const Outcome o = AsUser(kUser, kGroup, {}, 0, [&]() -> long {
    for (int i = 0; i < 3000; ++i) {
      const std::string path = dir + "/e" + std::to_string(i);
      long res = 0;
      switch (i % 4) {
        case 0:
        case 1:
          res = close(open(path.c_str(), O_CREAT | O_EXCL | O_WRONLY, 06777));
          break;
        case 2:
          res = mkdir(path.c_str(), 02777);
          break;
        default:
          res = mkfifo(path.c_str(), 04666);
          break;
      }
      if (res != 0) return -1;
    }
    return 0;
  });
  ASSERT_EQ(o, (Outcome{0, 0})) << "the creates themselves";
  watcher.Stop();
  EXPECT_EQ(watcher.seen, 3000) << "the watcher saw every create";
  EXPECT_EQ(watcher.root_owned, 0) << watcher.example;
  EXPECT_EQ(watcher.changed_after, 0) << watcher.example;
  ExpectAsNative("open");  // and the directory itself is as it was
}

// Goal: owner, group and mode as natively, whatever the umask, for every kind of entry.
TEST_F(CreateOwner, OwnerGroupAndModeAsNative) {
  for (const mode_t mask : {mode_t{022}, mode_t{077}, mode_t{0}}) {
    const std::string s = std::to_string(mask);
    AsUserOnBoth("create", mask, {}, [&](auto r) {
      return close(open(P(r, "open/f" + s).c_str(), O_CREAT | O_WRONLY, 06777));
    });
    AsUserOnBoth("mkdir", mask, {},
                 [&](auto r) { return mkdir(P(r, "open/d" + s).c_str(), 03777); });
    AsUserOnBoth("mkfifo", mask, {},
                 [&](auto r) { return mkfifo(P(r, "open/p" + s).c_str(), 0666); });
    AsUserOnBoth("symlink", mask, {},
                 [&](auto r) { return symlink("f", P(r, "open/l" + s).c_str()); });
    AsUserOnBoth("link", mask, {}, [&](auto r) {
      return link(P(r, "open/f" + s).c_str(), P(r, "open/h" + s).c_str());
    });
    for (const char* e : {"f", "d", "p", "l", "h"}) ExpectAsNative(std::string("open/") + e + s);
  }
}

// Goal: a setgid directory gives its group (and, to directories, its setgid bit); a file's setgid
// bit stays when the caller is in that group through a supplementary group, and goes when not.
TEST_F(CreateOwner, SetgidDirectoryAsNative) {
  AsUserOnBoth("create, member", 0, {kSharedGroup}, [](auto r) {
    return close(open(P(r, "sgid/member").c_str(), O_CREAT | O_WRONLY, 02775));
  });
  AsUserOnBoth("create, not a member", 0, {}, [](auto r) {
    return close(open(P(r, "sgid/stranger").c_str(), O_CREAT | O_WRONLY, 02775));
  });
  AsUserOnBoth("mkdir", 022, {}, [](auto r) { return mkdir(P(r, "sgid/dir").c_str(), 0777); });
  AsUserOnBoth("mknod", 022, {}, [](auto r) { return mkfifo(P(r, "sgid/fifo").c_str(), 02666); });
  for (const char* e : {"sgid/member", "sgid/stranger", "sgid/dir", "sgid/fifo"}) ExpectAsNative(e);
}

// Goal: a directory the caller may write only through a supplementary group takes their creates
// (the daemon's thread does not carry the caller's groups).
TEST_F(CreateOwner, WritableThroughASupplementaryGroup) {
  AsUserOnBoth("create", 022, {kSharedGroup}, [](auto r) {
    return close(open(P(r, "team/file").c_str(), O_CREAT | O_WRONLY, 0660));
  });
  AsUserOnBoth("mkdir", 022, {kSharedGroup},
               [](auto r) { return mkdir(P(r, "team/dir").c_str(), 0770); });
  for (const char* e : {"team/file", "team/dir"}) ExpectAsNative(e);
}

}  // namespace
}  // namespace faultfs::testing
