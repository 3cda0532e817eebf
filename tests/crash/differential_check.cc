#include "differential_check.h"

#include <sys/stat.h>

#include <algorithm>
#include <set>
#include <utility>

#include "faultfs/core/tree_copy.h"
#include "faultfs/crash/materialize.h"
#include "faultfs/crash/state_builder.h"
#include "reference/interpret.h"
#include "reference/models.h"

namespace faultfs::crash {

namespace ref = reference;

namespace {

constexpr uint64_t kMaxStates = 50000;     // far above what the generated logs define: no sampling
constexpr size_t kMaxFindingsOfAKind = 3;  // per model and log

std::string AppliedKey(const std::vector<Applied>& applied) {
  std::string key;
  for (const Applied& a : applied) {
    key += std::to_string(a.op) + ":" + std::to_string(a.begin) + "-" + std::to_string(a.end) +
           "/" + std::to_string(static_cast<int>(a.fill)) +
           std::to_string(static_cast<int>(a.part)) + ";";
  }
  return key;
}

// "ops 1 2 4[0,5) 7(zeros) 9(half)", by seq.
std::string AppliedText(const ref::History& h, const std::vector<Applied>& applied) {
  std::string out = "applies ops";
  for (const Applied& a : applied) {
    out += " " + std::to_string(h.op(a.op).seq);
    if (a.begin != 0 || a.end != UINT64_MAX) {
      out += "[" + std::to_string(a.begin) + "," +
             (a.end == UINT64_MAX ? std::string("end") : std::to_string(a.end)) + ")";
    }
    if (a.fill == Applied::Fill::kZeros) out += "(zeros)";
    if (a.fill == Applied::Fill::kGarbage) out += "(garbage)";
    if (a.part == Applied::Part::kUnlinkTarget) out += "(half)";
  }
  return out;
}

// What the checks know of one enumerated state.
struct Judged {
  const CrashState* state = nullptr;
  ref::Interpretation interpretation;
  ref::Tree expected;  // the reference's tree for the state's applied ops
  ref::Tree built;     // Materialize's
};

}  // namespace

std::string LogListing(const record::ReadLog& log) {
  std::string out = "  starting tree:";
  for (const auto& [ino, path] : log.header.inodes) {
    out += " " + (path.empty() ? std::string("/") : path) + "#" + std::to_string(ino);
  }
  out += "\n";
  for (const auto& op : log.ops) out += "  " + ref::DescribeRecordedOp(op) + "\n";
  return out;
}

DifferentialCheck::DifferentialCheck(const record::ReadLog& log, std::string snapshot,
                                     std::string work, uint64_t seed, const ref::History& history,
                                     const ref::Needs& needs)
    : log_(log),
      snapshot_(std::move(snapshot)),
      work_(std::move(work)),
      seed_(seed),
      history_(history),
      needs_(needs) {}

Result<ref::Tree> DifferentialCheck::Materialized(const CrashState& state) {
  const std::string key = AppliedKey(state.applied);
  auto it = materialized_.find(key);
  if (it != materialized_.end()) return it->second;
  const std::string out = work_ + "/materialized";
  FAULTFS_RETURN_IF_ERROR(RemoveTree(out));
  if (mkdir(out.c_str(), 0755) != 0) return Status::FromErrno(errno, "mkdir " + out);
  FAULTFS_RETURN_IF_ERROR(Materialize(snapshot_, log_, state, seed_, out));
  auto tree = ref::ReadTree(out);
  if (!tree.ok()) return tree.status();
  materialized_[key] = *tree;
  return *tree;
}

namespace {

// Under pp and ext4, a file fsynced at op s keeps the data and the names it had then, as long as
// no later op before the crash point touches them: checked on the state's objects.
std::vector<std::string> BrokenSyncPromises(const ref::History& h, const CrashState& state,
                                            const ref::Fs& fs) {
  std::vector<std::string> broken;
  for (size_t s = 0; s < state.crash_point; ++s) {
    const ref::Step& st = h.step(s);
    if (!st.syncs_file) continue;
    const ref::ObjId file = st.object;
    bool touched = false;
    for (size_t j = s + 1; j < state.crash_point && !touched; ++j) {
      const ref::Step& sj = h.step(j);
      if (ref::IsDataOp(h.op(j))) touched = sj.object == file;
      if (!ref::IsEntryOp(h.op(j))) continue;
      touched = std::count(sj.named.begin(), sj.named.end(), file) > 0;
      for (const ref::Change& c : sj.changes) {
        touched =
            touched || std::count(st.synced_names.begin(), st.synced_names.end(), c.entry) > 0;
      }
    }
    if (touched) continue;
    if (fs.objects[file].data != st.synced_data) {
      broken.push_back(h.Describe(s) + " made the file's data durable, but the state's differs");
    }
    for (const ref::Entry& e : st.synced_names) {
      // The name counts if an op on this very file made it (an exchange made by the other
      // object's rename is not the file's own).
      size_t last = s;
      for (size_t k = 0; k < s; ++k) {
        for (const ref::Change& c : h.step(k).changes) {
          if (c.entry == e) last = k;
        }
      }
      if (last != s && h.step(last).object != file) continue;
      if (fs.Lookup(e) != file) {
        broken.push_back(h.Describe(s) + " made the name \"" + e.name + "\" durable, but the " +
                         "state lost it");
      }
    }
  }
  return broken;
}

// "A state never applies an entry op without every op it needs" (applied whole).
std::vector<std::string> MissingNeeds(const ref::History& h, const ref::Needs& needs,
                                      const CrashState& state) {
  std::vector<bool> whole(h.size(), false);
  for (const Applied& a : state.applied) {
    if (a.op < h.size()) whole[a.op] = a.part == Applied::Part::kWhole;
  }
  std::vector<std::string> out;
  for (const Applied& a : state.applied) {
    for (size_t i = 0; i < a.op && a.op < h.size(); ++i) {
      if (needs(a.op, i) && !whole[i]) {
        out.push_back("applies " + h.Describe(a.op) + " without " + h.Describe(i) +
                      ", which it needs");
      }
    }
  }
  return out;
}

}  // namespace

// One model's check of one log: the states the builder enumerates and builds, against the
// reference's.
class ModelRun {
 public:
  ModelRun(DifferentialCheck& check, std::string name) : c_(check), name_(std::move(name)) {}

