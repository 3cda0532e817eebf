// The fault-injecting proxy of one directed link i -> j (docs/harness.md, "The proxy").
//
// Node i connects to the proxy's port (127.0.0.1, chosen by the kernel) as if it were node j; the
// proxy connects on to node j's peer port and forwards whole frames i -> j, applying the link's
// toxics frame by frame. Bytes j -> i (the protocol sends none) are forwarded as they come, with
// no toxic, so that nothing ever waits on the proxy. Toxics are Toxiproxy's, plus `drop` and a
// `start_after` on every toxic; each random choice comes from a stream seeded by
// DeriveSeed(seed, "link i->j/<toxic name>") and drawn by frame number on the link, so a seed
// replays the same faults for the same traffic.
//
// Threading: a proxy runs on the asio::io_context it is given, inside a strand of its own, so the
// context may be run by one thread or several. Every public method may be called from any thread
// (they lock, or post to the strand). The io_context must outlive the proxy's work: destroy (or
// Stop) the proxies, then stop the context; a context stopped first just drops their sockets.
#pragma once

#include <asio/io_context.hpp>
#include <chrono>
#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "faultfs/core/status.h"

namespace faultfs::harness {

enum class ToxicType {
  kLatency,    // each frame waits latency_ms +- uniform jitter_ms (order kept)
  kBandwidth,  // frames leave at rate_kib_s (a frame's bytes take their time on the wire)
  kSlicer,     // each frame written in slices of slice_bytes +- slice_variation bytes,
               // slice_delay_us apart
  kTimeout,    // hold every frame; close the connection after timeout_ms (0: hold only)
  kBlackhole,  // hold every frame (a timeout that never closes). Held frames wait in the proxy
               // (up to 64 MiB per connection) and go on, in order, once no toxic holds them;
               // Toxiproxy drops them instead, but holding is what a partition that heals does
               // to a TCP stream
  kResetPeer,  // reset (RST) every connection timeout_ms after it is active on it (0: at once)
  kLimitData,  // close each connection once limit_bytes more bytes have gone through it
  kDown,       // close every connection, and every new one as soon as it is accepted (the
               // listener stays open, so the port stays the proxy's)
  kDrop,       // drop each frame with probability `probability`
};

std::string_view ToxicTypeName(ToxicType type);  // "latency", "bandwidth", ... "drop"

// One toxic on a link. Only the fields of its type are read.
struct Toxic {
  std::string name;  // unique on its link
  ToxicType type = ToxicType::kLatency;
  int64_t start_after_ms = 0;  // takes effect this long after it is added
  int64_t latency_ms = 0, jitter_ms = 0;
  int64_t rate_kib_s = 0;
  int64_t slice_bytes = 0, slice_variation = 0, slice_delay_us = 0;
  int64_t timeout_ms = 0;  // timeout, reset_peer
  int64_t limit_bytes = 0;
  double probability = 0;  // drop

  static Toxic Latency(std::string name, int64_t ms, int64_t jitter_ms = 0);
  static Toxic Bandwidth(std::string name, int64_t kib_s);
  static Toxic Slicer(std::string name, int64_t bytes, int64_t variation, int64_t delay_us);
  static Toxic Timeout(std::string name, int64_t ms);
  static Toxic Blackhole(std::string name);
  static Toxic ResetPeer(std::string name, int64_t after_ms = 0);
  static Toxic LimitData(std::string name, int64_t bytes);
  static Toxic Down(std::string name);
  static Toxic Drop(std::string name, double probability);
  Toxic&& After(int64_t ms) && {
    start_after_ms = ms;
    return std::move(*this);
  }
};

// Its values are in range (non-negative, probability in [0, 1], rate and slice size > 0...).
Status ValidateToxic(const Toxic& toxic);
// Toxiproxy's JSON shape: {"name", "type", "start_after", "attributes": {latency, jitter, rate,
// average_size, size_variation, delay, timeout, bytes, probability}}; and back.
Result<Toxic> ToxicFromJson(const nlohmann::json& json);
nlohmann::json ToxicToJson(const Toxic& toxic);

struct ToxicState {
  Toxic toxic;
  bool active = false;  // its start_after has passed
};

struct ProxyCounters {
  uint64_t connections_accepted = 0;
  uint64_t connections_refused = 0;  // closed at once by `down`
  uint64_t connections_closed = 0;   // closed by a toxic (reset_peer, timeout, limit_data, down)
  uint64_t connect_failures = 0;     // node j could not be reached (node i's connection closed)
  uint64_t frames_received = 0;      // whole frames read from node i
  uint64_t frames_forwarded = 0;     // whole frames written to node j
  uint64_t frames_dropped = 0;       // dropped by `drop`, or past 64 MiB queued on a connection
  uint64_t frames_discarded = 0;     // queued when their connection closed (or cut by limit_data)
  uint64_t frames_held = 0;          // frames that waited on a timeout or blackhole
  uint64_t frames_queued = 0;        // now: received, not yet forwarded or discarded
  uint64_t bytes_forwarded = 0;      // i -> j
  uint64_t bytes_backward = 0;       // j -> i
  uint64_t writes = 0;               // writes to node j (a sliced frame takes several)
  uint64_t bad_frames = 0;           // oversized or damaged frames from node i (connection closed)
};

struct ProxyOptions {
  int from = 0;  // node i
  int to = 0;    // node j
  std::string target_host = "127.0.0.1";
  uint16_t target_port = 0;  // node j's peer port
  uint64_t seed = 0;         // the run's seed
};

class Proxy {
 public:
  // Listens on 127.0.0.1:0 and serves on `io` until Stop().
  static Result<std::unique_ptr<Proxy>> Start(asio::io_context& io, const ProxyOptions& options);
  ~Proxy();  // Stop()
  Proxy(const Proxy&) = delete;
  Proxy& operator=(const Proxy&) = delete;

  uint16_t port() const;
  std::string address() const;  // "127.0.0.1:PORT", what node i is given for node j
  std::string name() const;     // "link i->j"

  // Errors: a name already on the link, values out of range.
  Status AddToxic(Toxic toxic);
  // Error: no toxic of that name.
  Status RemoveToxic(const std::string& name);
  void ClearToxics();
  std::vector<ToxicState> Toxics() const;
  ProxyCounters counters() const;
  // Where node j is now (new connections go there; open ones stay).
  void SetTargetPort(uint16_t port);
  // Closes the listener and every connection; idempotent.
  void Stop();

  class Link;  // the state the strand's coroutines share

 private:
  explicit Proxy(std::shared_ptr<Link> link) : link_(std::move(link)) {}
  std::shared_ptr<Link> link_;
};

}  // namespace faultfs::harness
