#include "link.h"

#include <algorithm>
#include <asio/co_spawn.hpp>
#include <asio/post.hpp>
#include <asio/redirect_error.hpp>
#include <asio/use_awaitable.hpp>

#include "connection.h"
#include "faultfs/core/mutex.h"
#include "faultfs/core/random.h"

namespace faultfs::harness {

using asio::ip::tcp;
using proxy::ActiveToxic;
using proxy::Clock;

void proxy::Spawn(Strand& strand, asio::awaitable<void> coroutine) {
  asio::co_spawn(strand, std::move(coroutine), [](const std::exception_ptr& e) {
    FAULTFS_CHECK(!e) << "a proxy coroutine threw";
  });
}

Proxy::Link::Link(asio::io_context& io, ProxyOptions options)
    : options_(std::move(options)),
      strand_(asio::make_strand(io)),
      acceptor_(strand_),
      toxics_(std::make_shared<const std::vector<ActiveToxic>>()),
      target_port_(options_.target_port) {}

Status Proxy::Link::Listen() {
  asio::error_code ec;
  const tcp::endpoint local(asio::ip::make_address_v4("127.0.0.1"), 0);
  if (acceptor_.open(local.protocol(), ec); !ec) acceptor_.bind(local, ec);
  if (!ec) acceptor_.listen(asio::socket_base::max_listen_connections, ec);
  if (!ec) port_ = acceptor_.local_endpoint(ec).port();
  if (ec)
    return Status::FromErrno(ec.value(), "proxy link " + std::to_string(options_.from) + "->" +
                                             std::to_string(options_.to) + ": listen on 127.0.0.1");
  return Status::Ok();
}

void Proxy::Link::StartAccepting() { proxy::Spawn(strand_, AcceptLoop()); }

asio::awaitable<void> Proxy::Link::AcceptLoop() {
  auto self = shared_from_this();
  while (!stopped_) {
    asio::error_code ec;
    tcp::socket socket =
        co_await acceptor_.async_accept(asio::redirect_error(asio::use_awaitable, ec));
    if (stopped_ || ec == asio::error::operation_aborted || ec == asio::error::bad_descriptor)
      co_return;
    if (ec) {  // e.g. out of descriptors: wait, do not spin
      asio::steady_timer pause(strand_, std::chrono::milliseconds(50));
      co_await pause.async_wait(asio::redirect_error(asio::use_awaitable, ec));
      continue;
    }
    Admit(std::move(socket));
  }
}

void Proxy::Link::Admit(tcp::socket socket) {
  const auto now = Clock::now();
  const bool down = proxy::EvaluateConnection(*toxics(), now, now).down;
  Count([&](ProxyCounters& c) {
    ++c.connections_accepted;
    if (down) ++c.connections_refused;
  });
  if (down) {
    asio::error_code ignored;
    socket.close(ignored);
    return;
  }
  std::erase_if(connections_, [](const auto& weak) { return weak.expired(); });
  auto connection = std::make_shared<proxy::Connection>(shared_from_this(), std::move(socket));
  connections_.push_back(connection);
  connection->Start();
}

proxy::ToxicList Proxy::Link::toxics() const {
  MutexLock lock(mu_);
  return toxics_;
}

tcp::endpoint Proxy::Link::target() const {
  MutexLock lock(mu_);
  asio::error_code ec;
  auto address = asio::ip::make_address(options_.target_host, ec);
  if (ec) address = asio::ip::make_address_v4("127.0.0.1");
  return {address, target_port_};
}

void Proxy::Link::Replace(std::vector<ActiveToxic> toxics) {
  toxics_ = std::make_shared<const std::vector<ActiveToxic>>(std::move(toxics));
}

Status Proxy::Link::Add(Toxic toxic) {
  FAULTFS_RETURN_IF_ERROR(ValidateToxic(toxic));
  {
    MutexLock lock(mu_);
    const auto& current = *toxics_;
    if (std::any_of(current.begin(), current.end(),
                    [&](const ActiveToxic& a) { return a.toxic.name == toxic.name; }))
      return Status::Invalid("link " + std::to_string(options_.from) + "->" +
                             std::to_string(options_.to) + " already has a toxic '" + toxic.name +
                             "'");
    std::vector<ActiveToxic> next = current;
    const std::string label = "link " + std::to_string(options_.from) + "->" +
                              std::to_string(options_.to) + "/" + toxic.name;
    next.push_back({std::move(toxic), Clock::now(), DeriveSeed(options_.seed, label)});
    Replace(std::move(next));
  }
  KickAll();
  return Status::Ok();
}

Status Proxy::Link::Remove(const std::string& name) {
  {
    MutexLock lock(mu_);
    std::vector<ActiveToxic> next = *toxics_;
    if (std::erase_if(next, [&](const ActiveToxic& a) { return a.toxic.name == name; }) == 0)
      return Status::Invalid("link " + std::to_string(options_.from) + "->" +
                             std::to_string(options_.to) + " has no toxic '" + name + "'");
    Replace(std::move(next));
  }
  KickAll();
  return Status::Ok();
}

void Proxy::Link::Clear() {
  {
    MutexLock lock(mu_);
    Replace({});
  }
  KickAll();
}

std::vector<ToxicState> Proxy::Link::List() const {
  const auto now = Clock::now();
  std::vector<ToxicState> out;
  for (const ActiveToxic& a : *toxics()) out.push_back({a.toxic, a.active_at() <= now});
  return out;
}

ProxyCounters Proxy::Link::Counters() const {
  MutexLock lock(mu_);
  return counters_;
}

void Proxy::Link::SetTargetPort(uint16_t port) {
  MutexLock lock(mu_);
  target_port_ = port;
}

void Proxy::Link::KickAll() {
  asio::post(strand_, [self = shared_from_this()] {
    for (const auto& weak : self->connections_)
      if (auto connection = weak.lock()) connection->Kick();
  });
}

void Proxy::Link::Stop() {
  asio::post(strand_, [self = shared_from_this()] {
    if (self->stopped_) return;
    self->stopped_ = true;
    asio::error_code ignored;
    self->acceptor_.close(ignored);
    for (const auto& weak : self->connections_)
      if (auto connection = weak.lock()) connection->Close(proxy::Connection::CloseKind::kFin);
    self->connections_.clear();
  });
}

// The public face.

Result<std::unique_ptr<Proxy>> Proxy::Start(asio::io_context& io, const ProxyOptions& options) {
  auto link = std::make_shared<Link>(io, options);
  FAULTFS_RETURN_IF_ERROR(link->Listen());
  link->StartAccepting();
  return std::unique_ptr<Proxy>(new Proxy(std::move(link)));
}

Proxy::~Proxy() { Stop(); }
uint16_t Proxy::port() const { return link_->port(); }
std::string Proxy::address() const { return "127.0.0.1:" + std::to_string(port()); }
std::string Proxy::name() const {
  return "link " + std::to_string(link_->options().from) + "->" +
         std::to_string(link_->options().to);
}
Status Proxy::AddToxic(Toxic toxic) { return link_->Add(std::move(toxic)); }
Status Proxy::RemoveToxic(const std::string& name) { return link_->Remove(name); }
void Proxy::ClearToxics() { link_->Clear(); }
std::vector<ToxicState> Proxy::Toxics() const { return link_->List(); }
ProxyCounters Proxy::counters() const { return link_->Counters(); }
void Proxy::SetTargetPort(uint16_t port) { link_->SetTargetPort(port); }
void Proxy::Stop() { link_->Stop(); }

}  // namespace faultfs::harness