  std::vector<Finding> Run() {
    auto model = ParseModel(name_);
    if (!model.ok()) {
      return {{"unknown model", "", "model " + name_ + " unknown: " + model.status().ToString()}};
    }
    auto ref_model = ref::ParseRefModel(name_);
    if (!ref_model) return {{"reference bug", "", "the reference does not know " + name_}};
    auto points = ref::ModelStates(c_.history_, c_.needs_, *ref_model);
    if (!points.ok()) return {{"reference bug", "", points.status().ToString()}};
    Interpret(*points);
    e_ = Enumerate(c_.log_, *model, c_.seed_, kMaxStates);
    c_.states_checked_ = e_.states.size();
    if (e_.sampled) Add("sampled", "", "Enumerate sampled " + std::to_string(e_.total) + " states");
    JudgeStates();
    CheckBuilder();
    CheckCrashPoints();
    CheckSets();
    for (const auto& [kind, count] : kinds_) {
      if (count > kMaxFindingsOfAKind) {
        out_.push_back({kind, "",
                        "... and " + std::to_string(count - kMaxFindingsOfAKind) +
                            " more of kind \"" + kind + "\""});
      }
    }
    return std::move(out_);
  }

 private:
  // A reference tree, and how the reference made it ("applies ops ...").
  using TreeSet = std::map<std::string, std::pair<ref::Tree, std::string>>;
  struct RefPoint {
    TreeSet exact, drawn;
    ref::Tree plain;
  };

  // The first few findings of each kind: together they tell the story.
  void Add(const char* kind, std::string state, std::string what) {
    if (++kinds_[kind] <= kMaxFindingsOfAKind)
      out_.push_back({kind, std::move(state), std::move(what)});
  }

