// Compiling a policy: each rule's paths within the policy's budget, its counters carried over
// from the policy it replaces (by rule id), and the index of each op's enabled rules.
#include <algorithm>
#include <map>
#include <set>

#include "compiled.h"
#include "faultfs/core/random.h"
#include "faultfs/policy/limits.h"

namespace faultfs::engine {
namespace {

// Where a rule goes in its op's index: all its paths (globs and regexes) must share a kind of
// literal anchor.
void IndexRule(OpRules& index, const CompiledRule* r) {
  if (r->regexes.empty() && r->globs.empty()) {
    index.scan.push_back(r);
    return;
  }
  std::vector<std::string> firsts, exts;
  for (const auto& g : r->globs) {
    for (auto& f : g.FirstSegments()) firsts.push_back(std::move(f));
    for (auto& e : g.Extensions()) exts.push_back(std::move(e));
  }
  for (const auto& re : r->regexes) {
    firsts.push_back(re.FirstSegment());
    exts.push_back(re.Extension());
  }
  const auto all_set = [](const std::vector<std::string>& v) {
    return std::none_of(v.begin(), v.end(), [](const std::string& x) { return x.empty(); });
  };
  if (all_set(firsts)) {
    for (const auto& f : std::set<std::string>(firsts.begin(), firsts.end()))
      index.by_first_segment[f].push_back(r);
  } else if (all_set(exts)) {
    for (const auto& e : std::set<std::string>(exts.begin(), exts.end()))
      index.by_extension[e].push_back(r);
  } else {
    index.scan.push_back(r);
  }
}

using RuleStates = std::map<std::string, std::shared_ptr<RuleState>>;

// A rule with its paths compiled within `budget`, and its counters: those of the rule of the
// same id in `old`, or fresh ones.
Result<std::unique_ptr<CompiledRule>> CompileRule(const policy::Rule& rule, size_t index,
                                                  uint64_t seed, const RuleStates& old,
                                                  policy::PatternBudget& budget) {
  FAULTFS_RETURN_IF_ERROR(budget.AddRule());
  auto cr = std::make_unique<CompiledRule>();
  cr->index = index;
  cr->rule = rule;
  for (const auto& g : rule.match.path_globs) {
    auto glob = policy::Glob::Compile(g);
    Status fits = glob.ok() ? budget.AddGlob(*glob) : glob.status();
    if (!fits.ok())
      return Status::Invalid("rule '" + rule.id + "': path '" + g + "': " + fits.ToString());
    cr->globs.push_back(std::move(*glob));
  }
  for (const auto& re : rule.match.path_regexes) {
    auto compiled_re = policy::PathRegex::Compile(re);
    Status fits = compiled_re.ok() ? budget.AddRegex() : compiled_re.status();
    if (!fits.ok()) {
      return Status::Invalid("rule '" + rule.id + "': bad path_regex '" + re +
                             "': " + fits.ToString());
    }
    cr->regexes.push_back(std::move(*compiled_re));
  }
  cr->stream_seed = DeriveSeed(seed, rule.id);
  const auto kept = old.find(rule.id);
  cr->state = kept != old.end() ? kept->second : std::make_shared<RuleState>();
  cr->changes_outcome = ChangesOutcome(rule.action);
  return cr;
}

}  // namespace

// A rule's `evaluated` counts the decisions for its ops while it is enabled: note where that
// began for rules enabled now, and bank what rules disabled now saw.
void FaultEngine::CarryCounters(Compiled& compiled, const std::set<std::string>& fresh) {
  auto decisions_of = [&](const policy::Rule& r) {
    uint64_t n = 0;
    for (size_t op = 0; op < policy::kOpCount; ++op) {
      if (r.match.ops.test(op)) n += compiled.decisions->Of(op);
    }
    return n;
  };
  for (auto& cr : compiled.rules) {
    RuleState& st = *cr->state;
    const bool is_fresh = fresh.contains(cr->rule.id);
    if (cr->rule.enabled && (is_fresh || !st.was_enabled))
      st.decisions_at_enable = decisions_of(cr->rule);
    if (!cr->rule.enabled && !is_fresh && st.was_enabled) {
      st.evaluated_before += decisions_of(cr->rule) - st.decisions_at_enable;
    }
    st.was_enabled = cr->rule.enabled;
  }
}

// Resolves after_rule, and indexes each enabled rule under each of its ops.
Status FaultEngine::IndexRules(Compiled& compiled) {
  for (auto& cr : compiled.rules) {
    if (const auto& after = cr->rule.match.after_rule) {
      for (const auto& other : compiled.rules) {
        if (other->rule.id == *after) cr->after = other.get();
      }
      if (cr->after == nullptr)
        return Status::Invalid("rule '" + cr->rule.id + "': after_rule '" + *after +
                               "' does not exist");
    }
    if (!cr->rule.enabled) continue;
    const auto* fail = std::get_if<policy::FsyncFailAction>(&cr->rule.action);
    if (std::holds_alternative<policy::StaleReadAction>(cr->rule.action) ||
        (fail != nullptr && fail->drop_dirty)) {
      compiled.keeps_write_history = true;
    }
    for (size_t op = 0; op < policy::kOpCount; ++op) {
      if (!cr->rule.match.ops.test(op)) continue;
      IndexRule(compiled.by_op[op], cr.get());
      compiled.targeted.set(op);
      if (NeedsPathMatch(cr->rule.match)) compiled.needs_path.set(op);
    }
  }
  return Status::Ok();
}

Status FaultEngine::Install(policy::Policy next, bool keep_counters) {
  auto compiled = std::make_shared<Compiled>();
  const auto previous = current_.load();
  const bool keep = previous && keep_counters;
  compiled->seed = next.seed.value_or(keep ? previous->seed : default_seed_);
  compiled->loaded_at = keep ? previous->loaded_at : Clock::now();
  compiled->decisions = keep ? previous->decisions : std::make_shared<DecisionCounts>();
  RuleStates old_states;
  if (keep) {
    for (const auto& r : previous->rules) old_states[r->rule.id] = r->state;
  }
  std::set<std::string> ids, fresh;
  policy::PatternBudget budget;
  for (const auto& rule : next.rules) {
    if (!ids.insert(rule.id).second) return Status::Invalid("duplicate rule id '" + rule.id + "'");
    if (!old_states.contains(rule.id)) fresh.insert(rule.id);
    auto cr = CompileRule(rule, compiled->rules.size(), compiled->seed, old_states, budget);
    if (!cr.ok()) return cr.status();
    compiled->rules.push_back(std::move(*cr));
  }
  CarryCounters(*compiled, fresh);
  FAULTFS_RETURN_IF_ERROR(IndexRules(*compiled));
  compiled->source = std::move(next);
  static std::atomic<uint64_t> next_version{1};
  compiled->version = next_version.fetch_add(1, std::memory_order_relaxed);
  const uint64_t version = compiled->version;
  current_.store(std::move(compiled));
  version_.store(version, std::memory_order_release);
  return Status::Ok();
}

}  // namespace faultfs::engine
