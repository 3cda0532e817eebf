#include "control_handler.h"

#include <spdlog/spdlog.h>

#include "faultfs/policy/parse.h"

namespace faultfs::cli {

namespace {

Result<policy::Policy> ParseText(const std::string& toml) {
  auto outcome = policy::ParsePolicy(toml, "policy");
  if (outcome.ok()) return std::move(*outcome.policy);
  std::string all;
  for (const auto& e : outcome.errors) all += (all.empty() ? "" : "; ") + e.ToString();
  return Status::Invalid(all);
}

nlohmann::json RulesJson(const engine::FaultEngine& engine) {
  nlohmann::json rules = nlohmann::json::array();
  for (const auto& r : engine.Stats()) {
    rules.push_back({{"id", r.id},
                     {"enabled", r.enabled},
                     {"action", r.action},
                     {"evaluated", r.evaluated},
                     {"matched", r.matched},
                     {"fired", r.fired}});
  }
  return rules;
}

// The capacity budget and usage, or null when the mount has no capacity model.
nlohmann::json CapacityJson(const Mount& mount) {
  const auto state = mount.Capacity();
  if (!state) return nullptr;
  nlohmann::json j{{"bytes_used", state->used.bytes}, {"inodes_used", state->used.inodes}};
  if (state->budget) {
    if (state->budget->bytes) j["bytes"] = *state->budget->bytes;
    if (state->budget->inodes) j["inodes"] = *state->budget->inodes;
    j["errno"] = state->budget->err == EDQUOT ? "EDQUOT" : "ENOSPC";
  }
  return j;
}

nlohmann::json CrashJson(const LiveCrashReport& r) {
  nlohmann::json j{{"model", r.model},   {"state", r.state},     {"crash_point", r.crash_point},
                   {"states", r.states}, {"summary", r.summary}, {"state_dir", r.state_dir},
                   {"seed", r.seed},     {"killed", r.killed},   {"recovered", r.recovered}};
  if (!r.rule.empty()) j["rule"] = r.rule;
  if (!r.error.empty()) j["error"] = r.error;
  return j;
}

nlohmann::json PassthroughJson(const Mount& mount) {
  const Mount::PassthroughState state = mount.Passthrough();
  nlohmann::json files = nlohmann::json::array();
  for (const auto& f : mount.PassthroughFiles())
    files.push_back({{"path", f.path}, {"opens", f.opens}, {"ruled", f.ruled}});
  return {{"on", state.on}, {"reason", state.reason}, {"files", std::move(files)}};
}

// After rules changed: the files open in passthrough that a rule now wants the reads or writes
// of, which the kernel keeps serving until each is closed. Told with the command's reply, and
// logged, so that no rule seems to fire where it cannot yet.
void TellHeldInPassthrough(const Mount& mount, nlohmann::json& reply) {
  nlohmann::json held = nlohmann::json::array();
  for (const auto& f : mount.PassthroughFiles()) {
    if (f.ruled) held.push_back(f.path);
  }
  if (held.empty()) return;
  const std::string note =
      "open in kernel passthrough: their reads and writes do not reach faultfs until every open "
      "of each is closed; rules on their data apply from the first open after that";
  spdlog::warn("{} file(s) {}: {}", held.size(), note, held.dump());
  reply["passthrough_held"] = {{"files", std::move(held)}, {"note", note}};
}

}  // namespace

// What each control command does to the mount, and the reply.
struct MountControl::Commands {
  MountControl& self;
  engine::FaultEngine& engine;
  Result<nlohmann::json> operator()(const control::GetStatus&) const {
    return nlohmann::json{{"mountpoint", self.mountpoint_},
                          {"seed", engine.seed()},
                          {"rules", engine.Stats().size()},
                          {"frozen", self.mount_.Frozen()},
                          {"stalled", self.mount_.Stalled()},
                          {"held_by_freeze", self.mount_.HeldByFreeze()},
                          {"events", self.mount_.EventCount()},
                          {"capacity", CapacityJson(self.mount_)},
                          {"recording", self.mount_.Recording()},
                          {"crashed", self.mount_.Crashed()},
                          {"crash", LastCrashJson()},
                          {"passthrough", PassthroughJson(self.mount_)}};
  }
  nlohmann::json LastCrashJson() const {
    const auto last = self.mount_.LastCrash();
    return last ? CrashJson(*last) : nlohmann::json(nullptr);
  }
  Result<nlohmann::json> operator()(const control::ListRules&) const {
    return nlohmann::json{{"rules", RulesJson(engine)}};
  }
  Result<nlohmann::json> operator()(const control::GetStats&) const {
    return nlohmann::json{{"rules", RulesJson(engine)}, {"requests", self.mount_.RequestCounts()}};
  }
  Result<nlohmann::json> operator()(const control::AddRules& a) const {
    auto policy = ParseText(a.policy_toml);
    if (!policy.ok()) return policy.status();
    FAULTFS_RETURN_IF_ERROR(self.mount_.CheckPolicy(*policy));
    // A [capacity] in added text sets the budget too (rules already live stay).
    std::string warning;
    if (policy->capacity) {
      auto set = self.mount_.SetCapacity(policy->capacity);
      if (!set.ok()) return set.status();
      warning = *set;
    }
    nlohmann::json added = nlohmann::json::array();
    for (const auto& rule : policy->rules) added.push_back(rule.id);
    // All the text's rules or none, compiled once: a duplicate id or a live policy grown past
    // the limits leaves the mount as it was.
    FAULTFS_RETURN_IF_ERROR(engine.AddRules(std::move(policy->rules)));
    nlohmann::json reply{{"added", added}};
    if (!warning.empty()) reply["warning"] = warning;
    TellHeldInPassthrough(self.mount_, reply);
    return reply;
  }
  Result<nlohmann::json> operator()(const control::RemoveRule& r) const {
    FAULTFS_RETURN_IF_ERROR(engine.RemoveRule(r.id));
    return nlohmann::json{{"removed", r.id}};
  }
  Result<nlohmann::json> operator()(const control::EnableRule& e) const {
    FAULTFS_RETURN_IF_ERROR(engine.SetEnabled(e.id, e.enabled));
    nlohmann::json reply{{"id", e.id}, {"enabled", e.enabled}};
    TellHeldInPassthrough(self.mount_, reply);
    return reply;
  }
  Result<nlohmann::json> operator()(const control::LoadPolicy& l) const {
    auto policy = ParseText(l.policy_toml);
    if (!policy.ok()) return policy.status();
    FAULTFS_RETURN_IF_ERROR(self.mount_.CheckPolicy(*policy));
    if (!policy->seed) policy->seed = engine.seed();  // keep the mount's seed unless told
    const size_t n = policy->rules.size();
    // The new policy replaces everything: without [capacity], a budget in force is lifted.
    auto warning = self.mount_.SetCapacity(policy->capacity);
    if (!warning.ok()) return warning.status();
    FAULTFS_RETURN_IF_ERROR(engine.Load(std::move(*policy)));
    nlohmann::json reply{{"loaded", n}, {"seed", engine.seed()}};
    if (!warning->empty()) reply["warning"] = *warning;
    TellHeldInPassthrough(self.mount_, reply);
    return reply;
  }
  Result<nlohmann::json> operator()(const control::FreezeMount&) const {
    self.mount_.Freeze();
    return nlohmann::json{{"frozen", true}};
  }
  Result<nlohmann::json> operator()(const control::ThawMount&) const {
    self.mount_.Thaw();
    return nlohmann::json{{"frozen", false}};
  }
  Result<nlohmann::json> operator()(const control::ReleaseStalled&) const {
    const size_t n = self.mount_.Stalled();
    self.mount_.ReleaseStalled();
    return nlohmann::json{{"released", n}};
  }
  Result<nlohmann::json> operator()(const control::TailEvents& t) const {
    nlohmann::json recent = nlohmann::json::array();
    for (const std::string& line : self.mount_.RecentEvents(t.last))
      recent.push_back(nlohmann::json::parse(line, nullptr, false));  // our own lines
    return nlohmann::json{{"events", self.mount_.EventCount()}, {"recent", std::move(recent)}};
  }
  Result<nlohmann::json> operator()(const control::AddMark& m) const {
    // Mark() returns once the marker is appended: ops answered before this reply precede it.
    FAULTFS_RETURN_IF_ERROR(self.mount_.Mark(m.text));
    return nlohmann::json{{"marked", m.text}, {"records", self.mount_.Recorded()}};
  }
  Result<nlohmann::json> operator()(const control::CrashMount& c) const {
    // Returns once the backing directory is rolled back: the state is there to inspect.
    auto report = self.mount_.Crash(c.model, c.kill);
    if (!report.ok()) return report.status();
    return nlohmann::json{{"crashed", true}, {"crash", CrashJson(*report)}};
  }
  Result<nlohmann::json> operator()(const control::RecoverMount&) const {
    auto report = self.mount_.Recover();
    if (!report.ok()) return report.status();
    return nlohmann::json{{"crashed", false}, {"crash", CrashJson(*report)}};
  }
};

Result<nlohmann::json> MountControl::Handle(const control::Command& command) {
  return std::visit(Commands{*this, mount_.engine()}, command);
}

void MountControl::SubscribeEvents(std::function<bool(const std::string&)> sink) {
  mount_.SubscribeEvents(std::move(sink));
}

}  // namespace faultfs::cli
