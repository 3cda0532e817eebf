// Goal: `faultfs ctl` drives a live mount through its control socket: every command answers and
// takes effect before it returns; freeze/thaw, stalls and release work on real operations; events
// can be followed; the socket is private and outside the mount, and clients that send garbage or
// vanish mid-request do not disturb the mount.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <future>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>

#include "test_support.h"

namespace faultfs::testing {
namespace {

using Clock = std::chrono::steady_clock;

class Ctl : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(mkdir(backing_.c_str(), 0755), 0);
    ASSERT_EQ(mkdir(mnt_.c_str(), 0755), 0);
    ASSERT_EQ(mount_.Start(backing_, mnt_, {"--events", dir_ / "events.jsonl"}), "");
  }
  CommandResult RunCtl(std::vector<std::string> args) {
    args.insert(args.begin(), {FaultfsBinary(), "ctl", mnt_});
    return RunCommand(args);
  }
  nlohmann::json Json(std::vector<std::string> args) {
    args.push_back("--json");
    const CommandResult r = RunCtl(args);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return nlohmann::json::parse(r.out, nullptr, false);
  }
  std::string Policy(const std::string& name, const std::string& text) {
    std::ofstream(dir_ / name) << text;
    return dir_ / name;
  }
  std::string SocketPath() { return ControlSocketOf(mnt_); }
  bool WriteOk(const std::string& name) {
    const int fd = open((mnt_ + "/" + name).c_str(), O_CREAT | O_WRONLY, 0644);
    const bool ok = fd >= 0 && write(fd, "x", 1) == 1;
    if (fd >= 0) close(fd);
    return ok;
  }

  TempDir dir_{"ctl"};
  std::string backing_ = dir_ / "backing";
  std::string mnt_ = dir_ / "mnt";
  FaultfsMount mount_;
};

TEST_F(Ctl, StatusRulesAddRemoveEnableDisableLoad) {
  EXPECT_EQ(Json({"status"})["rules"], 0);
  const std::string add = Policy("add.toml",
                                 "[[rule]]\nid = \"w\"\nops = [\"write\"]\npath = \"x\"\naction = "
                                 "\"errno\"\nerrno = \"EIO\"\n");
  EXPECT_EQ(Json({"add", add})["added"][0], "w");
  EXPECT_FALSE(WriteOk("x")) << "the rule took effect before ctl returned";
  EXPECT_TRUE(WriteOk("y"));
  const auto rules = Json({"rules"})["rules"];
  ASSERT_EQ(rules.size(), 1U);
  EXPECT_EQ(rules[0]["fired"], 1);
  EXPECT_EQ(rules[0]["matched"], 1);
  // "y" no rule targets: in kernel passthrough its write never reaches the rules.
  EXPECT_GE(rules[0]["evaluated"], PassthroughOn(mnt_) ? 1 : 2);
  EXPECT_EQ(Json({"disable", "w"})["enabled"], false);
  EXPECT_TRUE(WriteOk("x"));
  Json({"enable", "w"});
  EXPECT_FALSE(WriteOk("x"));
  Json({"remove", "w"});
  EXPECT_TRUE(WriteOk("x"));
  const std::string load = Policy("load.toml",
                                  "[[rule]]\nid = \"l\"\nops = [\"write\"]\npath = \"y\"\naction = "
                                  "\"errno\"\nerrno = \"ENOSPC\"\n");
  EXPECT_EQ(Json({"load", load})["loaded"], 1);
  EXPECT_FALSE(WriteOk("y"));
  EXPECT_NE(Json({"stats"})["requests"].get<std::string>().find("write="), std::string::npos);
}

// Goal: ctl works from anywhere inside the mount, as git does from inside a work tree; a path on
// another filesystem below the mount, or outside it, is not taken for the mount.
TEST_F(Ctl, WorksFromInsideTheMount) {
  ASSERT_EQ(mkdir((mnt_ + "/sub").c_str(), 0755), 0);
  ASSERT_EQ(mkdir((mnt_ + "/sub/deeper").c_str(), 0755), 0);
  std::ofstream(mnt_ + "/sub/file") << "x";
  const std::string add = Policy("inside.toml", "[[rule]]\nid = \"inside\"\naction = \"lie\"\n");
  for (const std::string& where :
       {mnt_ + "/sub/deeper", mnt_ + "/sub/file", mnt_ + "/sub/../sub"}) {
    const CommandResult r = RunCommand({FaultfsBinary(), "ctl", where, "status", "--json"});
    ASSERT_EQ(r.exit_code, 0) << where << ": " << r.err;
    EXPECT_EQ(nlohmann::json::parse(r.out)["rules"], 0) << where;
  }
  ASSERT_EQ(RunCommand({FaultfsBinary(), "ctl", mnt_ + "/sub", "add", add}).exit_code, 0);
  EXPECT_EQ(Json({"status"})["rules"], 1) << "the rule reached the mount itself";
  // A tmpfs mounted inside the mount is another filesystem: not this mount's to control.
  ASSERT_EQ(mount("tmpfs", (mnt_ + "/sub/deeper").c_str(), "tmpfs", 0, "size=1m"), 0);
  const CommandResult other = RunCommand({FaultfsBinary(), "ctl", mnt_ + "/sub/deeper", "status"});
  umount2((mnt_ + "/sub/deeper").c_str(), MNT_DETACH);
  EXPECT_EQ(other.exit_code, 1) << other.out;
  EXPECT_NE(other.err.find("is not a faultfs mount"), std::string::npos) << other.err;
  const CommandResult outside = RunCommand({FaultfsBinary(), "ctl", backing_, "status"});
  EXPECT_EQ(outside.exit_code, 1);
}

