// Goal: out-of-range and non-finite policy values sent to a live mount (`ctl add`, `ctl load`) are
// refused with their position while the daemon keeps serving and its rules stay as they were.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "test_support.h"

namespace faultfs::testing {
namespace {

class HostileValues : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(mkdir(backing_.c_str(), 0755), 0);
    ASSERT_EQ(mkdir(mnt_.c_str(), 0755), 0);
    ASSERT_EQ(mount_.Start(backing_, mnt_), "");
  }
  CommandResult Ctl(std::vector<std::string> args) {
    args.insert(args.begin(), {FaultfsBinary(), "ctl", mnt_});
    return RunCommand(args, {}, 60);
  }
  std::string Policy(const std::string& name, const std::string& text) {
    WriteFile(dir_ / name, text);
    return dir_ / name;
  }
  bool WriteOk(const std::string& name) {
    const int fd = open((mnt_ + "/" + name).c_str(), O_CREAT | O_WRONLY | O_TRUNC, 0644);
    const bool ok = fd >= 0 && write(fd, "x", 1) == 1;
    if (fd >= 0) close(fd);
    return ok;
  }

  TempDir dir_{"hostile-values"};
  std::string backing_ = dir_ / "backing";
  std::string mnt_ = dir_ / "mnt";
  FaultfsMount mount_;
};

TEST_F(HostileValues, OverflowingValuesAreRefusedAndTheDaemonKeepsServing) {
  // One rule the daemon holds before: a refused `load` must not replace it.
  ASSERT_EQ(Ctl({"add", Policy("keep.toml",
                               "[[rule]]\nid = \"keep\"\npath = \"never-*\"\n"
                               "action = \"lose\"\n")})
                .exit_code,
            0);
  struct Case {
    std::string keys;  // line 2 of the rule
    std::string action;
    std::string says;
  };
  const std::vector<Case> cases = {
      {"corrupt = { bits = 4294967297 }", "corrupt",
       "policy:2:20: corrupt.bits must be at most 4294967295, got 4294967297"},
      {"misdirect = { shift = 9223372036854775807 }", "misdirect",
       "policy:2:23: misdirect.shift must be within 1 PiB"},
      {"stall = { timeout_s = 9223372036854775807 }", "stall",
       "policy:2:23: stall.timeout_s must be at most 3600 (one hour)"},
      {"short = { fraction = nan }", "short",
       "policy:2:22: short.fraction must be a finite number"},
      {"pid = 4294967297", "lose", "policy:2:7: pid: 4294967297 is out of range"},
      {"errno = { EIO = 1e308 }", "errno", "policy:2:17: weight of EIO must be at most 1000000"},
  };
  int n = 0;
  for (const Case& c : cases) {
    const std::string file = Policy("bad-" + std::to_string(n++) + ".toml",
                                    "[[rule]]\n" + c.keys + "\naction = \"" + c.action + "\"\n");
    for (const char* verb : {"add", "load"}) {
      // Straight to the socket (`faultfs ctl` checks first and would not send it).
      const nlohmann::json reply = SendToMount(mnt_, {{"cmd", verb}, {"policy", ReadFile(file)}});
      const std::string error = reply.value("error", "");
      EXPECT_FALSE(reply.value("ok", true)) << verb << " " << c.keys;
      EXPECT_NE(error.find(c.says), std::string::npos) << verb << " " << c.keys << ": " << error;
    }
    EXPECT_EQ(kill(mount_.daemon_pid(), 0), 0) << "the daemon died after " << c.keys;
    EXPECT_TRUE(WriteOk("alive")) << "after " << c.keys;
  }
  const CommandResult status = Ctl({"status", "--json"});
  ASSERT_EQ(status.exit_code, 0) << status.err;
  EXPECT_EQ(nlohmann::json::parse(status.out)["rules"], 1) << "the held rule is still the only one";
}

}  // namespace
}  // namespace faultfs::testing
