// Goal: the pieces of kernel passthrough that need no mount: the mount asks for it only when it
// may use it (not off, not recording, root) and says why not; a kernel that does not grant it
// leaves it off with that reason; INIT's reply carries the flag and a stacking depth only when
// the kernel offered the flag; and an armed open reply, and only that, is marked passthrough
// with its backing id, in open's reply and in create's.
#include "passthrough_choice.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <linux/fuse.h>
#include <unistd.h>

#include <cstring>
#include <vector>

#include "faultfs/core/unique_fd.h"
#include "fuse_uring_abi.h"
#include "init_patch.h"
#include "open_reply_patch.h"

namespace faultfs::fs {
namespace {

uint32_t Load32(const std::vector<char>& bytes, size_t offset) {
  uint32_t v = 0;
  std::memcpy(&v, bytes.data() + offset, 4);
  return v;
}

TEST(PassthroughChoice, AsksOnlyWhenItMayUseIt) {
  const UniqueFd dir(open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  EXPECT_EQ(AskForPassthrough(PassthroughMode::kAuto, false, true, dir.get()).max_stack_depth, 1U)
      << "the root filesystem here is not a stacked one";
  const PassthroughAsk off = AskForPassthrough(PassthroughMode::kOff, false, true, dir.get());
  EXPECT_EQ(off.max_stack_depth, 0U);
  EXPECT_EQ(off.reason, "--passthrough off");
  const PassthroughAsk recording = AskForPassthrough(PassthroughMode::kAuto, true, true, dir.get());
  EXPECT_EQ(recording.max_stack_depth, 0U);
  EXPECT_NE(recording.reason.find("records"), std::string::npos);
  const PassthroughAsk user = AskForPassthrough(PassthroughMode::kAuto, false, false, dir.get());
  EXPECT_EQ(user.max_stack_depth, 0U);
  EXPECT_NE(user.reason.find("root"), std::string::npos);
}

TEST(PassthroughChoice, AKernelWithoutPassthroughLeavesItOffAndSaysWhy) {
  const PassthroughAsk asked{1, ""};
  const Mount::PassthroughState refused = PassthroughAfterInit(asked, false);
  EXPECT_FALSE(refused.on);
  EXPECT_NE(refused.reason.find("does not offer"), std::string::npos);
  EXPECT_TRUE(PassthroughAfterInit(asked, true).on);
  const Mount::PassthroughState not_asked = PassthroughAfterInit({0, "--passthrough off"}, true);
  EXPECT_FALSE(not_asked.on) << "granted or not, a mount that did not ask does not use it";
  EXPECT_EQ(not_asked.reason, "--passthrough off");
}

TEST(PassthroughChoice, InitReplyAsksWithAStackingDepthOnlyWhenOffered) {
  const auto init_request = [](uint32_t flags2) {
    std::vector<char> bytes(sizeof(fuse_in_header) + 64, 0);
    fuse_in_header in{};
    in.opcode = FUSE_INIT;
    in.unique = 9;
    const auto flags = static_cast<uint32_t>(uring_abi::kInitExt);
    std::memcpy(bytes.data(), &in, sizeof(in));
    std::memcpy(bytes.data() + sizeof(in) + uring_abi::kInitInFlagsOffset, &flags, 4);
    std::memcpy(bytes.data() + sizeof(in) + uring_abi::kInitInFlags2Offset, &flags2, 4);
    return bytes;
  };
  fuse_out_header header{};
  std::vector<char> init_out(64, 0);
  const iovec reply[2] = {{&header, sizeof(header)}, {init_out.data(), init_out.size()}};
  const InitFlags wanted{.flags2 = uring_abi::kPassthroughFlags2, .max_stack_depth = 2};

  InitPatch offered;
  const auto with = init_request(uring_abi::kPassthroughFlags2);
  offered.ObserveRequest(with.data(), with.size());
  std::vector<char> patched;
  ASSERT_TRUE(offered.AddFlags(reply, 2, wanted, patched));
  EXPECT_EQ(Load32(patched, uring_abi::kInitOutFlags2Offset), uring_abi::kPassthroughFlags2);
  EXPECT_EQ(Load32(patched, uring_abi::kInitOutMaxStackDepthOffset), 2U);
  EXPECT_TRUE(offered.Granted(uring_abi::kPassthroughFlags2));

  InitPatch older;
  const auto without = init_request(0);
  older.ObserveRequest(without.data(), without.size());
  ASSERT_TRUE(older.AddFlags(reply, 2, wanted, patched));
  EXPECT_EQ(Load32(patched, uring_abi::kInitOutFlags2Offset), 0U);
  EXPECT_EQ(Load32(patched, uring_abi::kInitOutMaxStackDepthOffset), 0U);
  EXPECT_FALSE(older.Granted(uring_abi::kPassthroughFlags2));
}

TEST(OpenReplyPatchTest, MarksTheArmedReplyOnly) {
  fuse_out_header header{};
  header.error = 0;
  // create's reply: fuse_entry_out, then fuse_open_out.
  std::vector<char> create(sizeof(fuse_entry_out) + sizeof(fuse_open_out), 0);
  fuse_open_out open_out{};
  open_out.fh = 42;
  open_out.open_flags = FOPEN_DIRECT_IO | FOPEN_KEEP_CACHE | FOPEN_NOFLUSH;
  std::memcpy(create.data() + sizeof(fuse_entry_out), &open_out, sizeof(open_out));
  const iovec reply[2] = {{&header, sizeof(header)}, {create.data(), create.size()}};
  std::vector<char> patched;
  EXPECT_FALSE(OpenReplyPatch::Apply(reply, 2, patched)) << "not armed";
  {
    const OpenReplyPatch::Armed armed(5);
    ASSERT_TRUE(OpenReplyPatch::Apply(reply, 2, patched));
    EXPECT_FALSE(OpenReplyPatch::Apply(reply, 2, patched)) << "one reply per arming";
  }
  uring_abi::OpenOut out{};
  std::memcpy(&out, patched.data() + sizeof(fuse_entry_out), sizeof(out));
  EXPECT_EQ(out.fh, 42U);
  EXPECT_EQ(out.backing_id, 5);
  EXPECT_EQ(out.open_flags, FOPEN_NOFLUSH | uring_abi::kOpenPassthrough)
      << "the kernel refuses passthrough beside keep_cache (EIO)";
  EXPECT_EQ(std::memcmp(patched.data(), create.data(), sizeof(fuse_entry_out)), 0);

  const OpenReplyPatch::Armed armed(5);
  header.error = -EIO;
  EXPECT_FALSE(OpenReplyPatch::Apply(reply, 2, patched)) << "an error reply carries no file";
}

}  // namespace
}  // namespace faultfs::fs