// Goal: the human form of ctl's answers is lines of "key: value", nested fields indented, with no
// raw JSON; an empty rule list says so instead of printing a bare header.
TEST_F(Ctl, HumanOutputHasNoRawJson) {
  const CommandResult none = RunCtl({"rules"});
  ASSERT_EQ(none.exit_code, 0) << none.err;
  EXPECT_EQ(none.out.rfind("no rules\n", 0), 0U) << none.out;
  ASSERT_EQ(
      RunCtl({"add", Policy("cap.toml", "[capacity]\nbytes = \"1 MiB\"\ninodes = 50\n")}).exit_code,
      0);
  const CommandResult status = RunCtl({"status"});
  ASSERT_EQ(status.exit_code, 0) << status.err;
  EXPECT_EQ(status.out.find('{'), std::string::npos) << status.out;
  EXPECT_NE(status.out.find("capacity:\n"), std::string::npos) << status.out;
  EXPECT_NE(status.out.find("\n  bytes: 1048576\n"), std::string::npos) << status.out;
  EXPECT_NE(status.out.find("\n  inodes: 50\n"), std::string::npos) << status.out;
  EXPECT_NE(status.out.find("\nfrozen: false\n"), std::string::npos) << status.out;
}

// Goal: `ctl events` shows what already happened (the latest 1,000 are kept), without an
// --events file: the last 20 by default, --last N, all of them in --json; none when none fired.
TEST_F(Ctl, EventsShowTheLatestOnesWithoutAFile) {
  const CommandResult none = RunCtl({"events"});
  ASSERT_EQ(none.exit_code, 0) << none.err;
  EXPECT_EQ(none.out, "events: 0 in all\n");
  Json({"add", Policy("e.toml",
                      "[[rule]]\nid = \"e\"\nops = [\"write\"]\npath = \"f*\"\n"
                      "action = \"errno\"\nerrno = \"EIO\"\n")});
  for (int i = 0; i < 30; ++i) EXPECT_FALSE(WriteOk("f" + std::to_string(i)));
  const CommandResult shown = RunCtl({"events"});
  ASSERT_EQ(shown.exit_code, 0) << shown.err;
  EXPECT_NE(shown.out.find("events: 30 in all, the last 20 shown\n"), std::string::npos)
      << shown.out;
  EXPECT_EQ(shown.out.find("\"path\":\"f9\""), std::string::npos) << "older than the last 20";
  EXPECT_NE(shown.out.find("\"path\":\"f10\""), std::string::npos) << shown.out;
  EXPECT_NE(shown.out.find("\"path\":\"f29\""), std::string::npos) << shown.out;
  const auto last5 = Json({"events", "--last", "5"});
  ASSERT_EQ(last5["recent"].size(), 5U);
  EXPECT_EQ(last5["recent"][0]["path"], "f25");
  EXPECT_EQ(last5["recent"][4]["path"], "f29");
  EXPECT_EQ(last5["recent"][4]["result"], "EIO");
  EXPECT_EQ(last5["events"], 30);
  EXPECT_EQ(RunCtl({"events", "--last", "1001"}).exit_code, 2) << "at most 1000 are kept";
}