  ref::Tree InterpretInto(const std::vector<Applied>& applied, TreeSet& into) {
    ref::Interpretation in = ref::Interpret(c_.history_, applied, c_.seed_);
    for (const auto& v : in.violations) Add("reference bug", "", "its own state " + v);
    ref::Tree tree = ref::VisibleTree(in.fs);
    into[ref::TreeKey(tree)] = {tree, AppliedText(c_.history_, applied)};
    return tree;
  }

  // The reference's trees, per crash point: those the model lists, and those it may draw.
  void Interpret(const std::vector<ref::PointStates>& points) {
    for (const ref::PointStates& p : points) {
      RefPoint& rp = ref_[p.crash_point];
      for (const auto& applied : p.exact) InterpretInto(applied, rp.exact);
      for (const auto& applied : p.drawn_from) InterpretInto(applied, rp.drawn);
      TreeSet plain;
      rp.plain = InterpretInto(p.plain, plain);
    }
  }

  // (i) each state, built by Materialize, against the reference's tree for its applied ops; its
  // entry ops against the entries they were recorded on; the plain state; the promises (iv).
  void JudgeStates() {
    for (const CrashState& state : e_.states) {
      Judged j{&state, ref::Interpret(c_.history_, state.applied, c_.seed_), {}, {}};
      for (const auto& v : j.interpretation.violations) Add("violation", state.id, v);
      for (const auto& v : MissingNeeds(c_.history_, c_.needs_, state)) {
        Add("violation", state.id, v);
      }
      j.expected = ref::VisibleTree(j.interpretation.fs);
      auto built = c_.Materialized(state);
      if (!built.ok()) {
        Add("materialize", state.id, "Materialize failed: " + built.status().ToString());
        continue;
      }
      j.built = *built;
      const std::string diff = ref::DiffTrees(j.expected, j.built);
      if (!diff.empty()) {
        Add("materialize", state.id,
            "Materialize builds another tree than the reference " +
                std::string("computes for what the state ") +
                AppliedText(c_.history_, state.applied) + ":\n" + diff);
      }
      CheckPlain(j);
      CheckPromises(j);
      judged_.push_back(std::move(j));
    }
  }

  void CheckPlain(const Judged& j) {
    auto rp = ref_.find(j.state->crash_point);
    if (rp == ref_.end() || j.state->id != std::to_string(j.state->crash_point)) return;
    const std::string diff = ref::DiffTrees(rp->second.plain, j.built);
    if (!diff.empty()) Add("plain", j.state->id, "the plain state is not the model's:\n" + diff);
  }

  void CheckPromises(const Judged& j) {
    const CrashState& state = *j.state;
    if (name_ == "prefix") {
      const std::string d = ref::DiffTrees(c_.history_.TreeAt(state.crash_point), j.built);
      if (!d.empty())
        Add("promise", state.id, "prefix state is not the replay up to its point:\n" + d);
    }
    if (name_ == "pp" || name_ == "ext4") {
      for (const auto& b : BrokenSyncPromises(c_.history_, state, j.interpretation.fs)) {
        Add("promise", state.id, "breaks the " + name_ + " promise: " + b);
      }
    }
  }

