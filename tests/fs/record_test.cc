// Goal: `faultfs mount --record LOG` logs every mutation and persistence point an application makes
// through the mount, in order, with the data that reached the backing directory and the backing
// inode of each object; the starting state is copied to LOG.base; markers from `faultfs ctl mark`
// fall in order between the ops. What faultfs only pretends to do (lost writes) is not recorded.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <linux/fs.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "faultfs/record/log.h"
#include "policy_mount.h"

namespace faultfs::testing {
namespace {

using record::Op;
using record::OpKind;

uint64_t InoOf(const std::string& path) {
  struct stat st {};
  EXPECT_EQ(lstat(path.c_str(), &st), 0) << path;
  return static_cast<uint64_t>(st.st_ino);
}

// One line per op, with the fields its kind uses, so a mismatch shows the whole sequence.
std::string Describe(const Op& op) {
  std::string s = std::string(record::OpKindName(op.kind)) + " " + op.path;
  if (!op.path2.empty()) s += " -> " + op.path2;
  switch (op.kind) {
    case OpKind::kWrite:
      s += " @" + std::to_string(op.offset) + " '" + op.data + "'";
      if (op.flags != 0) s += " flags=" + std::to_string(op.flags);
      break;
    case OpKind::kTruncate:
      s += " size=" + std::to_string(op.offset);
      break;
    case OpKind::kFallocate:
      s += " @" + std::to_string(op.offset) + "+" + std::to_string(op.length) +
           " mode=" + std::to_string(op.flags);
      break;
    case OpKind::kCreate:
    case OpKind::kMkdir:
    case OpKind::kChmod: {
      char mode[8];
      std::snprintf(mode, sizeof(mode), "%04o", op.mode);
      s += std::string(" mode=") + mode;
      break;
    }
    case OpKind::kChown:
      s += " uid=" + std::to_string(static_cast<int32_t>(op.uid)) +
           " gid=" + std::to_string(static_cast<int32_t>(op.gid));
      break;
    case OpKind::kRename:
      s += " flags=" + std::to_string(op.flags);
      break;
    case OpKind::kSetxattr:
      s += " '" + op.data + "' flags=" + std::to_string(op.flags);
      break;
    case OpKind::kSymlink:
    case OpKind::kMark:
      s += " '" + op.data + "'";
      break;
    default:
      break;
  }
  return s;
}

std::vector<std::string> DescribeAll(const std::vector<Op>& ops) {
  std::vector<std::string> out;
  for (const Op& op : ops) out.push_back(Describe(op));
  return out;
}

class Record : public PolicyMountTest {
 protected:
  void SetUp() override {
    PolicyMountTest::SetUp();
    umask(022);
    WriteFile(B("pre.txt"), "pre-existing");
  }
  void MountRecording(const std::string& policy = "") { Mount(policy, {"--record", log_}); }
  // Unmounts (the daemon finishes the log as it exits) and reads the log.
  record::ReadLog StopAndRead() {
    const CommandResult stopped = mount_.Stop();
    EXPECT_EQ(stopped.exit_code, 0) << stopped.err;
    auto log = record::ReadLogFile(log_);
    EXPECT_TRUE(log.ok()) << log.status().ToString();
    if (!log.ok()) return {};
    EXPECT_FALSE(log->damage) << log->damage->ToString();
    return std::move(*log);
  }
  CommandResult Ctl(const std::vector<std::string>& args) {
    std::vector<std::string> argv = {FaultfsBinary(), "ctl", mnt_};
    argv.insert(argv.end(), args.begin(), args.end());
    return RunCommand(argv);
  }

