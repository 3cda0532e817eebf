#include "toxics.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <utility>

#include "faultfs/core/random.h"

namespace faultfs::harness {
namespace {

constexpr std::array<std::pair<ToxicType, std::string_view>, 9> kTypeNames = {{
    {ToxicType::kLatency, "latency"},
    {ToxicType::kBandwidth, "bandwidth"},
    {ToxicType::kSlicer, "slicer"},
    {ToxicType::kTimeout, "timeout"},
    {ToxicType::kBlackhole, "blackhole"},
    {ToxicType::kResetPeer, "reset_peer"},
    {ToxicType::kLimitData, "limit_data"},
    {ToxicType::kDown, "down"},
    {ToxicType::kDrop, "drop"},
}};

Toxic Named(std::string name, ToxicType type) {
  Toxic t;
  t.name = std::move(name);
  t.type = type;
  return t;
}

// An integer attribute of a Toxiproxy-shaped JSON toxic, 0 when absent.
Result<int64_t> IntAttribute(const nlohmann::json& attributes, const char* key) {
  if (!attributes.contains(key)) return int64_t{0};
  const nlohmann::json& v = attributes[key];
  if (!v.is_number_integer())
    return Status::Invalid(std::string("toxic attribute ") + key + " is not an integer");
  return v.get<int64_t>();
}

}  // namespace

std::string_view ToxicTypeName(ToxicType type) {
  for (const auto& [t, name] : kTypeNames)
    if (t == type) return name;
  return "?";
}

Toxic Toxic::Latency(std::string name, int64_t ms, int64_t jitter) {
  Toxic t = Named(std::move(name), ToxicType::kLatency);
  t.latency_ms = ms;
  t.jitter_ms = jitter;
  return t;
}
Toxic Toxic::Bandwidth(std::string name, int64_t kib_s) {
  Toxic t = Named(std::move(name), ToxicType::kBandwidth);
  t.rate_kib_s = kib_s;
  return t;
}
Toxic Toxic::Slicer(std::string name, int64_t bytes, int64_t variation, int64_t delay_us) {
  Toxic t = Named(std::move(name), ToxicType::kSlicer);
  t.slice_bytes = bytes;
  t.slice_variation = variation;
  t.slice_delay_us = delay_us;
  return t;
}
Toxic Toxic::Timeout(std::string name, int64_t ms) {
  Toxic t = Named(std::move(name), ToxicType::kTimeout);
  t.timeout_ms = ms;
  return t;
}
Toxic Toxic::Blackhole(std::string name) { return Named(std::move(name), ToxicType::kBlackhole); }
Toxic Toxic::ResetPeer(std::string name, int64_t after_ms) {
  Toxic t = Named(std::move(name), ToxicType::kResetPeer);
  t.timeout_ms = after_ms;
  return t;
}
Toxic Toxic::LimitData(std::string name, int64_t bytes) {
  Toxic t = Named(std::move(name), ToxicType::kLimitData);
  t.limit_bytes = bytes;
  return t;
}
Toxic Toxic::Down(std::string name) { return Named(std::move(name), ToxicType::kDown); }
Toxic Toxic::Drop(std::string name, double probability) {
  Toxic t = Named(std::move(name), ToxicType::kDrop);
  t.probability = probability;
  return t;
}

Status ValidateToxic(const Toxic& t) {
  const std::string where = "toxic '" + t.name + "': ";
  if (t.name.empty()) return Status::Invalid("a toxic needs a name");
  constexpr int64_t kHour = 3'600'000;  // no delay, hold or timeout beyond an hour (ms)
  for (int64_t ms : {t.start_after_ms, t.latency_ms, t.jitter_ms, t.timeout_ms})
    if (ms < 0 || ms > kHour) return Status::Invalid(where + "a time out of [0, 1 h]");
  if (t.type == ToxicType::kBandwidth && t.rate_kib_s <= 0)
    return Status::Invalid(where + "rate must be > 0");
  if (t.type == ToxicType::kSlicer &&
      (t.slice_bytes <= 0 || t.slice_variation < 0 || t.slice_variation >= t.slice_bytes ||
       t.slice_delay_us < 0 || t.slice_delay_us > kHour))
    return Status::Invalid(where + "slicer needs 0 <= variation < size and delay in [0, 1 h] us");
  if (t.type == ToxicType::kLimitData && t.limit_bytes < 0)
    return Status::Invalid(where + "bytes must be >= 0");
  if (t.type == ToxicType::kDrop && !(t.probability >= 0 && t.probability <= 1))
    return Status::Invalid(where + "probability must be in [0, 1]");
  return Status::Ok();
}

Result<Toxic> ToxicFromJson(const nlohmann::json& json) {
  if (!json.is_object() || !json.contains("name") || !json["name"].is_string() ||
      !json.contains("type") || !json["type"].is_string())
    return Status::Invalid("a toxic is an object with a name and a type");
  Toxic t;
  t.name = json["name"].get<std::string>();
  const std::string type = json["type"].get<std::string>();
  auto it = std::find_if(kTypeNames.begin(), kTypeNames.end(),
                         [&](const auto& p) { return p.second == type; });
  if (it == kTypeNames.end()) return Status::Invalid("no toxic type '" + type + "'");
  t.type = it->first;
  const nlohmann::json attributes = json.value("attributes", nlohmann::json::object());
  auto start_after = IntAttribute(json, "start_after");
  if (!start_after.ok()) return start_after.status();
  t.start_after_ms = *start_after;
  std::pair<const char*, int64_t*> ints[] = {{"latency", &t.latency_ms},
                                             {"jitter", &t.jitter_ms},
                                             {"rate", &t.rate_kib_s},
                                             {"average_size", &t.slice_bytes},
                                             {"size_variation", &t.slice_variation},
                                             {"delay", &t.slice_delay_us},
                                             {"timeout", &t.timeout_ms},
                                             {"bytes", &t.limit_bytes}};
  for (auto& [key, field] : ints) {
    auto v = IntAttribute(attributes, key);
    if (!v.ok()) return v.status();
    *field = *v;
  }
  if (attributes.contains("probability")) {
    if (!attributes["probability"].is_number())
      return Status::Invalid("toxic attribute probability is not a number");
    t.probability = attributes["probability"].get<double>();
  }
  FAULTFS_RETURN_IF_ERROR(ValidateToxic(t));
  return t;
}

nlohmann::json ToxicToJson(const Toxic& t) {
  nlohmann::json a = nlohmann::json::object();
  switch (t.type) {
    case ToxicType::kLatency:
      a = {{"latency", t.latency_ms}, {"jitter", t.jitter_ms}};
      break;
    case ToxicType::kBandwidth:
      a = {{"rate", t.rate_kib_s}};
      break;
    case ToxicType::kSlicer:
      a = {{"average_size", t.slice_bytes},
           {"size_variation", t.slice_variation},
           {"delay", t.slice_delay_us}};
      break;
    case ToxicType::kTimeout:
    case ToxicType::kResetPeer:
      a = {{"timeout", t.timeout_ms}};
      break;
    case ToxicType::kLimitData:
      a = {{"bytes", t.limit_bytes}};
      break;
    case ToxicType::kDrop:
      a = {{"probability", t.probability}};
      break;
    case ToxicType::kBlackhole:
    case ToxicType::kDown:
      break;
  }
  return {{"name", t.name},
          {"type", ToxicTypeName(t.type)},
          {"start_after", t.start_after_ms},
          {"attributes", a}};
}

namespace proxy {

ConnectionEffects EvaluateConnection(const std::vector<ActiveToxic>& toxics, Clock::time_point now,
                                     Clock::time_point started) {
  ConnectionEffects fx;
  for (const ActiveToxic& a : toxics) {
    const Clock::time_point active_at = a.active_at();
    if (active_at > now) {
      fx.next_activation = std::min(fx.next_activation, active_at);
      continue;
    }
    // A toxic's clock on a connection starts when both exist and the toxic is active.
    const Clock::time_point applies_from = std::max(active_at, started);
    const auto after = std::chrono::milliseconds(a.toxic.timeout_ms);
    switch (a.toxic.type) {
      case ToxicType::kDown:
        fx.down = true;
        break;
      case ToxicType::kBlackhole:
        fx.hold = true;
        break;
      case ToxicType::kTimeout:
        fx.hold = true;
        if (a.toxic.timeout_ms > 0) fx.close_at = std::min(fx.close_at, applies_from + after);
        break;
      case ToxicType::kResetPeer:
        fx.reset_at = std::min(fx.reset_at, applies_from + after);
        break;
      case ToxicType::kLimitData:
        fx.limits.push_back({a.toxic.name, a.toxic.limit_bytes});
        break;
      default:
        break;
    }
  }
  return fx;
}

std::chrono::nanoseconds TransmitTime(size_t bytes, int64_t kib_s) {
  const double ns = static_cast<double>(bytes) * 1e9 / (static_cast<double>(kib_s) * 1024.0);
  return std::chrono::nanoseconds(static_cast<int64_t>(ns));
}

namespace {

// Slice sizes for a frame: uniform in [size - variation, size + variation], the last one what
// remains.
std::vector<size_t> Slices(const Toxic& t, uint64_t draw_seed, size_t bytes) {
  Rng rng(draw_seed);
  std::vector<size_t> slices;
  size_t left = bytes;
  const uint64_t span = static_cast<uint64_t>(2 * t.slice_variation + 1);
  while (left > 0) {
    const int64_t size = t.slice_bytes - t.slice_variation + static_cast<int64_t>(rng.Below(span));
    const size_t take = std::min(left, static_cast<size_t>(std::max<int64_t>(1, size)));
    slices.push_back(take);
    left -= take;
  }
  return slices;
}

}  // namespace

FramePlan PlanFrame(const std::vector<ActiveToxic>& toxics, Clock::time_point now, uint64_t seq,
                    size_t bytes) {
  FramePlan plan;
  for (const ActiveToxic& a : toxics) {
    if (a.active_at() > now) continue;
    const Toxic& t = a.toxic;
    // Each toxic draws from its own stream by frame number: adding one never moves another's.
    const uint64_t draw = StreamDraw(a.seed, seq);
    switch (t.type) {
      case ToxicType::kDrop:
        plan.drop = plan.drop || UnitInterval(draw) < t.probability;
        break;
      case ToxicType::kLatency: {
        const double jitter = (2 * UnitInterval(draw) - 1) * static_cast<double>(t.jitter_ms);
        const double ms = std::max(0.0, static_cast<double>(t.latency_ms) + jitter);
        plan.delay += std::chrono::nanoseconds(static_cast<int64_t>(ms * 1e6));
        break;
      }
      case ToxicType::kBandwidth:
        plan.rate_kib_s =
            plan.rate_kib_s == 0 ? t.rate_kib_s : std::min(plan.rate_kib_s, t.rate_kib_s);
        break;
      case ToxicType::kSlicer:
        plan.slices = Slices(t, draw, bytes);
        plan.slice_delay = std::chrono::microseconds(t.slice_delay_us);
        break;
      default:
        break;
    }
  }
  return plan;
}

}  // namespace proxy
}  // namespace faultfs::harness
