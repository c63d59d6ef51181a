#include "agent/commands/rate_limit_commands.h"

#include <algorithm>
#include <charconv>
#include <cstring>
#include <string_view>

#include "agent/commands/command_support.h"
#include "agent/resp/resp_writer.h"
#include "common/clock.h"

#ifndef SLUICE_VERSION
#define SLUICE_VERSION "0.0.0"
#endif

namespace sluice {
namespace {

// Token counts are doubles in the core: exact up to 2^53.
constexpr int64_t kMaxCost = int64_t{1} << 53;
constexpr int64_t kMaxTimeoutMs = 24 * 3600 * 1000;

constexpr std::string_view kCheckUsage =
    "RL.CHECK <domain> <cost> <key> <value> [<key> <value> ...]";
constexpr std::string_view kAcquireUsage =
    "RL.ACQUIRE <domain> <cost> <timeout_ms> <key> <value> "
    "[<key> <value> ...]";

// RL.CHECK's arguments: name, domain, cost, then whole pairs.
bool CheckArity(RespArgs args) {
  return args.size() >= 5 && (args.size() - 3) % 2 == 0;
}

// ":<value>\r\n" at p; returns the end.
char* PutRespInteger(char* p, int64_t value) {
  *p++ = ':';
  if (value >= 0 && value < 10) {  // allowed, and often retry_after
    *p++ = static_cast<char>('0' + value);
  } else {
    p = std::to_chars(p, p + 20, value).ptr;
  }
  *p++ = '\r';
  *p++ = '\n';
  return p;
}

// The reply of RL.CHECK/RL.ACQUIRE, formatted on the stack and appended in
// one go (it is on every check's path).
void AppendDecision(std::string* out, const Decision& d) {
  char buf[4 + 5 * 23];
  char* p = buf;
  std::memcpy(p, "*5\r\n", 4);
  p += 4;
  p = PutRespInteger(p, d.allowed ? 1 : 0);
  p = PutRespInteger(p, d.limit);
  p = PutRespInteger(p, d.remaining);
  p = PutRespInteger(p, d.reset_after_ms);
  p = PutRespInteger(p, d.retry_after_ms);
  out->append(buf, static_cast<size_t>(p - buf));
}

// Fills the context's descriptor from the pairs args[first..] (an even
// count).
void FillDescriptor(CommandContext* context, RespArgs args, size_t first) {
  Descriptor& descriptor = context->descriptor;
  descriptor.clear();
  for (size_t i = first; i + 1 < args.size(); i += 2) {
    descriptor.emplace_back(args[i], args[i + 1]);
  }
}

// Runs one check on the filled descriptor; false (an error appended) when
// the bucket table is full.
bool RunCheck(CommandContext* context, std::string_view domain, int64_t cost,
              int64_t now, const CheckOptions& options, Decision* decision,
              std::string* out) {
  Checker& checker = *context->checker;
  if (checker.Check(domain, cost, context->descriptor, now, decision,
                    options) == Checker::Result::kBucketLimit) {
    AppendRespError(
        out, "ERR bucket limit reached: this agent already holds " +
                 std::to_string(checker.table().max_buckets()) +
                 " buckets, the cap set by --max-buckets (SLUICE_MAX_BUCKETS);"
                 " raise --max-buckets, or retry once idle buckets have been "
                 "evicted");
    return false;
  }
  return true;
}

// Cost, then timeout_ms, of an RL.ACQUIRE; false (an error appended) when
// either is not valid.
bool ParseAcquireNumbers(RespArgs args, int64_t* cost, int64_t* timeout_ms,
                         std::string* out) {
  if (!ParseNonNegative(args[2], kMaxCost, cost)) {
    AppendRespError(out, "ERR invalid cost " + Quoted(args[2]) +
                             " for 'rl.acquire': expected a non-negative "
                             "integer up to 9007199254740992");
    return false;
  }
  if (!ParseNonNegative(args[3], kMaxTimeoutMs, timeout_ms)) {
    AppendRespError(out, "ERR invalid timeout_ms " + Quoted(args[3]) +
                             " for 'rl.acquire': expected a non-negative "
                             "integer of milliseconds up to 86400000");
    return false;
  }
  return true;
}

// One attempt of an RL.ACQUIRE (the first, or a resumed one).
CommandOutcome Acquire(CommandContext* context, const CommandRequest& request,
                       bool first, int64_t deadline) {
  const RespArgs args = request.args;
  std::string* out = request.out;
  if (args.size() < 6 || (args.size() - 4) % 2 != 0) {
    AppendArityError(out, args[0], kAcquireUsage);
    return {};
  }
  int64_t cost = 0;
  int64_t timeout_ms = 0;
  if (!ParseAcquireNumbers(args, &cost, &timeout_ms, out)) return {};
  const int64_t now = request.now;
  if (first) deadline = now + timeout_ms * kNanosPerMilli;
  const bool last = now >= deadline;
  FillDescriptor(context, args, 4);
  CheckOptions options;
  // Every attempt reports its demand, as a client retrying at retry_after
  // would: while it waits, the agent keeps asking the controller for tokens
  // (reported once, a first grant that fell short was never followed up,
  // and the wait always ran into its timeout).
  options.report_demand = true;
  options.count_refusal = last;  // a refusal counts once, at the end
  options.spread_retry = false;  // the agent holds the waiter itself
  Decision decision;
  if (!RunCheck(context, args[1], cost, now, options, &decision, out)) {
    return {};
  }
  if (!decision.allowed && !last && decision.retry_after_ms < 0) {
    // Can never be admitted: give up now, and count it as refused.
    options.report_demand = false;
    options.count_refusal = true;
    if (!RunCheck(context, args[1], cost, now, options, &decision, out)) {
      return {};
    }
  } else if (!decision.allowed && !last) {
    const int64_t retry_ns =
        std::max<int64_t>(1, decision.retry_after_ms) * kNanosPerMilli;
    CommandOutcome wait;
    wait.action = CommandAction::kWait;
    wait.wake_at = std::min(deadline, now + retry_ns);
    wait.deadline = deadline;
    return wait;
  }
  AppendDecision(out, decision);
  return {};
}

void AppendInfoLine(std::string* out, std::string_view name, int64_t value) {
  out->append(name);
  out->push_back(':');
  out->append(std::to_string(value));
  out->append("\r\n");
}

}  // namespace

CommandOutcome RunRlCheck(CommandContext* context,
                          const CommandRequest& request) {
  const RespArgs args = request.args;
  if (!CheckArity(args)) {
    AppendArityError(request.out, args[0], kCheckUsage);
    return {};
  }
  int64_t cost = 0;
  if (!ParseNonNegative(args[2], kMaxCost, &cost)) {
    AppendRespError(request.out, "ERR invalid cost " + Quoted(args[2]) +
                                     " for 'rl.check': expected a "
                                     "non-negative integer up to "
                                     "9007199254740992");
    return {};
  }
  FillDescriptor(context, args, 3);
  Decision decision;
  if (RunCheck(context, args[1], cost, request.now, CheckOptions{}, &decision,
               request.out)) {
    AppendDecision(request.out, decision);
  }
  return {};
}

void PrepareRlCheck(CommandContext* context, RespArgs args) {
  if (!CheckArity(args)) return;
  FillDescriptor(context, args, 3);
  context->checker->Prepare(args[1], context->descriptor);
}

CommandOutcome RunRlAcquire(CommandContext* context,
                            const CommandRequest& request) {
  return Acquire(context, request, /*first=*/true, 0);
}

CommandOutcome ResumeRlAcquire(CommandContext* context,
                               const CommandRequest& request,
                               int64_t deadline) {
  return Acquire(context, request, /*first=*/false, deadline);
}

CommandOutcome RunRlInfo(CommandContext* context,
                         const CommandRequest& request) {
  if (request.args.size() == 1) {
    AppendRespBulkString(request.out, RlInfoText(*context, request.now));
  } else {
    AppendArityError(request.out, request.args[0], "RL.INFO");
  }
  return {};
}

std::string RlInfoText(const CommandContext& context, int64_t now) {
  std::string out = "# Sluice agent\r\nversion:" SLUICE_VERSION "\r\n";
  const Checker& checker = *context.checker;
  const RuleIndex& rules = *checker.rules();
  const LeaseContext& ctx = checker.lease_context();
  AppendInfoLine(&out, "rules_version", rules.version());
  AppendInfoLine(&out, "rules", static_cast<int64_t>(rules.size()));
  AppendInfoLine(&out, "controller_reachable", ctx.controller_reachable);
  AppendInfoLine(&out, "agents", ctx.agents);
  AppendInfoLine(&out, "buckets", static_cast<int64_t>(checker.table().size()));
  AppendInfoLine(&out, "max_buckets",
                 static_cast<int64_t>(checker.table().max_buckets()));
  AppendInfoLine(&out, "bucket_memory_bytes",
                 static_cast<int64_t>(checker.table().MemoryBytes()));
  AppendInfoLine(&out, "leases",
                 static_cast<int64_t>(checker.CountLeased(now)));
  AppendInfoLine(&out, "pending_lease_requests",
                 static_cast<int64_t>(checker.pending_leases()));
  if (context.info_extra) context.info_extra(&out);
  return out;
}

}  // namespace sluice
