// libFuzzer target for the agent's command layer: arbitrary bytes are parsed
// by agent/resp_parser.h and every request is executed by CommandHandler
// (agent/commands.h) on a Checker holding a few rules (enforce, shadow, a
// `*` match, two keys, a slow one), as the server would, with no sockets:
// the clock is a number that moves forward by a pseudo-random step per
// request, the rule set is swapped every 16 requests, and every 8 requests
// the checker is swept, its lease wants drained and partly granted. The
// controller is unreachable, or reachable with one agent or with three,
// depending on the input. The table holds at most 24 buckets, so the
// bucket cap is reached.
//
// Checked for every request (agent/commands.h, docs/api.md "Agent: RESP2"):
//   1. kContinue / kClose append exactly one well-formed RESP2 reply; an
//      error reply is one line starting "-ERR " or "-NOPROTO ".
//   2. kWait appends nothing, and now < wake_at <= deadline. Resumed at
//      wake_at (twice) and then at the deadline, RL.ACQUIRE answers by the
//      deadline at the latest.
//   3. An RL.CHECK / RL.ACQUIRE decision is five integers with allowed 0 or
//      1; no rule: [1, -1, -1, 0, 0]; otherwise limit >= 1, remaining >= 0,
//      reset_after_ms >= 0, retry_after_ms 0 when allowed and -1 or > 0
//      when refused.
//   4. The bucket table never holds more than its cap.
// After kClose nothing more is executed, as on a connection.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "agent/checker.h"
#include "agent/commands.h"
#include "agent/resp_parser.h"
#include "common/clock.h"
#include "common/rule_index.h"
#include "tests/fuzz/fuzz_check.h"

namespace sluice {
namespace {

constexpr size_t kMaxBuckets = 24;
constexpr int64_t kMs = kNanosPerMilli;

Rule MakeRule(int64_t id, std::string domain,
              std::vector<std::pair<std::string, std::string>> match,
              int64_t limit, int64_t period_ms, int64_t burst,
              RuleMode mode = RuleMode::kEnforce) {
  Rule rule;
  rule.id = id;
  rule.version = 1;
  rule.name = "rule-" + std::to_string(id);
  rule.domain = std::move(domain);
  rule.match = std::move(match);
  rule.limit = limit;
  rule.period_ms = period_ms;
  rule.burst = burst;
  rule.mode = mode;
  return rule;
}

// Two rule sets the checker alternates between: B changes limits, drops a
// rule, changes a match and adds one.
std::shared_ptr<const RuleIndex> RulesA() {
  return RuleIndex::Build(
      {MakeRule(1, "api", {{"client_id", "*"}}, 10, 1000, 5),
       MakeRule(2, "api", {{"route", "/search"}}, 3, 60000, 3),
       MakeRule(3, "api", {{"client_id", "*"}, {"route", "*"}}, 1, 1000, 1,
                RuleMode::kShadow),
       MakeRule(4, "web", {{"ip", "*"}}, 1, 24 * 3600 * 1000, 2),
       MakeRule(5, "bulk", {{"tenant", "*"}}, 1000000, 1, 1000000)},
      1);
}

std::shared_ptr<const RuleIndex> RulesB() {
  return RuleIndex::Build(
      {MakeRule(1, "api", {{"client_id", "*"}}, 2, 500, 2),
       MakeRule(3, "api", {{"client_id", "*"}}, 5, 1000, 5, RuleMode::kShadow),
       MakeRule(4, "web", {{"ip", "*"}, {"route", "/x"}}, 7, 100, 7),
       MakeRule(6, "api", {{"route", "*"}}, 100, 1000, 150)},
      2);
}

// Deterministic per input: xorshift64 seeded with an FNV-1a hash.
class Random {
 public:
  Random(const uint8_t* data, size_t size) {
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < size; ++i) h = (h ^ data[i]) * 1099511628211ull;
    state_ = h | 1;
  }
  uint64_t Next() {
    state_ ^= state_ << 13;
    state_ ^= state_ >> 7;
    state_ ^= state_ << 17;
    return state_;
  }