TEST_F(Ctl, BadCommandsFailClearly) {
  CommandResult r = RunCtl({"frobnicate"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("unknown command 'frobnicate'"), std::string::npos) << r.err;
  r = RunCtl({"remove", "ghost"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("no rule 'ghost'"), std::string::npos) << r.err;
  // A broken policy file is refused before it is sent, every error with the file's name.
  const std::string bad = Policy("bad.toml", "[[rule]]\naction = \"nope\"\nops = [\"wrte\"]\n");
  r = RunCtl({"add", bad});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("\n" + bad + ":2:10: unknown action 'nope'"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("\n" + bad + ":3:8: unknown op 'wrte'; did you mean 'write'?"),
            std::string::npos)
      << r.err;
  EXPECT_EQ(Json({"rules"})["rules"].size(), 0U) << "nothing of it reached the mount";
  // What the mount itself refuses (an id it already has) names the file too.
  const std::string first = Policy("first.toml", "[[rule]]\nid = \"same\"\naction = \"lie\"\n");
  const std::string again = Policy("again.toml", "[[rule]]\nid = \"same\"\naction = \"lose\"\n");
  ASSERT_EQ(RunCtl({"add", first}).exit_code, 0);
  r = RunCtl({"add", again});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("faultfs ctl: " + again + ": "), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("same"), std::string::npos) << r.err;
  r = RunCtl({"add"});
  EXPECT_EQ(r.exit_code, 2);
  r = RunCommand({FaultfsBinary(), "ctl", dir_ / "nowhere", "status"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("not a faultfs mount"), std::string::npos) << r.err;
}

TEST_F(Ctl, FreezeHoldsEveryOperationUntilThaw) {
  Json({"freeze"});
  EXPECT_EQ(Json({"status"})["frozen"], true);
  auto pending = std::async(std::launch::async, [&] { return WriteOk("during-freeze"); });
  EXPECT_EQ(pending.wait_for(std::chrono::milliseconds(300)), std::future_status::timeout)
      << "the write waits";
  // What the freeze holds is counted (and is not "stalled", which is the stall rules').
  nlohmann::json status;
  for (int i = 0; i < 500; ++i) {
    status = Json({"status"});
    if (status["held_by_freeze"] != 0) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_GE(status["held_by_freeze"], 1) << status.dump();
  EXPECT_EQ(status["stalled"], 0) << status.dump();
  Json({"thaw"});
  EXPECT_EQ(pending.wait_for(std::chrono::seconds(5)), std::future_status::ready);
  EXPECT_TRUE(pending.get());
  EXPECT_EQ(Json({"status"})["frozen"], false);
  EXPECT_EQ(Json({"status"})["held_by_freeze"], 0);
}

TEST_F(Ctl, ReleaseEndsAStall) {
  Json({"add", Policy("stall.toml",
                      "[[rule]]\nid = \"s\"\nops = [\"write\"]\npath = \"held\"\naction = "
                      "\"stall\"\nstall = { timeout_s = 60 }\n")});
  const auto start = Clock::now();
  auto pending = std::async(std::launch::async, [&] { return WriteOk("held"); });
  for (int i = 0; i < 100 && Json({"status"})["stalled"] == 0; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  EXPECT_EQ(Json({"status"})["stalled"], 1);
  EXPECT_TRUE(WriteOk("not-held")) << "other files are not stalled";
  const CommandResult r = RunCtl({"release", "--wait"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(pending.get());
  EXPECT_LT(std::chrono::duration<double>(Clock::now() - start).count(), 10)
      << "released, not timed out";
}

TEST_F(Ctl, EventsCanBeFollowed) {
  Json({"add", Policy("e.toml",
                      "[[rule]]\nid = \"e\"\nops = [\"write\"]\npath = \"ev\"\naction = "
                      "\"errno\"\nerrno = \"EIO\"\n")});
  // The follower needs a moment to subscribe, longer on a busy machine or under a sanitizer:
  // faulting writes go on for 4 s of its 8, so that it sees some whenever it got there.
  auto follower = std::async(std::launch::async, [&] {
    return RunCommand(
        {"timeout", "-s", "INT", "8", FaultfsBinary(), "ctl", mnt_, "events", "--follow"}, {}, 20);
  });
  int writes = 0;
  for (; writes < 16; ++writes) {
    EXPECT_FALSE(WriteOk("ev"));
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
  }
  const CommandResult r = follower.get();
  EXPECT_NE(r.out.find("\"rule\":\"e\""), std::string::npos)
      << "the follower saw the events: " << r.out;
  EXPECT_EQ(Json({"events"})["events"], writes);
}

TEST_F(Ctl, SocketIsPrivateAndOutsideTheMount) {
  const std::string path = SocketPath();
  ASSERT_FALSE(path.empty());
  struct stat st {};
  ASSERT_EQ(stat(path.c_str(), &st), 0);
  EXPECT_TRUE(S_ISSOCK(st.st_mode));
  EXPECT_EQ(st.st_mode & 0777, 0600U);
  EXPECT_NE(path.rfind(mnt_, 0), 0U) << "never inside the mount";
}

TEST_F(Ctl, GarbageAndVanishingClientsDoNotDisturbTheMount) {
  const std::string path = SocketPath();
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", path.c_str());
  for (const std::string& junk : {std::string("\x00\xff\xfe garbage\n", 13),
                                  std::string("{\"cmd\":\"sta"), std::string(100000, 'x')}) {
    const int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    ASSERT_EQ(connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
    (void)!send(fd, junk.data(), junk.size(), MSG_NOSIGNAL);
    close(fd);  // mid-request
  }
  const int fd = socket(AF_UNIX, SOCK_STREAM, 0);
  ASSERT_EQ(connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  const std::string bad = "not json at all\n";
  (void)!send(fd, bad.data(), bad.size(), MSG_NOSIGNAL);
  char reply[512] = {};
  ASSERT_GT(recv(fd, reply, sizeof(reply) - 1, 0), 0);
  EXPECT_NE(std::string(reply).find("\"ok\":false"), std::string::npos) << reply;
  close(fd);
  EXPECT_EQ(Json({"status"})["frozen"], false) << "still answering";
  EXPECT_TRUE(WriteOk("after-garbage")) << "the mount still works";
}

}  // namespace
}  // namespace faultfs::testing
