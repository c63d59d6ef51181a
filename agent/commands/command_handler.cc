#include "agent/commands/command_handler.h"

#include <algorithm>
#include <charconv>
#include <cstring>

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

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    char x = a[i];
    char y = b[i];
    if (x >= 'a' && x <= 'z') x = static_cast<char>(x - 'a' + 'A');
    if (y >= 'a' && y <= 'z') y = static_cast<char>(y - 'a' + 'A');
    if (x != y) return false;
  }
  return true;
}

// Decimal digits only (no sign, no spaces), value <= max.
bool ParseNonNegative(std::string_view text, int64_t max, int64_t* out) {
  if (text.empty() || text.size() > 19) return false;
  int64_t value = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return false;
    const int digit = c - '0';
    if (value > (max - digit) / 10) return false;
    value = value * 10 + digit;
  }
  *out = value;
  return true;
}

// A printable, bounded copy of client bytes for an error message.
std::string Quoted(std::string_view bytes) {
  constexpr size_t kMax = 64;
  std::string out = "'";
  for (size_t i = 0; i < bytes.size() && i < kMax; ++i) {
    const unsigned char c = static_cast<unsigned char>(bytes[i]);
    out.push_back(c >= 0x20 && c < 0x7f ? static_cast<char>(c) : '?');
  }
  if (bytes.size() > kMax) out += "...";
  out += "'";
  return out;
}