 private:
  uint64_t state_;
};

bool ParseInt(std::string_view text, int64_t* out) {
  if (text.empty() || text.size() > 20) return false;
  size_t i = 0;
  bool negative = false;
  if (text[0] == '-') {
    negative = true;
    i = 1;
    if (text.size() == 1) return false;
  }
  int64_t value = 0;
  for (; i < text.size(); ++i) {
    if (text[i] < '0' || text[i] > '9') return false;
    if (value > (INT64_MAX - 9) / 10) return false;
    value = value * 10 + (text[i] - '0');
  }
  *out = negative ? -value : value;
  return true;
}

// One RESP2 reply at out[*pos]; advances *pos past it. Collects the
// integers of a top-level array into *ints, and the type byte into *type.
bool ParseReply(std::string_view out, size_t* pos, int depth,
                std::vector<int64_t>* ints, char* type) {
  if (*pos >= out.size() || depth > 4) return false;
  const char t = out[*pos];
  if (depth == 0) *type = t;
  const size_t cr = out.find("\r\n", *pos);
  if (cr == std::string_view::npos) return false;
  const std::string_view line = out.substr(*pos + 1, cr - *pos - 1);
  if (line.find_first_of("\r\n") != std::string_view::npos) return false;
  *pos = cr + 2;
  int64_t n = 0;
  switch (t) {
    case '+':
    case '-':
      return true;
    case ':':
      if (!ParseInt(line, &n)) return false;
      if (depth == 1) ints->push_back(n);
      return true;
    case '$':
      if (!ParseInt(line, &n) || n < -1) return false;
      if (n == -1) return true;
      if (out.size() - *pos < static_cast<size_t>(n) + 2) return false;
      *pos += static_cast<size_t>(n);
      if (out.substr(*pos, 2) != "\r\n") return false;
      *pos += 2;
      return true;
    case '*':
      if (!ParseInt(line, &n) || n < -1 || n > 1000) return false;
      for (int64_t i = 0; i < n; ++i) {
        if (!ParseReply(out, pos, depth + 1, ints, type)) return false;
      }
      return true;
    default:
      return false;
  }
}

bool IsDecisionCommand(std::string_view name) {
  std::string upper(name);
  for (char& c : upper) {
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
  }
  return upper == "RL.CHECK" || upper == "RL.ACQUIRE";
}

// Checks that `reply` is exactly one well-formed reply, and a decision's
// invariants when it is an array answering RL.CHECK / RL.ACQUIRE.
void CheckReply(std::string_view reply, bool decision_command) {
  size_t pos = 0;
  std::vector<int64_t> ints;
  char type = 0;
  FUZZ_CHECK(ParseReply(reply, &pos, 0, &ints, &type));
  FUZZ_CHECK(pos == reply.size());
  if (type == '-') {
    FUZZ_CHECK(reply.rfind("-ERR ", 0) == 0 ||
               reply.rfind("-NOPROTO ", 0) == 0);
    return;
  }
  if (!decision_command) return;
  FUZZ_CHECK(type == '*');
  FUZZ_CHECK(ints.size() == 5);
  const int64_t allowed = ints[0], limit = ints[1], remaining = ints[2],
                reset_ms = ints[3], retry_ms = ints[4];
  FUZZ_CHECK(allowed == 0 || allowed == 1);
  if (limit == -1) {
    FUZZ_CHECK(allowed == 1 && remaining == -1 && reset_ms == 0 &&
               retry_ms == 0);
    return;
  }
  FUZZ_CHECK(limit >= 1);
  FUZZ_CHECK(remaining >= 0);
  FUZZ_CHECK(reset_ms >= 0);
  if (allowed == 1) {
    FUZZ_CHECK(retry_ms == 0);
  } else {
    FUZZ_CHECK(retry_ms == -1 || retry_ms > 0);
  }
}

}  // namespace
}  // namespace sluice

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace sluice;
  static const std::shared_ptr<const RuleIndex> kRules[] = {RulesA(), RulesB()};
  Random random(data, size);
  int64_t now = 1000 * kNanosPerSecond;
  Checker checker(kMaxBuckets);
  checker.SetRules(kRules[0], now);
  switch (random.Next() % 3) {
    case 0:
      checker.SetLeaseContext(LeaseContext{false, 1});
      break;
    case 1:
      checker.SetLeaseContext(LeaseContext{true, 1});
      break;
    default:
      checker.SetLeaseContext(LeaseContext{true, 3});
  }
  CommandHandler handler(&checker);
  RespParser parser;
  std::vector<LeaseWant> wants;

  std::string_view input(reinterpret_cast<const char*>(data), size);
  std::string out;
  size_t requests = 0;
  for (;;) {
    const RespParser::Result r = parser.Next(input);
    if (r != RespParser::Result::kRequest) break;  // incomplete or error
    const std::vector<std::string_view>& args = parser.args();
    const bool decision = IsDecisionCommand(args[0]);
    // 0 to 1.3 s, often 0: several requests in the same instant.
    const uint64_t step = random.Next();
    now += step % 3 == 0 ? 0 : static_cast<int64_t>(step % 1300) * kMs;

    out.clear();
    CommandHandler::Outcome outcome = handler.Execute(args, now, 7, &out);
    if (outcome.action == CommandHandler::Action::kWait) {
      FUZZ_CHECK(out.empty());
      FUZZ_CHECK(decision);
      FUZZ_CHECK(outcome.wake_at > now);
      FUZZ_CHECK(outcome.wake_at <= outcome.deadline);
      const int64_t deadline = outcome.deadline;
      // Resumed as the server would: at wake_at, twice, then at the end.
      for (int attempt = 0; outcome.action == CommandHandler::Action::kWait;
           ++attempt) {
        FUZZ_CHECK(attempt <= 2);
        FUZZ_CHECK(outcome.deadline == deadline);
        FUZZ_CHECK(outcome.wake_at <= deadline);
        now = attempt < 2 ? outcome.wake_at : deadline;
        outcome = handler.ResumeAcquire(args, now, deadline, &out);
        if (outcome.action == CommandHandler::Action::kWait) {
          FUZZ_CHECK(out.empty());
          FUZZ_CHECK(outcome.wake_at > now);
        }
      }
      FUZZ_CHECK(now <= deadline);
    }
    CheckReply(out, decision);
    FUZZ_CHECK(checker.table().size() <= kMaxBuckets);

    input.remove_prefix(parser.consumed());
    if (outcome.action == CommandHandler::Action::kClose) break;
    ++requests;
    if (requests % 16 == 0) checker.SetRules(kRules[(requests / 16) % 2], now);
    if (requests % 8 == 0) {
      wants.clear();
      checker.Sweep(now, 8, &wants);
      checker.TakeLeaseWants(now, &wants);
      // The controller grants some of what was wanted, sometimes nothing.
      LeaseGrant grant;
      for (const LeaseWant& want : wants) {
        const uint64_t pick = random.Next();
        grant.items.push_back(LeaseGrantItem{
            want.rule_id, want.values,
            static_cast<int64_t>(pick % static_cast<uint64_t>(want.want + 3)),
            static_cast<int64_t>((pick >> 16) % 3000)});
      }
      checker.ApplyGrant(grant, now - 5 * kMs, now);
    }
  }
  return 0;
}