  std::string log_ = dir_ / "rec.log";
};

TEST_F(Record, LogsEveryMutationInOrderWithInodesAndData) {
  const uint64_t pre_ino = InoOf(B("pre.txt"));
  MountRecording();
  std::map<std::string, uint64_t> ino;  // expected ino per record, by its Describe() line

  int fd = open(M("pre.txt").c_str(), O_WRONLY | O_TRUNC);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(write(fd, "new", 3), 3);
  close(fd);

  fd = open(M("a").c_str(), O_CREAT | O_EXCL | O_WRONLY, 0644);
  ASSERT_GE(fd, 0);
  const uint64_t a_ino = InoOf(B("a"));
  ASSERT_EQ(write(fd, "hello", 5), 5);
  ASSERT_EQ(pwrite(fd, "XY", 2, 100), 2);
  ASSERT_EQ(fsync(fd), 0);
  ASSERT_EQ(fdatasync(fd), 0);
  ASSERT_EQ(ftruncate(fd, 50), 0);
  ASSERT_EQ(fallocate(fd, 0, 0, 8192), 0);
  close(fd);
  fd = open(M("a").c_str(), O_WRONLY | O_SYNC);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(pwrite(fd, "S", 1, 10), 1);
  close(fd);
  fd = open(M("a").c_str(), O_WRONLY | O_APPEND);  // lands at the end (8192, after fallocate)
  ASSERT_GE(fd, 0);
  ASSERT_EQ(write(fd, "Z", 1), 1);
  close(fd);
  ASSERT_EQ(truncate(M("a").c_str(), 20), 0);
  ASSERT_EQ(chmod(M("a").c_str(), 0600), 0);
  ASSERT_EQ(setxattr(M("a").c_str(), "user.k", "v1", 2, XATTR_CREATE), 0);
  ASSERT_EQ(removexattr(M("a").c_str(), "user.k"), 0);
  ASSERT_EQ(link(M("a").c_str(), M("b").c_str()), 0);
  ASSERT_EQ(symlink("a", M("s").c_str()), 0);
  const uint64_t s_ino = InoOf(B("s"));
  ASSERT_EQ(mkdir(M("d").c_str(), 0755), 0);
  const uint64_t d_ino = InoOf(B("d"));
  ASSERT_EQ(rename(M("a").c_str(), M("d/a2").c_str()), 0);
  ASSERT_EQ(chown(M("d/a2").c_str(), 4321, static_cast<gid_t>(-1)), 0);
  ASSERT_EQ(renameat2(AT_FDCWD, M("b").c_str(), AT_FDCWD, M("c").c_str(), RENAME_NOREPLACE), 0);
  ASSERT_EQ(renameat2(AT_FDCWD, M("c").c_str(), AT_FDCWD, M("s").c_str(), RENAME_EXCHANGE), 0);
  ASSERT_EQ(unlink(M("c").c_str()), 0);  // the symlink, since the exchange
  ASSERT_EQ(mkdir(M("e").c_str(), 0700), 0);
  const uint64_t e_ino = InoOf(B("e"));
  ASSERT_EQ(rmdir(M("e").c_str()), 0);
  fd = open(M("d").c_str(), O_RDONLY | O_DIRECTORY);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(fsync(fd), 0);
  close(fd);
  const CommandResult marked = Ctl({"mark", "acked-1"});
  ASSERT_EQ(marked.exit_code, 0) << marked.err;
  EXPECT_EQ(marked.out, "") << "a workload marks as it runs; the output is the workload's";
  // copy_file_range runs in the daemon (no rules): recorded as a write of what the copy stored.
  const int src = open(M("s").c_str(), O_RDONLY);  // "s" is the file a/d/a2 since the exchange
  const int dst = open(M("copy").c_str(), O_CREAT | O_WRONLY, 0640);
  const uint64_t copy_ino = InoOf(B("copy"));
  ASSERT_GE(src, 0);
  ASSERT_GE(dst, 0);
  loff_t in = 0;
  loff_t out = 4;
  ASSERT_EQ(copy_file_range(src, &in, dst, &out, 5, 0), 5);
  close(src);
  close(dst);

  const record::ReadLog log = StopAndRead();
  const std::vector<std::string> expected = {
      "truncate pre.txt size=0",
      "write pre.txt @0 'new'",
      "create a mode=0644",
      "write a @0 'hello'",
      "write a @100 'XY'",
      "fsync a",
      "fdatasync a",
      "truncate a size=50",
      "fallocate a @0+8192 mode=0",
      "write a @10 'S' flags=2",
      "fsync a",  // the kernel syncs an O_SYNC file after each write (generic_write_sync)
      "write a @8192 'Z'",
      "truncate a size=20",
      "chmod a mode=0600",
      "setxattr a -> user.k 'v1' flags=1",
      "removexattr a -> user.k",
      "link a -> b",
      "symlink s 'a'",
      "mkdir d mode=0755",
      "rename a -> d/a2 flags=0",
      "chown d/a2 uid=4321 gid=-1",
      "rename b -> c flags=1",
      "rename c -> s flags=2",
      "unlink c",
      "mkdir e mode=0700",
      "rmdir e",
      "fsyncdir d",
      "mark  'acked-1'",
      "create copy mode=0640",
      "write copy @4 'hello'",
  };
  EXPECT_EQ(DescribeAll(log.ops), expected);
  ASSERT_EQ(log.ops.size(), expected.size());

  // Which object each record acted on, as backing inodes.
  const std::vector<uint64_t> inodes = {
      pre_ino, pre_ino, a_ino, a_ino, a_ino, a_ino, a_ino, a_ino, a_ino,    a_ino,
      a_ino,   a_ino,   a_ino, a_ino, a_ino, a_ino, a_ino, s_ino, d_ino,    a_ino,
      a_ino,   a_ino,   a_ino, s_ino, e_ino, e_ino, d_ino, 0,     copy_ino, copy_ino};
  ASSERT_EQ(inodes.size(), expected.size());
  for (size_t i = 0; i < inodes.size(); ++i) EXPECT_EQ(log.ops[i].ino, inodes[i]) << expected[i];
  for (size_t i = 0; i < log.ops.size(); ++i) {
    EXPECT_EQ(log.ops[i].seq, i + 1);
    if (log.ops[i].kind == OpKind::kMark) {
      EXPECT_EQ(log.ops[i].pid, 0U) << "markers from faultfs ctl have no caller";
    } else {
      EXPECT_EQ(log.ops[i].pid, static_cast<uint32_t>(getpid())) << expected[i];
    }
  }
  EXPECT_EQ(log.ops[3].length, 5U);

  // The starting state: the snapshot beside the log, and its inodes by name.
  EXPECT_EQ(log.header.snapshot, "rec.log.base");
  EXPECT_EQ(ReadFile(log_ + ".base/pre.txt"), "pre-existing");
  const auto& names = log.header.inodes;
  EXPECT_NE(std::find(names.begin(), names.end(), std::make_pair(pre_ino, std::string("pre.txt"))),
            names.end());
}

TEST_F(Record, WhatACallerMakesKeepsItsOwnerInTheLogAndInCrashStates) {
  // Goal: the file, directory, symlink and fifo a non-root caller makes carry its owner in the
  // log, and a crash state rebuilt from the log has them owned so: a server that runs as its own
  // user (PostgreSQL) must find its files its own after a crash. The negative case: what root
  // makes stays root's.
  constexpr uid_t kUser = 1000;
  constexpr gid_t kGroup = 1000;
  // The user must reach the mount: under /tmp, not under the test root (whose ancestors, in a
  // fresh clone from mktemp -d, only root may enter).
  TempDir shared("record-owner", "/tmp");
  ASSERT_EQ(chmod(shared.path().c_str(), 0755), 0);
  const std::string backing = shared / "backing", mnt = shared / "mnt";
  for (const auto& d : {backing, mnt}) ASSERT_EQ(mkdir(d.c_str(), 0755), 0);
  ASSERT_EQ(mount_.Start(backing, mnt, {"--record", log_, "--allow-other"}), "");
  ASSERT_EQ(chmod(mnt.c_str(), 0777), 0);
  const auto in_mount = [&](const char* name) { return mnt + "/" + name; };
  const pid_t child = fork();
  if (child == 0) {
    if (setgid(kGroup) != 0 || setuid(kUser) != 0) _exit(2);
    const int fd = open(in_mount("f").c_str(), O_CREAT | O_WRONLY, 0640);
    const bool made = fd >= 0 && write(fd, "x", 1) == 1 && close(fd) == 0 &&
                      mkdir(in_mount("d").c_str(), 0750) == 0 &&
                      symlink("f", in_mount("l").c_str()) == 0 &&
                      mkfifo(in_mount("p").c_str(), 0600) == 0;
    _exit(made ? 0 : 3);
  }
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
  WriteFile(in_mount("root-made"), "r");
  const record::ReadLog log = StopAndRead();
  size_t made = 0;
  for (const Op& op : log.ops) {
    if (op.kind != OpKind::kCreate && op.kind != OpKind::kMkdir && op.kind != OpKind::kSymlink &&
        op.kind != OpKind::kMknod)
      continue;
    ++made;
    const uid_t want = op.path == "root-made" ? 0 : kUser;
    EXPECT_EQ(op.uid, want) << Describe(op);
    EXPECT_EQ(op.gid, want == 0 ? 0 : kGroup) << Describe(op);
  }
  EXPECT_EQ(made, 5u);
  const std::string state = dir_ / "state";
  const CommandResult built =
      RunCommand({FaultfsBinary(), "crash", "materialize", log_, "--model", "prefix", "--state",
                  std::to_string(log.ops.size()), "--out", state});
  ASSERT_EQ(built.exit_code, 0) << built.out << built.err;
  for (const char* name : {"f", "d", "l", "p", "root-made"}) {
    struct stat st {};
    ASSERT_EQ(lstat((state + "/" + name).c_str(), &st), 0) << name;
    const bool by_root = std::string(name) == "root-made";
    EXPECT_EQ(st.st_uid, by_root ? 0 : kUser) << name;
    EXPECT_EQ(st.st_gid, by_root ? 0 : kGroup) << name;
  }
}

TEST_F(Record, LostWriteIsNotRecordedButTheShortPartOfAShortWriteIs) {
  MountRecording(R"([[rule]]
ops = ["write"]
path = "lost"
action = "lose"
[[rule]]
ops = ["write"]
path = "short"
action = "short"
short = { bytes = 3 }
)");
  EXPECT_EQ(Write(M("lost"), "gone"), 4) << "success reported";
  EXPECT_EQ(Write(M("short"), "abcdef"), 3);
  EXPECT_EQ(Write(M("kept"), "here"), 4);
  const record::ReadLog log = StopAndRead();
  const std::vector<std::string> expected = {
      "create lost mode=0644", "create short mode=0644", "write short @0 'abc'",
      "create kept mode=0644", "write kept @0 'here'",
  };
  EXPECT_EQ(DescribeAll(log.ops), expected);
}

TEST_F(Record, TornWriteRecordsTheUnitsThatReachedTheDisk) {
  WriteFile(B("t"), std::string(16384, 'A'));
  MountRecording(
      "[[rule]]\nops = [\"write\"]\npath = \"t\"\naction = \"torn\"\ntorn = { unit = 4096, keep = "
      "\"first\" }\n");
  EXPECT_EQ(Write(M("t"), std::string(16384, 'B')), 16384) << "success is reported";
  const std::string disk = ReadFile(B("t"));
  const record::ReadLog log = StopAndRead();
  ASSERT_GE(log.ops.size(), 1U);
  ASSERT_LT(log.ops.size(), 4U) << "never all units";
  for (size_t i = 0; i < log.ops.size(); ++i) {
    EXPECT_EQ(Describe(log.ops[i]),
              "write t @" + std::to_string(i * 4096) + " '" + std::string(4096, 'B') + "'");
  }
  EXPECT_EQ(disk.substr(0, log.ops.size() * 4096), std::string(log.ops.size() * 4096, 'B'));
  EXPECT_EQ(disk.substr(log.ops.size() * 4096), std::string((4 - log.ops.size()) * 4096, 'A'));
}

TEST_F(Record, MountWithoutRecordWritesNoLogAndRefusesMarks) {
  Mount("");
  EXPECT_EQ(Write(M("f"), "x"), 1);
  const CommandResult marked = Ctl({"mark", "nope"});
  EXPECT_NE(marked.exit_code, 0);
  EXPECT_NE(marked.err.find("not recording"), std::string::npos) << marked.err;
  EXPECT_EQ(mount_.Stop().exit_code, 0);
  for (const auto& entry : std::filesystem::directory_iterator(dir_.path())) {
    const std::string name = entry.path().filename();
    EXPECT_TRUE(name == "backing" || name == "mnt" || name == "policy.toml" ||
                name == "events.jsonl" || name == "mnt.daemon.log")
        << name;
  }
}

TEST_F(Record, ExistingLogOrSnapshotIsRefusedAndNothingIsMounted) {
  WriteFile(log_, "earlier recording");
  std::vector<std::string> argv = {FaultfsBinary(), "mount", "--record", log_, backing_, mnt_};
  CommandResult r = RunCommand(argv);
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("exists"), std::string::npos) << r.err;
  EXPECT_FALSE(IsFuseMount(mnt_));
  EXPECT_EQ(ReadFile(log_), "earlier recording") << "the existing log is left alone";

  ASSERT_EQ(unlink(log_.c_str()), 0);
  ASSERT_EQ(mkdir((log_ + ".base").c_str(), 0755), 0);
  r = RunCommand(argv);
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("exists"), std::string::npos) << r.err;
  EXPECT_FALSE(IsFuseMount(mnt_));
  EXPECT_FALSE(std::filesystem::exists(log_)) << "no log without a mount";
}

TEST_F(Record, LogInsideTheBackingDirectoryIsRefused) {
  const CommandResult r =
      RunCommand({FaultfsBinary(), "mount", "--record", B("rec.log"), backing_, mnt_});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("inside"), std::string::npos) << r.err;
  EXPECT_FALSE(IsFuseMount(mnt_));
  EXPECT_FALSE(std::filesystem::exists(B("rec.log")));
  EXPECT_FALSE(std::filesystem::exists(B("rec.log.base")));
}

}  // namespace
}  // namespace faultfs::testing
