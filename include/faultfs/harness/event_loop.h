// An asio::io_context run by one thread of its own, for whoever needs the harness's sockets served
// in the background (the run, tests). Destroying it stops the loop and joins the thread; objects
// served on it (proxies, clients) should be stopped first.
#pragma once

#include <asio/executor_work_guard.hpp>
#include <asio/io_context.hpp>
#include <thread>

namespace faultfs::harness {

class EventLoop {
 public:
  EventLoop() : thread_([this] { io_.run(); }) {}
  ~EventLoop() {
    work_.reset();
    io_.stop();
    thread_.join();
  }
  EventLoop(const EventLoop&) = delete;
  EventLoop& operator=(const EventLoop&) = delete;
  asio::io_context& context() { return io_; }

 private:
  asio::io_context io_;
  asio::executor_work_guard<asio::io_context::executor_type> work_ = asio::make_work_guard(io_);
  std::thread thread_;
};

}  // namespace faultfs::harness
