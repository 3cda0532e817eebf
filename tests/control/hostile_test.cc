// Goal: whatever clients do to the control socket (stay silent, trickle bytes, never read their
// replies, send garbage or endless lines, open a thousand connections, flood the command queue,
// follow events without reading), the server keeps serving, closes what is idle, and thaw,
// release and status always get through. No handler exception or malformed text stops it.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <future>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "faultfs/control/server.h"

namespace faultfs::control {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

// Answers every command; `add` (and `status`, when block_status is set) waits until released
// (a slow command), `load` throws, `mark` replies with bytes that are not UTF-8, `rules` replies
// with 1 MiB.
class FakeHandler : public Handler {
 public:
  Result<nlohmann::json> Handle(const Command& command) override {
    if (std::holds_alternative<AddRules>(command) ||
        (block_status && std::holds_alternative<GetStatus>(command))) {
      std::unique_lock lock(mu_);
      ++adds_waiting_;
      cv_.notify_all();
      cv_.wait(lock, [&] { return released_; });
      --adds_waiting_;
      return nlohmann::json{{"added", 0}};
    }
    if (std::holds_alternative<LoadPolicy>(command)) throw std::runtime_error("handler bug");
    if (std::holds_alternative<AddMark>(command)) return Status::Invalid("bad \xff\xfe bytes");
    if (std::holds_alternative<ListRules>(command)) {
      return nlohmann::json{{"rules", std::string(1 << 20, 'r')}};
    }
    if (std::holds_alternative<ThawMount>(command)) ++thaws;
    return nlohmann::json{{"served", true}};
  }
  void SubscribeEvents(std::function<bool(const std::string&)> sink) override {
    std::lock_guard lock(mu_);
    sinks_.push_back(std::move(sink));
  }
  // Sends `event` to every subscribed follower; returns how many are still subscribed.
  size_t Publish(const std::string& event) {
    std::lock_guard lock(mu_);
    std::erase_if(sinks_, [&](auto& sink) { return !sink(event); });
    return sinks_.size();
  }
  void WaitForAdds(int n) {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [&] { return adds_waiting_ >= n; });
  }
  void Release() {
    std::lock_guard lock(mu_);
    released_ = true;
    cv_.notify_all();
  }
  std::atomic<int> thaws{0};
  std::atomic<bool> block_status{false};

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  int adds_waiting_ = 0;
  bool released_ = false;
  std::vector<std::function<bool(const std::string&)>> sinks_;
};

