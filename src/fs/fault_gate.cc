// The fault gate (fault_gate.h): the stage every op passes before it acts.
#include "fault_gate.h"

#include <signal.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "current_request.h"
#include "data_faults.h"
#include "deferrer.h"
#include "event_log.h"
#include "faultfs/core/errno_names.h"
#include "live_crash.h"

namespace faultfs::fs {

namespace {

// Never pid 0 or 1, never faultfs itself or its process group.
bool MayKill(pid_t pid) { return pid > 1 && pid != getpid(); }

void SendKill(const policy::KillAction& k, pid_t caller) {
  auto send = [&](pid_t target) {
    if (!MayKill(target)) {
      spdlog::warn("kill: refusing to signal pid {}", target);
      return;
    }
    if (kill(target, k.signal) != 0) spdlog::warn("kill {}: {}", target, ErrnoText(errno));
  };
  switch (k.target) {
    case policy::KillAction::Target::kCaller:
      send(caller);
      break;
    case policy::KillAction::Target::kCallerGroup: {
      const pid_t group = getpgid(caller);
      if (group > 1 && group != getpgrp()) {
        if (kill(-group, k.signal) != 0) spdlog::warn("kill group {}: {}", group, ErrnoText(errno));
      } else {
        spdlog::warn("kill: refusing to signal process group {}", group);
      }
      break;
    }
    case policy::KillAction::Target::kPids:
      for (pid_t p : k.pids) send(p);
      break;
  }
}

std::string DescribeWait(const engine::Decision& d) {
  if (d.freeze) return "froze the mount";
  if (d.stall != nullptr) return "stalled (at most " + std::to_string(d.stall->timeout_s) + " s)";
  char buf[64];
  std::snprintf(buf, sizeof(buf), "delayed %.3f ms",
                std::chrono::duration<double, std::milli>(d.delay).count());
  return buf;
}

}  // namespace

void Fault::KillAfter(void* fault) {
  const auto& f = *static_cast<const Fault*>(fault);
  SendKill(*f.As<policy::KillAction>(), f.caller_);
}

void FaultGate::LogFired(const engine::OpContext& ctx, const engine::Decision& d) {
  if (events_ == nullptr) return;
  for (const policy::Rule* rule : d.fired) {
    // A crash logs itself once it knows the state it rolled back to (live_crash.cc).
    if (rule == d.outcome && std::holds_alternative<policy::CrashAction>(rule->action)) continue;
    FaultEvent e;
    e.ctx = &ctx;
    e.rule = rule->id;
    e.action = policy::ActionName(rule->action);
    if (rule == d.outcome) {
      e.result = DescribeOutcome(rule->action, d.draw, d.err, ctx.offset, ctx.size);
    } else {
      e.result = DescribeWait(d);
    }
    events_->Write(e);
  }
}

int FaultGate::CapacityRefusal(fuse_req_t req, const OpTarget& t, int err) {
  LogCapacity(req, t, ErrnoName(err));
  return err;
}

void FaultGate::CapacityShortWrite(fuse_req_t req, const OpTarget& t, uint64_t kept) {
  LogCapacity(req, t,
              "short: " + std::to_string(kept) + " of " + std::to_string(t.size) +
                  " bytes written (the capacity is used up)");
}

void FaultGate::LogCapacity(fuse_req_t req, const OpTarget& t, std::string result) {
  if (events_ == nullptr) return;
  const fuse_ctx* caller = fuse_req_ctx(req);
  const std::string path = inodes_.PathOf(t.inode, t.parent, t.name);
  const std::string path2 = inodes_.PathOf(t.inode2, t.parent2, t.name2);
  engine::OpContext ctx;
  ctx.op = t.op;
  ctx.path = path;
  ctx.path2 = path2;
  ctx.offset = t.offset;
  ctx.size = t.size;
  ctx.pid = caller->pid;
  events_->Write(FaultEvent{
      .ctx = &ctx, .rule = "capacity", .action = "capacity", .result = std::move(result)});
}

bool FaultGate::Uncached(const Inode& inode) const {
  if (engine_ == nullptr) return false;
  const bool reads = engine_->Targets(policy::Op::kRead);
  const bool writes = engine_->Targets(policy::Op::kWrite);
  if (!reads && !writes) return false;
  const std::string path = inodes_.PathOf(inode);
  return (reads && engine_->MayTarget(policy::Op::kRead, path, inode.type())) ||
         (writes && engine_->MayTarget(policy::Op::kWrite, path, inode.type()));
}

void FaultGate::DoomIfCrashedMeanwhile() {
  // A crash that began after this op's gate doomed what it found held, maybe before this request
  // was. While crashed, everything held is from before the crash; once recovered, only this one
  // is known to be.
  if (crash_state_.load(std::memory_order_acquire) == admitted_crash_state_) return;
  if (Crashed()) {
    deferrer_->Doom();
  } else {
    deferrer_->DoomOne(CurrentRequest::unique());
  }
}

int FaultGate::CrashError(const OpTarget& t) {
  // A request held since before the crash (delay, stall, freeze) would rerun in another world.
  const bool doomed = deferrer_ != nullptr && deferrer_->TakeDoomed(CurrentRequest::unique());
  if (doomed || Crashed()) return EIO;
  for (const Inode* inode : {t.inode, t.inode2, t.parent, t.parent2}) {
    if (inode != nullptr && inodes_.IsStale(*inode)) return ESTALE;
  }
  return 0;
}

FaultGate::Verdict FaultGate::CrashHere(Reply& r, const policy::CrashAction& c,
                                        const engine::OpContext& ctx, const std::string& rule) {
  if (live_crash_ != nullptr) {
    const CrashRequest request{.model = c.model,
                               .kill = c.kill,
                               .process_names = c.process_names,
                               .caller = ctx.pid,
                               .rule = rule,
                               .op = &ctx};
    // The op answers EIO once its caller is killed, before the rollback: the caller must not see
    // a result, and need not wait for the rollback. A failed rollback is logged by the crash.
    (void)live_crash_->Crash(request, engine_->seed(), [&r] { r.Err(EIO); });
    if (r.answered()) return Verdict::kAnswered;
  }
  // Not crashed by this rule: another crash came first (the op fails like every other), or the
  // recording ended at an earlier crash (logged; the op runs).
  if (live_crash_ == nullptr || Crashed()) {
    r.Err(EIO);
    return Verdict::kAnswered;
  }
  return Verdict::kRun;
}

FaultGate::Verdict FaultGate::Admit(Reply& r, const OpTarget& t, Fault& f) {
  // While the mount never crashed, this one relaxed load is all a crash costs an op.
  admitted_crash_state_ = crash_state_.load(std::memory_order_relaxed);
  if (admitted_crash_state_ != 0) {
    if (const int err = CrashError(t); err != 0) {
      r.Err(err);
      return Verdict::kAnswered;
    }
  }
  if (engine_ == nullptr) return Verdict::kRun;
  std::optional<engine::Decision> saved;
  if (deferrer_ != nullptr) {
    saved = deferrer_->TakeSaved(CurrentRequest::unique());
    if (!saved && deferrer_->frozen()) return HoldWhileFrozen(r);
  }
  if (!saved && !engine_->Targets(t.op)) return Verdict::kRun;

  engine::OpContext ctx = ContextOf(r, t);
  std::string path, path2;
  auto fill_paths = [&] {
    path = inodes_.PathOf(t.inode, t.parent, t.name);
    path2 = inodes_.PathOf(t.inode2, t.parent2, t.name2);
    ctx.path = path;
    ctx.path2 = path2;
  };
  const bool paths_first = saved || engine_->NeedsPath(t.op);
  if (paths_first) fill_paths();

  if (saved) {
    f.decision_ = std::move(*saved);  // a deferred request's rerun: its delay is served
  } else {
    f.decision_ = engine_->Decide(ctx);
    if (f.decision_.passes()) return Verdict::kRun;
    if (!paths_first) fill_paths();  // for the log
    LogFired(ctx, f.decision_);
    const engine::Decision& d = f.decision_;
    if (d.freeze || d.stall != nullptr || d.delay.count() > 0) {
      if (deferrer_ == nullptr) return Verdict::kRun;  // no deferral machinery: run at once
      return Defer(r, d);
    }
  }
  f.caller_ = ctx.pid;
  return Outcome(r, f, ctx);
}

// The mount answers nothing until thawed: the request waits, whole, to be run then.
FaultGate::Verdict FaultGate::HoldWhileFrozen(Reply& r) {
  deferrer_->HoldFrozen(
      std::vector<char>(CurrentRequest::data(), CurrentRequest::data() + CurrentRequest::size()));
  r.None();
  DoomIfCrashedMeanwhile();
  return Verdict::kDeferred;
}

engine::OpContext FaultGate::ContextOf(Reply& r, const OpTarget& t) const {
  const fuse_ctx* caller = fuse_req_ctx(r.req());
  engine::OpContext ctx;
  ctx.op = t.op;
  ctx.mode = t.mode != 0 ? t.mode : (t.inode != nullptr ? t.inode->type() : 0);
  ctx.offset = t.offset;
  ctx.size = t.size;
  ctx.open_flags = t.open_flags;
  ctx.pid = caller->pid;
  ctx.uid = caller->uid;
  ctx.gid = caller->gid;
  return ctx;
}

// A delay, stall or freeze: the request is copied and reruns when its time comes, with the rest
// of the decision (what it does then).
FaultGate::Verdict FaultGate::Defer(Reply& r, const engine::Decision& d) {
  std::vector<char> copy(CurrentRequest::data(), CurrentRequest::data() + CurrentRequest::size());
  engine::Decision rest = d;
  rest.delay = std::chrono::nanoseconds(0);
  rest.stall = nullptr;
  rest.freeze = false;
  if (d.freeze) {
    deferrer_->Freeze();
    deferrer_->HoldFrozen(std::move(copy), std::move(rest));  // reruns after thaw, with the rest
  } else {
    auto wait = d.delay;
    if (d.stall != nullptr)
      wait += std::chrono::duration_cast<std::chrono::nanoseconds>(
          std::chrono::duration<double>(d.stall->timeout_s));
    deferrer_->Defer(std::move(copy), std::move(rest), Deferrer::Clock::now() + wait,
                     d.stall != nullptr);
  }
  r.None();
  DoomIfCrashedMeanwhile();
  return Verdict::kDeferred;
}

// What the deciding rule does before the op: a crash or an errno answers it, a kill may stop it
// or follow its reply; data faults go with it (in `f`).
FaultGate::Verdict FaultGate::Outcome(Reply& r, Fault& f, const engine::OpContext& ctx) {
  if (const auto* c = f.As<policy::CrashAction>())
    return CrashHere(r, *c, ctx, f.decision_.outcome->id);
  if (f.As<policy::ErrnoAction>() != nullptr) {
    r.Err(f.err());
    return Verdict::kAnswered;
  }
  if (const auto* k = f.As<policy::KillAction>(); k != nullptr && k->before) {
    SendKill(*k, ctx.pid);
    f.decision_.outcome = nullptr;  // done: nothing left to do after the op
    r.Err(EINTR);                   // the op does not run
    return Verdict::kAnswered;
  }
  if (f.As<policy::KillAction>() != nullptr) r.BeforeReply(&Fault::KillAfter, &f);
  return Verdict::kRun;
}

}  // namespace faultfs::fs