  // (ii) the same states from one StateBuilder, in order, moving its checkpoint every 2 ops, with
  // the snapshot's digests, and the recorded directory when one is offered.
  void CheckBuilder() {
    const std::string slot = c_.work_ + "/slot", out = slot + "/state";
    {
      if (!c_.digests_) {
        auto digests = SnapshotDigests::Of(c_.snapshot_);
        if (!digests.ok())
          return Add("builder", "", "SnapshotDigests::Of: " + digests.status().ToString());
        c_.digests_ = std::move(*digests);
      }
      const HeadStart head{&*c_.digests_, std::exchange(c_.recorded_, "")};
      auto builder = StateBuilder::Create(c_.snapshot_, c_.log_, c_.seed_, slot, 2, head);
      if (!builder.ok())
        return Add("builder", "", "StateBuilder::Create: " + builder.status().ToString());
      const std::vector<size_t> shared = SharedPrefixes(e_.states);
      for (const Judged& j : judged_) {
        const auto index = static_cast<size_t>(j.state - e_.states.data());
        auto hash = (*builder)->Build(*j.state, out, shared[index]);
        if (!hash.ok()) {
          Add("builder", j.state->id, "StateBuilder::Build: " + hash.status().ToString());
          break;
        }
        auto tree = ref::ReadTree(out);
        const std::string diff =
            tree.ok() ? ref::DiffTrees(j.expected, *tree) : tree.status().ToString();
        if (!diff.empty()) {
          Add("builder", j.state->id,
              "StateBuilder (in order, checkpoints) builds another " +
                  std::string("tree than the reference computes for ") + "what the state " +
                  AppliedText(c_.history_, j.state->applied) + ":\n" + diff);
        }
      }
      c_.adopted_ += (*builder)->stats().adopted;
    }
    (void)RemoveTree(slot);
  }

  std::string After(uint32_t c) const {
    return c == 0 ? std::string("at the start") : "after " + c_.history_.Describe(c - 1);
  }

  // The crash points that have states are the ones the model keeps.
  void CheckCrashPoints() {
    std::set<uint32_t> built;
    for (const Judged& j : judged_) built.insert(j.state->crash_point);
    for (const auto& [c, rp] : ref_) {
      if (!built.contains(c)) {
        Add("crash points", std::to_string(c),
            "crash point " + std::to_string(c) + " has no state; the model keeps it (" + After(c) +
                ")");
      }
    }
    for (uint32_t c : built) {
      if (!ref_.contains(c)) {
        Add("crash points", std::to_string(c),
            "crash point " + std::to_string(c) + " has states; the model leaves it out (" +
                After(c) + ")");
      }
    }
  }

  // (iii) per crash point, the set of trees against the model's set.
  void CheckSets() {
    std::map<uint32_t, std::map<std::string, const Judged*>> built;  // point -> tree key -> state
    for (const Judged& j : judged_) built[j.state->crash_point].emplace(ref::TreeKey(j.built), &j);
    for (const auto& [c, keys] : built) {
      auto rp = ref_.find(c);
      if (rp == ref_.end()) continue;
      for (const auto& [key, tree_how] : rp->second.exact) {
        if (keys.contains(key)) continue;
        Add("missing state", std::to_string(c),
            "crash point " + std::to_string(c) + " lacks a state the model allows (it " +
                tree_how.second + "):\n" + ref::TreeText(tree_how.first));
      }
      for (const auto& [key, j] : keys) {
        if (rp->second.exact.contains(key) || rp->second.drawn.contains(key)) continue;
        Add("impossible state", j->state->id,
            "state " + j->state->id + " (" + AppliedText(c_.history_, j->state->applied) +
                ") is not a state the model allows:\n" + ref::TreeText(j->built) +
                Nearest(rp->second, j->built));
      }
    }
  }

  // The allowed tree nearest to `tree`, to show what is wrong with it.
  static std::string Nearest(const RefPoint& rp, const ref::Tree& tree) {
    std::string nearest;
    for (const TreeSet* set : {&rp.exact, &rp.drawn}) {
      for (const auto& [key, tree_how] : *set) {
        const std::string d = "  nearest allowed state (it " + tree_how.second + "):\n" +
                              ref::DiffTrees(tree_how.first, tree);
        if (nearest.empty() || d.size() < nearest.size()) nearest = d;
      }
    }
    return nearest;
  }

  DifferentialCheck& c_;
  const std::string name_;
  Enumeration e_;
  std::map<uint32_t, RefPoint> ref_;
  std::vector<Judged> judged_;
  std::map<std::string, size_t> kinds_;
  std::vector<Finding> out_;
};

std::vector<Finding> DifferentialCheck::Check(const std::string& name) {
  return ModelRun(*this, name).Run();
}

}  // namespace faultfs::crash