class HostileControl : public ::testing::Test {
 protected:
  void Start(ServerOptions options) {
    ASSERT_NE(mkdtemp(dir_.data()), nullptr);
    path_ = dir_ + "/control.sock";
    auto server = Server::Start(path_, handler_, options);
    ASSERT_TRUE(server.ok()) << server.status().ToString();
    server_ = std::move(*server);
  }
  void TearDown() override {
    handler_.Release();
    for (int fd : fds_) close(fd);
    server_.reset();
    rmdir(dir_.c_str());
  }
  // A raw connection, closed at the end of the test; its receives give up after 30 s.
  int Connect() {
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", path_.c_str());
    const int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    EXPECT_EQ(connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0) << errno;
    timeval tv{30, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    fds_.push_back(fd);
    return fd;
  }
  static void Send(int fd, const std::string& text) {
    (void)!send(fd, text.data(), text.size(), MSG_NOSIGNAL);
  }
  // Reads until the server closes the connection: true if it did (EOF or reset) before 30 s.
  static bool ClosedByServer(int fd) {
    char buf[65536];
    for (;;) {
      const ssize_t n = recv(fd, buf, sizeof(buf), 0);
      if (n == 0 || (n < 0 && errno == ECONNRESET)) return true;
      if (n < 0) return false;  // the 30 s receive timeout
    }
  }
  // One command through the real client, and whether it answered ok.
  bool Ok(const std::string& cmd) {
    auto reply = Request(path_, {{"cmd", cmd}});
    return reply.ok() && reply->value("ok", false);
  }

  std::string dir_ = ::testing::TempDir() + "control-XXXXXX";
  std::string path_;
  FakeHandler handler_;
  std::unique_ptr<Server> server_;
  std::vector<int> fds_;
};

TEST_F(HostileControl, SilentConnectionsAreClosedAfterTheIdleTimeout) {
  Start({.idle_timeout = milliseconds(200)});
  const int silent = Connect();
  EXPECT_TRUE(ClosedByServer(silent));
  // One that asked once and then went silent is closed too.
  const int once = Connect();
  Send(once, "{\"cmd\":\"status\"}\n");
  EXPECT_TRUE(ClosedByServer(once));
  EXPECT_TRUE(Ok("status"));
}

TEST_F(HostileControl, TricklingSendersAreClosedAfterTheIdleTimeout) {
  // A whole request must arrive within the timeout; a byte now and then does not keep a slot.
  Start({.idle_timeout = milliseconds(300)});
  const int trickle = Connect();
  std::atomic<bool> closed{false};
  std::thread sender([&] {
    for (int i = 0; i < 600 && !closed; ++i) {
      Send(trickle, "{");
      std::this_thread::sleep_for(milliseconds(50));
    }
  });
  EXPECT_TRUE(ClosedByServer(trickle));
  closed = true;
  sender.join();
}

TEST_F(HostileControl, ReadersThatNeverReadAreClosed) {
  Start({.idle_timeout = milliseconds(300)});
  const int lazy = Connect();
  int size = 4096;  // a small receive buffer fills at once
  setsockopt(lazy, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
  for (int i = 0; i < 8; ++i) Send(lazy, "{\"cmd\":\"rules\"}\n");  // 1 MiB replies, unread
  EXPECT_TRUE(Ok("status")) << "others are served meanwhile";
  std::this_thread::sleep_for(std::chrono::seconds(2));  // well past the timeout, unread
  size_t received = 0;
  char buf[65536];
  for (ssize_t n; (n = recv(lazy, buf, sizeof(buf), 0)) > 0;) received += static_cast<size_t>(n);
  EXPECT_LT(received, 2U << 20) << "the server gave up on the first reply, not sent all 8 MiB";
}

TEST_F(HostileControl, ThawGetsThroughAThousandConnections) {
  // Idle ones, garbage senders, endless lines and unread replies take every slot many times over;
  // a new client still gets one (the longest idle gives it up) and is answered.
  Start({.idle_timeout = milliseconds(60'000), .max_connections = 64});
  const std::string endless(200'000, 'x');
  for (int i = 0; i < 1000; ++i) {
    const int fd = Connect();
    if (i % 4 == 1) Send(fd, "\x01\x02 garbage\n{\"cmd\":");
    if (i % 4 == 2) Send(fd, endless);
    if (i % 4 == 3) Send(fd, "{\"cmd\":\"rules\"}\n");
    if (fds_.size() > 900) {  // this process's descriptors: keep the last ones only
      close(fds_.front());
      fds_.erase(fds_.begin());
    }
  }
  for (const char* cmd : {"thaw", "release", "status"}) EXPECT_TRUE(Ok(cmd)) << cmd;
  EXPECT_EQ(handler_.thaws.load(), 1);
}

TEST_F(HostileControl, ThawGetsThroughWhenEverySlotIsBusy) {
  // 64 connections each wait for a command that does not end: no slot is idle, none can be
  // taken. A reserved slot still serves thaw, release and status, once per connection.
  Start({.max_connections = 64});
  handler_.block_status = true;
  for (int i = 0; i < 64; ++i) Send(Connect(), "{\"cmd\":\"status\"}\n");
  handler_.WaitForAdds(1);  // the first of them runs (and blocks); the others wait behind it
  // Polled: the server takes the 64 in as fast as it can, and only then is every slot busy.
  bool saturated = false;
  for (int i = 0; i < 600 && !saturated; ++i) {
    auto other = Request(path_, {{"cmd", "rules"}});
    ASSERT_TRUE(other.ok()) << other.status().ToString();
    saturated =
        other->value("error", "").find("only thaw, release and status") != std::string::npos;
    if (!saturated) std::this_thread::sleep_for(milliseconds(50));
  }
  ASSERT_TRUE(saturated) << "other commands are refused in a reserved slot";
  for (const char* cmd : {"thaw", "release", "thaw"}) EXPECT_TRUE(Ok(cmd)) << cmd;
  EXPECT_EQ(handler_.thaws.load(), 2);
}

TEST_F(HostileControl, UnblockingCommandsNeverWaitBehindTheQueue) {
  Start({});
  // Slow commands: two run, 32 wait, and the 8 beyond that are turned away at once. The two are
  // sent first and running before the others come: on a busy machine a lane may not have taken
  // its command from the queue yet when the rest arrive, and then more than 8 find it full.
  constexpr size_t kExtra = 8;
  std::vector<std::future<Result<nlohmann::json>>> adds;
  // Declared after `adds`, so destroyed before them: a failed assertion still lets the waiting
  // requests finish instead of joining them forever.
  struct ReleaseAtEnd {
    FakeHandler& handler;
    ~ReleaseAtEnd() { handler.Release(); }
  } release_at_end{handler_};
  auto add = [&] {
    adds.push_back(std::async(std::launch::async, [&] {
      return Request(path_, {{"cmd", "add"}, {"policy", ""}});
    }));
  };
  for (size_t i = 0; i < 2; ++i) add();
  handler_.WaitForAdds(2);
  for (size_t i = 0; i < Server::kMaxQueued + kExtra; ++i) add();
  size_t busy = 0;
  const auto give_up = Clock::now() + std::chrono::seconds(120);
  while (busy < kExtra && Clock::now() < give_up) {
    busy = 0;
    for (auto& a : adds) {
      if (a.wait_for(milliseconds(0)) != std::future_status::ready) continue;
      ++busy;
    }
    std::this_thread::sleep_for(milliseconds(20));
  }
  ASSERT_EQ(busy, kExtra) << "only what the queue cannot hold is answered before the release";
  for (const char* cmd : {"thaw", "release", "status"}) EXPECT_TRUE(Ok(cmd)) << cmd;
  handler_.Release();
  size_t ok = 0;
  for (auto& a : adds) {
    auto r = a.get();
    ASSERT_TRUE(r.ok());
    if (r->value("ok", false)) {
      ++ok;
    } else {
      EXPECT_NE(r->value("error", "").find("busy"), std::string::npos) << r->dump();
    }
  }
  EXPECT_EQ(ok, 2 + Server::kMaxQueued);
}

TEST_F(HostileControl, HandlerExceptionsAndBadBytesAreReplies) {
  Start({});
  auto thrown = Request(path_, {{"cmd", "load"}, {"policy", ""}});
  ASSERT_TRUE(thrown.ok());
  EXPECT_EQ(thrown->value("error", ""), "internal error: handler bug");
  auto bytes = Request(path_, {{"cmd", "mark"}, {"text", "m"}});
  ASSERT_TRUE(bytes.ok()) << bytes.status().ToString();
  EXPECT_FALSE(bytes->value("ok", true));
  EXPECT_TRUE(Ok("status")) << "still serving";
}

TEST_F(HostileControl, EndlessLinesAreRefusedAndEmptyLinesDoNotStarveOthers) {
  Start({});
  const int endless = Connect();
  std::thread pour([&] { Send(endless, std::string((1 << 20) + 10, 'x')); });
  char reply[4096] = {};
  ASSERT_GT(recv(endless, reply, sizeof(reply) - 1, 0), 0);
  EXPECT_NE(std::string(reply).find("request longer than 1 MiB"), std::string::npos) << reply;
  EXPECT_TRUE(ClosedByServer(endless));
  pour.join();
  // 1 MiB of empty lines: a million error replies, served in turns with everyone else.
  const int chatty = Connect();
  std::thread flood([&] { Send(chatty, std::string(1 << 20, '\n')); });
  EXPECT_TRUE(Ok("status"));
  shutdown(chatty, SHUT_RDWR);
  flood.join();
}

TEST_F(HostileControl, FollowersAreBoundedAndNeverBlockEvents) {
  Start({});
  std::vector<int> followers;
  for (size_t i = 0; i < Server::kMaxFollowers; ++i) {
    followers.push_back(Connect());
    Send(followers.back(), "{\"cmd\":\"events\",\"follow\":true}\n");
    char reply[256] = {};
    ASSERT_GT(recv(followers.back(), reply, sizeof(reply) - 1, 0), 0);
    ASSERT_NE(std::string(reply).find("following"), std::string::npos) << reply;
  }
  auto refused = Request(path_, {{"cmd", "events"}, {"follow", true}});
  ASSERT_TRUE(refused.ok());
  EXPECT_NE(refused->value("error", "").find("too many event followers"), std::string::npos);
  // Nobody reads: a million events are queued or dropped, never waited for.
  const auto start = Clock::now();
  for (int i = 0; i < 1'000'000; ++i) handler_.Publish("{\"event\":" + std::to_string(i) + "}");
  EXPECT_LT(std::chrono::duration<double>(Clock::now() - start).count(), 60);
  EXPECT_TRUE(Ok("status"));
  close(followers[0]);  // a follower that leaves frees its slot
  fds_.erase(std::find(fds_.begin(), fds_.end(), followers[0]));
  bool followed = false;
  for (int i = 0; i < 200 && !followed; ++i) {
    const int again = Connect();
    Send(again, "{\"cmd\":\"events\",\"follow\":true}\n");
    char reply[256] = {};
    followed = recv(again, reply, sizeof(reply) - 1, 0) > 0 &&
               std::string(reply).find("\"following\":true") != std::string::npos;
    if (!followed) std::this_thread::sleep_for(milliseconds(50));
  }
  EXPECT_TRUE(followed);
}

}  // namespace
}  // namespace faultfs::control
