#include "faultfs/control/protocol.h"

#include <nlohmann/json.hpp>

namespace faultfs::control {

namespace {

// `may_be_empty`: an empty policy is a real one (no rules, no budget), an empty rule id is not.
Result<std::string> StringArg(const nlohmann::json& j, const char* key, const std::string& cmd,
                              bool may_be_empty = false) {
  const auto it = j.find(key);
  if (it == j.end()) return Status::Invalid("'" + cmd + "' needs \"" + key + "\"");
  if (!it->is_string()) return Status::Invalid("'" + cmd + "': \"" + key + "\" must be a string");
  if (!may_be_empty && it->get<std::string>().empty()) {
    return Status::Invalid("'" + cmd + "': \"" + key + "\" is empty");
  }
  return it->get<std::string>();
}

// {"model": "pp", "kill": ["postgres"]}: both optional.
Result<Command> ParseCrash(const nlohmann::json& j) {
  CrashMount c;
  if (j.contains("model")) {
    auto model = StringArg(j, "model", "crash");
    if (!model.ok()) return model.status();
    c.model = std::move(*model);
  }
  if (const auto k = j.find("kill"); k != j.end()) {
    if (!k->is_array())
      return Status::Invalid("'crash': \"kill\" must be an array of process names");
    for (const auto& name : *k) {
      if (!name.is_string() || name.get<std::string>().empty())
        return Status::Invalid("'crash': \"kill\" must hold process names (non-empty strings)");
      c.kill.push_back(name.get<std::string>());
    }
  }
  return Command{std::move(c)};
}

}  // namespace

Result<Command> ParseCommand(std::string_view line) {
  if (line.size() > kMaxLineBytes) return Status::Invalid("request longer than 1 MiB");
  const auto j = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return Status::Invalid("not JSON: a request is one JSON object per line");
  if (!j.is_object()) return Status::Invalid("a request must be a JSON object");
  const auto cmd_it = j.find("cmd");
  if (cmd_it == j.end() || !cmd_it->is_string()) {
    return Status::Invalid(
        "a request needs \"cmd\" (status, rules, stats, add, remove, enable, "
        "disable, load, freeze, thaw, release, events, mark, crash, recover)");
  }
  const std::string cmd = cmd_it->get<std::string>();
  if (cmd == "status") return Command{GetStatus{}};
  if (cmd == "rules") return Command{ListRules{}};
  if (cmd == "stats") return Command{GetStats{}};
  if (cmd == "freeze") return Command{FreezeMount{}};
  if (cmd == "thaw") return Command{ThawMount{}};
  if (cmd == "release") return Command{ReleaseStalled{}};
  if (cmd == "recover") return Command{RecoverMount{}};
  if (cmd == "crash") return ParseCrash(j);
  if (cmd == "events") {
    const auto f = j.find("follow");
    if (f != j.end() && !f->is_boolean())
      return Status::Invalid("'events': \"follow\" must be true or false");
    const auto last = j.find("last");
    if (last != j.end() &&
        (!last->is_number_unsigned() || last->get<uint64_t>() > kMaxRecentEvents))
      return Status::Invalid("'events': \"last\" must be a whole number from 0 to " +
                             std::to_string(kMaxRecentEvents));
    return Command{TailEvents{.follow = f != j.end() && f->get<bool>(),
                              .last = last != j.end() ? last->get<size_t>() : 0}};
  }
  if (cmd == "add" || cmd == "load") {
    auto policy = StringArg(j, "policy", cmd, /*may_be_empty=*/true);
    if (!policy.ok()) return policy.status();
    if (cmd == "add") return Command{AddRules{std::move(*policy)}};
    return Command{LoadPolicy{std::move(*policy)}};
  }
  if (cmd == "mark") {
    auto text = StringArg(j, "text", cmd);
    if (!text.ok()) return text.status();
    return Command{AddMark{std::move(*text)}};
  }
  if (cmd == "remove" || cmd == "enable" || cmd == "disable") {
    auto id = StringArg(j, "id", cmd);
    if (!id.ok()) return id.status();
    if (cmd == "remove") return Command{RemoveRule{std::move(*id)}};
    return Command{EnableRule{std::move(*id), cmd == "enable"}};
  }
  return Status::Invalid("unknown command '" + cmd + "'");
}

}  // namespace faultfs::control