std::string Lower(std::string_view text) {
  std::string out(text);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

void AppendArityError(std::string* out, std::string_view command,
                      std::string_view usage) {
  AppendRespError(out, "ERR wrong number of arguments for '" + Lower(command) +
                           "' command: expected " + std::string(usage));
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

// EqualsIgnoreCase(name, "RL.CHECK"), in a few instructions: the command
// every check sends.
bool IsRlCheck(std::string_view name) {
  if (name.size() != 8) return false;
  // Folds case on the letters only (the '.' at byte 2 must match exactly):
  // for a letter, c | 0x20 is its lower case, and only its two cases map
  // there.
  static constexpr char kFoldBytes[8] = {0x20, 0x20, 0,    0x20,
                                         0x20, 0x20, 0x20, 0x20};
  uint64_t word;
  uint64_t fold;
  uint64_t expected;
  std::memcpy(&word, name.data(), 8);
  std::memcpy(&fold, kFoldBytes, 8);
  std::memcpy(&expected, "rl.check", 8);
  return (word | fold) == expected;
}

void AppendInfoLine(std::string* out, std::string_view name, int64_t value) {
  out->append(name);
  out->push_back(':');
  out->append(std::to_string(value));
  out->append("\r\n");
}

}  // namespace

CommandHandler::CommandHandler(Checker* checker, InfoExtra info_extra)
    : checker_(checker), info_extra_(std::move(info_extra)) {
  descriptor_.reserve(16);
}

void CommandHandler::FillDescriptor(RespArgs args, size_t first) {
  descriptor_.clear();
  for (size_t i = first; i + 1 < args.size(); i += 2) {
    descriptor_.emplace_back(args[i], args[i + 1]);
  }
}

void CommandHandler::Prepare(RespArgs args) {
  if (!IsRlCheck(args[0]) || args.size() < 5 || (args.size() - 3) % 2 != 0) {
    return;
  }
  FillDescriptor(args, 3);
  checker_->Prepare(args[1], descriptor_);
}

bool CommandHandler::RunCheck(std::string_view domain, int64_t cost,
                              int64_t now, const CheckOptions& options,
                              Decision* decision, std::string* out) {
  if (checker_->Check(domain, cost, descriptor_, now, decision, options) ==
      Checker::Result::kBucketLimit) {
    AppendRespError(
        out, "ERR bucket limit reached: this agent already holds " +
                 std::to_string(checker_->table().max_buckets()) +
                 " buckets, the cap set by --max-buckets (SLUICE_MAX_BUCKETS);"
                 " raise --max-buckets, or retry once idle buckets have been "
                 "evicted");
    return false;
  }
  return true;
}

CommandHandler::Outcome CommandHandler::Check(RespArgs args, int64_t now,
                                              std::string* out) {
  if (args.size() < 5 || (args.size() - 3) % 2 != 0) {
    AppendArityError(out, args[0], kCheckUsage);
    return {};
  }
  int64_t cost = 0;
  if (!ParseNonNegative(args[2], kMaxCost, &cost)) {
    AppendRespError(out, "ERR invalid cost " + Quoted(args[2]) +
                             " for 'rl.check': expected a non-negative "
                             "integer up to 9007199254740992");
    return {};
  }
  FillDescriptor(args, 3);
  Decision decision;
  if (RunCheck(args[1], cost, now, CheckOptions{}, &decision, out)) {
    AppendDecision(out, decision);
  }
  return {};
}

CommandHandler::Outcome CommandHandler::Acquire(RespArgs args, int64_t now,
                                                bool first, int64_t deadline,
                                                std::string* out) {
  if (args.size() < 6 || (args.size() - 4) % 2 != 0) {
    AppendArityError(out, args[0], kAcquireUsage);
    return {};
  }
  int64_t cost = 0;
  if (!ParseNonNegative(args[2], kMaxCost, &cost)) {
    AppendRespError(out, "ERR invalid cost " + Quoted(args[2]) +
                             " for 'rl.acquire': expected a non-negative "
                             "integer up to 9007199254740992");
    return {};
  }
  int64_t timeout_ms = 0;
  if (!ParseNonNegative(args[3], kMaxTimeoutMs, &timeout_ms)) {
    AppendRespError(out, "ERR invalid timeout_ms " + Quoted(args[3]) +
                             " for 'rl.acquire': expected a non-negative "
                             "integer of milliseconds up to 86400000");
    return {};
  }
  if (first) deadline = now + timeout_ms * kNanosPerMilli;
  const bool last = now >= deadline;
  FillDescriptor(args, 4);
  CheckOptions options;
  // Every attempt reports its demand, as a client retrying at retry_after
  // would: while it waits, the agent keeps asking the controller for tokens
  // (reported once, a first grant that fell short was never followed up,
  // and the wait always ran into its timeout).
  options.report_demand = true;
  options.count_refusal = last;  // a refusal counts once, at the end
  Decision decision;
  if (!RunCheck(args[1], cost, now, options, &decision, out)) return {};
  if (!decision.allowed && !last && decision.retry_after_ms < 0) {
    // Can never be admitted: give up now, and count it as refused.
    options.report_demand = false;
    options.count_refusal = true;
    if (!RunCheck(args[1], cost, now, options, &decision, out)) return {};
  } else if (!decision.allowed && !last) {
    const int64_t retry_ns =
        std::max<int64_t>(1, decision.retry_after_ms) * kNanosPerMilli;
    Outcome wait;
    wait.action = Action::kWait;
    wait.wake_at = std::min(deadline, now + retry_ns);
    wait.deadline = deadline;
    return wait;
  }
  AppendDecision(out, decision);
  return {};
}

CommandHandler::Outcome CommandHandler::ResumeAcquire(RespArgs args,
                                                      int64_t now,
                                                      int64_t deadline,
                                                      std::string* out) {
  return Acquire(args, now, /*first=*/false, deadline, out);
}

std::string CommandHandler::Info(int64_t now) const {
  std::string out = "# Sluice agent\r\nversion:" SLUICE_VERSION "\r\n";
  const RuleIndex& rules = *checker_->rules();
  const LeaseContext& ctx = checker_->lease_context();
  AppendInfoLine(&out, "rules_version", rules.version());
  AppendInfoLine(&out, "rules", static_cast<int64_t>(rules.size()));
  AppendInfoLine(&out, "controller_reachable", ctx.controller_reachable);
  AppendInfoLine(&out, "agents", ctx.agents);
  AppendInfoLine(&out, "buckets",
                 static_cast<int64_t>(checker_->table().size()));
  AppendInfoLine(&out, "max_buckets",
                 static_cast<int64_t>(checker_->table().max_buckets()));
  AppendInfoLine(&out, "bucket_memory_bytes",
                 static_cast<int64_t>(checker_->table().MemoryBytes()));
  AppendInfoLine(&out, "leases",
                 static_cast<int64_t>(checker_->CountLeased(now)));
  AppendInfoLine(&out, "pending_lease_requests",
                 static_cast<int64_t>(checker_->pending_leases()));
  if (info_extra_) info_extra_(&out);
  return out;
}

CommandHandler::Outcome CommandHandler::Execute(RespArgs args, int64_t now,
                                                uint64_t connection_id,
                                                std::string* out) {
  const std::string_view name = args[0];
  if (IsRlCheck(name)) return Check(args, now, out);
  if (EqualsIgnoreCase(name, "RL.ACQUIRE")) {
    return Acquire(args, now, /*first=*/true, 0, out);
  }
  if (EqualsIgnoreCase(name, "PING")) {
    if (args.size() == 1) {
      AppendRespSimpleString(out, "PONG");
    } else if (args.size() == 2) {
      AppendRespBulkString(out, args[1]);
    } else {
      AppendArityError(out, name, "PING [message]");
    }
    return {};
  }
  if (EqualsIgnoreCase(name, "ECHO")) {
    if (args.size() == 2) {
      AppendRespBulkString(out, args[1]);
    } else {
      AppendArityError(out, name, "ECHO <message>");
    }
    return {};
  }
  if (EqualsIgnoreCase(name, "RL.INFO")) {
    if (args.size() == 1) {
      AppendRespBulkString(out, Info(now));
    } else {
      AppendArityError(out, name, "RL.INFO");
    }
    return {};
  }
  if (EqualsIgnoreCase(name, "QUIT")) {
    AppendRespSimpleString(out, "OK");
    return Outcome{Action::kClose, 0, 0};
  }
  if (EqualsIgnoreCase(name, "HELLO")) {
    if (args.size() >= 2) {
      int64_t version = 0;
      if (!ParseNonNegative(args[1], 1000, &version) || version < 1) {
        AppendRespError(out, "ERR protocol version " + Quoted(args[1]) +
                                 " is not an integer or out of range: "
                                 "expected HELLO 2");
        return {};
      }
      if (version != 2) {
        AppendRespError(out,
                        "NOPROTO sorry, this protocol version is not "
                        "supported: sluice-agent speaks RESP2 only (HELLO 2)");
        return {};
      }
      for (size_t i = 2; i < args.size();) {
        if (EqualsIgnoreCase(args[i], "AUTH") && i + 2 < args.size()) {
          i += 3;  // no authentication on the local socket: ignored
        } else if (EqualsIgnoreCase(args[i], "SETNAME") &&
                   i + 1 < args.size()) {
          i += 2;
        } else {
          AppendRespError(out, "ERR syntax error in HELLO option " +
                                   Quoted(args[i]) +
                                   ": expected HELLO [2 [AUTH <username> "
                                   "<password>] [SETNAME <name>]]");
          return {};
        }
      }
    }
    AppendRespArrayHeader(out, 14);
    AppendRespBulkString(out, "server");
    AppendRespBulkString(out, "sluice");
    AppendRespBulkString(out, "version");
    AppendRespBulkString(out, SLUICE_VERSION);
    AppendRespBulkString(out, "proto");
    AppendRespInteger(out, 2);
    AppendRespBulkString(out, "id");
    AppendRespInteger(out, static_cast<int64_t>(connection_id));
    AppendRespBulkString(out, "mode");
    AppendRespBulkString(out, "standalone");
    AppendRespBulkString(out, "role");
    AppendRespBulkString(out, "master");
    AppendRespBulkString(out, "modules");
    AppendRespArrayHeader(out, 0);
    return {};
  }
  if (EqualsIgnoreCase(name, "COMMAND")) {
    // No command table: clients (redis-cli) work without one.
    if (args.size() >= 2 && EqualsIgnoreCase(args[1], "COUNT")) {
      AppendRespInteger(out, 0);
    } else {
      AppendRespArrayHeader(out, 0);
    }
    return {};
  }
  if (EqualsIgnoreCase(name, "CONFIG")) {
    if (args.size() < 2 || !EqualsIgnoreCase(args[1], "GET")) {
      AppendRespError(out,
                      "ERR sluice-agent supports only CONFIG GET <parameter> "
                      "[<parameter> ...]");
      return {};
    }
    if (args.size() < 3) {
      AppendArityError(out, "config|get",
                       "CONFIG GET <parameter> [<parameter> ...]");
      return {};
    }
    // What redis-benchmark asks for at start; nothing else is configurable.
    static constexpr std::pair<std::string_view, std::string_view> kParams[] = {
        {"appendonly", "no"}, {"save", ""}};
    int64_t found = 0;
    for (const auto& [param, value] : kParams) {
      for (size_t i = 2; i < args.size(); ++i) {
        if (args[i] == "*" || EqualsIgnoreCase(args[i], param)) {
          ++found;
          break;
        }
      }
    }
    AppendRespArrayHeader(out, found * 2);
    for (const auto& [param, value] : kParams) {
      for (size_t i = 2; i < args.size(); ++i) {
        if (args[i] == "*" || EqualsIgnoreCase(args[i], param)) {
          AppendRespBulkString(out, param);
          AppendRespBulkString(out, value);
          break;
        }
      }
    }
    return {};
  }
  if (EqualsIgnoreCase(name, "CLIENT")) {
    if (args.size() >= 2 && EqualsIgnoreCase(args[1], "ID") &&
        args.size() == 2) {
      AppendRespInteger(out, static_cast<int64_t>(connection_id));
    } else if (args.size() >= 3 && (EqualsIgnoreCase(args[1], "SETNAME") ||
                                    EqualsIgnoreCase(args[1], "SETINFO"))) {
      AppendRespSimpleString(out, "OK");
    } else {
      AppendRespError(out,
                      "ERR unsupported CLIENT subcommand: sluice-agent "
                      "accepts CLIENT ID, CLIENT SETNAME <name> and CLIENT "
                      "SETINFO <attr> <value>");
    }
    return {};
  }
  AppendRespError(out, "ERR unknown command " + Quoted(name) +
                           ": sluice-agent answers RL.CHECK, RL.ACQUIRE, "
                           "RL.INFO, PING, ECHO, QUIT, HELLO, COMMAND, "
                           "CONFIG GET and CLIENT");
  return {};
}

}  // namespace sluice
