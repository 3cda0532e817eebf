// The shared state of one proxy: its toxics and counters (locked: the run reads and changes them
// from its own thread), its listener and its connections (the strand's alone).
#pragma once

#include <asio/awaitable.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/strand.hpp>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "faultfs/core/mutex.h"
#include "faultfs/harness/proxy.h"
#include "toxics.h"

namespace faultfs::harness {
namespace proxy {
class Connection;
using Strand = asio::strand<asio::io_context::executor_type>;
using ToxicList = std::shared_ptr<const std::vector<ActiveToxic>>;
// Runs a coroutine on the strand; one that throws is a bug (every socket error is a value).
void Spawn(Strand& strand, asio::awaitable<void> coroutine);
}  // namespace proxy

class Proxy::Link : public std::enable_shared_from_this<Proxy::Link> {
 public:
  Link(asio::io_context& io, ProxyOptions options);
  Status Listen();
  void StartAccepting();

  // Any thread.
  Status Add(Toxic toxic);
  Status Remove(const std::string& name);
  void Clear();
  std::vector<ToxicState> List() const;
  ProxyCounters Counters() const;
  void SetTargetPort(uint16_t port);
  void Stop();
  uint16_t port() const { return port_; }
  const ProxyOptions& options() const { return options_; }

  // For connections (on the strand).
  proxy::Strand& strand() { return strand_; }
  proxy::ToxicList toxics() const;
  asio::ip::tcp::endpoint target() const;
  uint64_t NextFrameSeq() { return next_frame_seq_++; }
  template <typename F>
  void Count(F&& update) {
    MutexLock lock(mu_);
    update(counters_);
  }

 private:
  asio::awaitable<void> AcceptLoop();
  void Admit(asio::ip::tcp::socket socket);
  // Posts a wake-up to every connection: toxics changed.
  void KickAll();
  void Replace(std::vector<proxy::ActiveToxic> toxics) FAULTFS_REQUIRES(mu_);

  ProxyOptions options_;
  proxy::Strand strand_;
  asio::ip::tcp::acceptor acceptor_;
  uint16_t port_ = 0;
  uint64_t next_frame_seq_ = 0;                                // strand
  bool stopped_ = false;                                       // strand
  std::vector<std::weak_ptr<proxy::Connection>> connections_;  // strand

  mutable Mutex mu_;
  // Replaced whole on change: a reader keeps its snapshot.
  proxy::ToxicList toxics_ FAULTFS_GUARDED_BY(mu_);
  ProxyCounters counters_ FAULTFS_GUARDED_BY(mu_);
  uint16_t target_port_;
};

}  // namespace faultfs::harness
