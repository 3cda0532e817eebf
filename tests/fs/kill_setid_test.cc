// Goal: the daemon's side of FUSE_HANDLE_KILLPRIV_V2 reads the kernel's "kill set-id bits" flag
// from WRITE, SETATTR, OPEN and CREATE requests (and from nothing else), clears the bits Linux
// clears for a caller without CAP_FSETID, and the INIT reply asks only for capabilities the
// kernel offered.
#include "kill_setid.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <linux/fuse.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <string>
#include <vector>

#include "current_request.h"
#include "fuse_uring_abi.h"
#include "init_patch.h"
#include "test_support.h"

namespace faultfs::fs {
namespace {

// A request of `opcode` whose first argument is `arg`.
template <typename Arg>
std::vector<char> Request(uint32_t opcode, const Arg& arg) {
  fuse_in_header in{};
  in.opcode = opcode;
  in.len = static_cast<uint32_t>(sizeof(in) + sizeof(arg));
  std::vector<char> bytes(sizeof(in) + sizeof(arg));
  std::memcpy(bytes.data(), &in, sizeof(in));
  std::memcpy(bytes.data() + sizeof(in), &arg, sizeof(arg));
  return bytes;
}

bool KillsWhileServing(const std::vector<char>& request, size_t size) {
  const CurrentRequest current(request.data(), size);
  return RequestKillsSetId();
}

TEST(KillSetIdTest, TheFlagIsReadFromWriteSetattrOpenAndCreate) {
  fuse_write_in w{};
  w.write_flags = FUSE_WRITE_KILL_SUIDGID;
  const auto write_kill = Request(FUSE_WRITE, w);
  EXPECT_TRUE(KillsWhileServing(write_kill, write_kill.size()));
  EXPECT_FALSE(KillsWhileServing(write_kill, write_kill.size() - 1)) << "a truncated request";
  w.write_flags = FUSE_WRITE_CACHE | FUSE_WRITE_LOCKOWNER;
  const auto write_keep = Request(FUSE_WRITE, w);
  EXPECT_FALSE(KillsWhileServing(write_keep, write_keep.size()));

  fuse_setattr_in s{};
  s.valid = FATTR_SIZE | FATTR_KILL_SUIDGID;
  const auto truncate_kill = Request(FUSE_SETATTR, s);
  EXPECT_TRUE(KillsWhileServing(truncate_kill, truncate_kill.size()));
  s.valid = FATTR_SIZE;
  const auto truncate_keep = Request(FUSE_SETATTR, s);
  EXPECT_FALSE(KillsWhileServing(truncate_keep, truncate_keep.size()));
  // What a passthrough write by an unprivileged caller sends: a SETATTR that sets nothing.
  s.valid = FATTR_FH;
  const auto after_passthrough_write = Request(FUSE_SETATTR, s);
  EXPECT_TRUE(KillsWhileServing(after_passthrough_write, after_passthrough_write.size()));
  s.valid = FATTR_CTIME;  // chown(-1, -1) sets the change time only
  const auto touch_ctime = Request(FUSE_SETATTR, s);
  EXPECT_FALSE(KillsWhileServing(touch_ctime, touch_ctime.size()));

  fuse_open_in o{};
  o.flags = O_WRONLY | O_TRUNC;
  o.open_flags = FUSE_OPEN_KILL_SUIDGID;
  const auto open_kill = Request(FUSE_OPEN, o);
  EXPECT_TRUE(KillsWhileServing(open_kill, open_kill.size()));
  fuse_create_in c{};
  c.flags = O_CREAT | O_WRONLY | O_TRUNC;
  c.open_flags = FUSE_OPEN_KILL_SUIDGID;  // O_CREAT | O_TRUNC of a file that exists
  const auto create_kill = Request(FUSE_CREATE, c);
  EXPECT_TRUE(KillsWhileServing(create_kill, create_kill.size()));
  c.open_flags = 0;
  const auto create_keep = Request(FUSE_CREATE, c);
  EXPECT_FALSE(KillsWhileServing(create_keep, create_keep.size()));
  // The same bit in another op's first argument means something else.
  const auto mkdir_bits = Request(FUSE_MKDIR, o);
  EXPECT_FALSE(KillsWhileServing(mkdir_bits, mkdir_bits.size()));
  EXPECT_FALSE(RequestKillsSetId()) << "no request being served";
}

class KillSetIdFile : public ::testing::Test {
 protected:
  mode_t ModeAfterKill(mode_t mode, bool in_group, bool* changed = nullptr) {
    const std::string path = dir_.path() + "/f";
    unlink(path.c_str());
    const int fd = open(path.c_str(), O_CREAT | O_RDWR | O_CLOEXEC, 0600);
    EXPECT_GE(fd, 0);
    EXPECT_EQ(fchmod(fd, mode), 0);
    const bool did = KillSetId(fd, [in_group](gid_t) { return in_group; });
    if (changed != nullptr) *changed = did;
    struct stat st {};
    EXPECT_EQ(fstat(fd, &st), 0);
    close(fd);
    return st.st_mode & 07777;
  }
  testing::TempDir dir_{"kill-setid"};
};

TEST_F(KillSetIdFile, ClearsWhatLinuxClearsForAnUnprivilegedWriter) {
  EXPECT_EQ(ModeAfterKill(06777, true), 0777U) << "setuid always; setgid with group-execute";
  EXPECT_EQ(ModeAfterKill(04644, true), 0644U);
  EXPECT_EQ(ModeAfterKill(02666, true), 02666U) << "setgid without group-execute, in the group";
  EXPECT_EQ(ModeAfterKill(02666, false), 0666U) << "... and outside it";
  bool changed = true;
  EXPECT_EQ(ModeAfterKill(0755, false, &changed), 0755U);
  EXPECT_FALSE(changed) << "a file without set-id bits is left alone";
}

TEST(InitPatchTest, AsksOnlyForWhatTheKernelOffered) {
  const auto init_request = [](uint32_t flags, uint32_t flags2) {
    std::vector<char> bytes(sizeof(fuse_in_header) + 64, 0);
    fuse_in_header in{};
    in.opcode = FUSE_INIT;
    in.unique = 7;
    std::memcpy(bytes.data(), &in, sizeof(in));
    std::memcpy(bytes.data() + sizeof(in) + uring_abi::kInitInFlagsOffset, &flags, 4);
    std::memcpy(bytes.data() + sizeof(in) + uring_abi::kInitInFlags2Offset, &flags2, 4);
    return bytes;
  };
  const auto flags_of = [](const std::vector<char>& out, size_t offset) {
    uint32_t v = 0;
    std::memcpy(&v, out.data() + offset, 4);
    return v;
  };
  fuse_out_header header{};
  std::vector<char> init_out(64, 0);
  const iovec reply[2] = {{&header, sizeof(header)}, {init_out.data(), init_out.size()}};
  const InitFlags wanted{.flags = FUSE_HANDLE_KILLPRIV_V2,
                         .flags2 = uring_abi::kDirectIoAllowMmapFlags2};

  InitPatch offered;
  const auto all = init_request(FUSE_HANDLE_KILLPRIV_V2 | uring_abi::kInitExt,
                                uring_abi::kDirectIoAllowMmapFlags2);
  offered.ObserveRequest(all.data(), all.size());
  EXPECT_TRUE(offered.IsInitReply(7));
  std::vector<char> patched;
  ASSERT_TRUE(offered.AddFlags(reply, 2, wanted, patched));
  EXPECT_EQ(flags_of(patched, uring_abi::kInitOutFlagsOffset),
            FUSE_HANDLE_KILLPRIV_V2 | static_cast<uint32_t>(uring_abi::kInitExt));
  EXPECT_EQ(flags_of(patched, uring_abi::kInitOutFlags2Offset),
            uring_abi::kDirectIoAllowMmapFlags2);

  InitPatch old_kernel;  // offers neither (no FUSE_INIT_EXT at all)
  const auto none = init_request(0, uring_abi::kDirectIoAllowMmapFlags2);
  old_kernel.ObserveRequest(none.data(), none.size());
  ASSERT_TRUE(old_kernel.AddFlags(reply, 2, wanted, patched));
  EXPECT_EQ(flags_of(patched, uring_abi::kInitOutFlagsOffset), 0U);
  EXPECT_EQ(flags_of(patched, uring_abi::kInitOutFlags2Offset), 0U);
  EXPECT_FALSE(old_kernel.AddFlags(reply, 1, wanted, patched)) << "not shaped like INIT's reply";
}

}  // namespace
}  // namespace faultfs::fs
