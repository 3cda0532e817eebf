// The LevelDB case study's workload and checker in one program, for `faultfs crashtest`.
//
//   leveldb_example workload SCENARIO     in the recording mount ($FAULTFS_DIR); the database is
//                                         ./db. Marks every write it acknowledges as durable
//                                         ("$FAULTFS" ctl "$FAULTFS_DIR" mark KEY=VALUE).
//   leveldb_example check [--paranoid]    in a crash state: the database opens (with
//                                         paranoid_checks when asked) and holds every marked
//                                         key with its value. Exit 0 consistent, 1 violation.
//
// Scenarios (see README.md):
//   sync-barrier   8 asynchronous puts, then one synchronous put: LevelDB documents that a
//                  synchronous write makes the earlier ones durable, so all nine are marked
//   async          8 asynchronous puts, each marked as if acknowledged durable (the mistake
//                  this shows: an asynchronous put is not durable)
//   reopen         a synchronous put, close, open again (a new MANIFEST, CURRENT replaced by
//                  rename, the old MANIFEST deleted) and a second synchronous put
//   torn           6 synchronous puts of 3000-byte values (log records that cross pages)
#include <fcntl.h>
#include <leveldb/db.h>
#include <leveldb/options.h>
#include <leveldb/write_batch.h>
#include <spawn.h>
#include <sys/wait.h>

#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

extern char** environ;

namespace {

constexpr const char* kDb = "db";

std::string Env(const char* name) {
  const char* v = std::getenv(name);  // NOLINT(concurrency-mt-unsafe): single-threaded
  return v == nullptr ? std::string() : std::string(v);
}

// Tells faultfs that KEY=VALUE is acknowledged as durable, in order with the ops.
bool Mark(const std::string& key, const std::string& value) {
  const std::string faultfs = Env("FAULTFS");
  const std::string dir = Env("FAULTFS_DIR");
  if (faultfs.empty() || dir.empty()) {
    std::cerr
        << "leveldb_example: FAULTFS and FAULTFS_DIR are unset (run under faultfs crashtest)\n";
    return false;
  }
  std::string mark = key + "=" + value;
  std::vector<std::string> args = {faultfs, "ctl", dir, "mark", mark};
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  posix_spawn_file_actions_t quiet;
  posix_spawn_file_actions_init(&quiet);
  posix_spawn_file_actions_addopen(&quiet, 1, "/dev/null", O_WRONLY, 0);
  pid_t pid = 0;
  const int err = posix_spawn(&pid, faultfs.c_str(), &quiet, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&quiet);
  int status = 0;
  if (err != 0 || waitpid(pid, &status, 0) != pid || !WIFEXITED(status) ||
      WEXITSTATUS(status) != 0) {
    std::cerr << "leveldb_example: marking " << mark << " failed\n";
    return false;
  }
  return true;
}

std::unique_ptr<leveldb::DB> Open(bool paranoid, leveldb::Status& s) {
  leveldb::Options options;
  options.create_if_missing = true;
  options.paranoid_checks = paranoid;
  leveldb::DB* db = nullptr;
  s = leveldb::DB::Open(options, kDb, &db);
  return std::unique_ptr<leveldb::DB>(db);
}

bool Put(leveldb::DB& db, const std::string& key, const std::string& value, bool sync) {
  leveldb::WriteOptions w;
  w.sync = sync;
  const leveldb::Status s = db.Put(w, key, value);
  if (!s.ok()) std::cerr << "leveldb_example: put " << key << ": " << s.ToString() << "\n";
  return s.ok();
}

std::string Value(int i, size_t size) {
  std::string v = "value-" + std::to_string(i) + "-";
  while (v.size() < size) v += static_cast<char>('a' + (v.size() + static_cast<size_t>(i)) % 26);
  return v;
}

int Workload(const std::string& scenario) {
  leveldb::Status s;
  auto db = Open(false, s);
  if (!s.ok()) {
    std::cerr << "leveldb_example: open: " << s.ToString() << "\n";
    return 2;
  }
  if (scenario == "sync-barrier" || scenario == "async") {
    const bool barrier = scenario == "sync-barrier";
    for (int i = 0; i < 8; ++i) {
      const std::string key = "k" + std::to_string(i);
      if (!Put(*db, key, Value(i, 100), false)) return 2;
      if (!barrier && !Mark(key, Value(i, 100))) return 2;
    }
    if (barrier) {
      if (!Put(*db, "barrier", "done", true)) return 2;
      for (int i = 0; i < 8; ++i) {
        if (!Mark("k" + std::to_string(i), Value(i, 100))) return 2;
      }
      if (!Mark("barrier", "done")) return 2;
    }
    return 0;
  }
  if (scenario == "reopen") {
    if (!Put(*db, "first", "1", true) || !Mark("first", "1")) return 2;
    db.reset();
    db = Open(false, s);
    if (!s.ok()) {
      std::cerr << "leveldb_example: reopen: " << s.ToString() << "\n";
      return 2;
    }
    if (!Put(*db, "second", "2", true) || !Mark("second", "2")) return 2;
    return 0;
  }
  if (scenario == "torn") {
    for (int i = 0; i < 6; ++i) {
      const std::string key = "t" + std::to_string(i);
      if (!Put(*db, key, Value(i, 3000), true) || !Mark(key, Value(i, 3000))) return 2;
    }
    return 0;
  }
  std::cerr << "leveldb_example: unknown scenario '" << scenario
            << "' (sync-barrier, async, reopen, torn)\n";
  return 2;
}

int Check(bool paranoid) {
  std::vector<std::pair<std::string, std::string>> marked;
  std::ifstream marks(Env("FAULTFS_MARKS"));
  for (std::string line; std::getline(marks, line);) {
    const auto eq = line.find('=');
    if (eq != std::string::npos) marked.emplace_back(line.substr(0, eq), line.substr(eq + 1));
  }
  leveldb::Status s;
  auto db = Open(paranoid, s);
  if (!s.ok()) {
    std::cout << "the database does not open: " << s.ToString() << " (" << marked.size()
              << " keys acknowledged)\n";
    return 1;
  }
  int missing = 0;
  for (const auto& [key, want] : marked) {
    std::string got;
    const leveldb::Status r = db->Get(leveldb::ReadOptions(), key, &got);
    if (r.ok() && got == want) continue;
    ++missing;
    std::cout << "key " << key << " was acknowledged but "
              << (r.IsNotFound() ? std::string("is missing")
                  : r.ok()       ? "holds a different value"
                                 : "cannot be read: " + r.ToString())
              << "\n";
  }
  return missing == 0 ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  const std::vector<std::string> args(argv + 1, argv + argc);
  if (args.size() == 2 && args[0] == "workload") return Workload(args[1]);
  if (!args.empty() && args[0] == "check" && args.size() <= 2) {
    if (args.size() == 2 && args[1] != "--paranoid") {
      std::cerr << "leveldb_example: check takes only --paranoid\n";
      return 2;
    }
    return Check(args.size() == 2);
  }
  std::cerr << "usage: leveldb_example workload sync-barrier|async|reopen|torn\n"
               "       leveldb_example check [--paranoid]\n";
  return 2;
}
