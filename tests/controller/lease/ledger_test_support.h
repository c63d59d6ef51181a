// Shared by the LeaseLedger tests: rules, lease lines, and a ledger driven
// by a ManualClock (no sockets, no sleeps).
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "common/clock.h"
#include "common/rule.h"
#include "common/wire.h"
#include "controller/lease/lease_ledger.h"

namespace sluice {
namespace testing {

inline Rule LedgerRule(
    int64_t id, int64_t version, int64_t limit, int64_t burst,
    std::vector<std::pair<std::string, std::string>> match = {
        {"client_id", "*"}}) {
  Rule rule;
  rule.id = id;
  rule.version = version;
  rule.name = "rule-" + std::to_string(id);
  rule.domain = "api";
  rule.match = std::move(match);
  rule.limit = limit;
  rule.period_ms = 1000;
  rule.burst = burst;
  return rule;
}

// One lease line; `admitted` includes `unleased` (as agents report it).
inline LeaseWant Line(int64_t rule_id, std::vector<std::string> values,
                      int64_t want, int64_t admitted = 0, int64_t refused = 0,
                      int64_t unleased = 0) {
  LeaseWant item;
  item.rule_id = rule_id;
  item.values = std::move(values);
  item.want = want;
  item.admitted = admitted;
  item.refused = refused;
  item.unleased = unleased;
  return item;
}

// A ledger on a manual clock, started at 1000 s with rule 1 (10/s, burst
// 20, one wildcard) and rule 2 (5/s, burst 5, no wildcard) at version 3.
class LedgerHarness {
 public:
  static std::vector<Rule> DefaultRules() {
    return {LedgerRule(1, 1, 10, 20),
            LedgerRule(2, 1, 5, 5, {{"route", "/search"}})};
  }

  explicit LedgerHarness(LeaseLedgerOptions options = {},
                         std::vector<Rule> rules = DefaultRules())
      : ledger_(std::make_unique<LeaseLedger>(
            std::move(options), clock_.NowNanos(), 3, std::move(rules))) {}

  LeaseLedger& ledger() { return *ledger_; }
  ManualClock& clock() { return clock_; }
  int64_t now() const { return clock_.NowNanos(); }

  // A Hello from `peer` as `agent_id`.
  void Connect(const std::string& peer, const std::string& agent_id = "") {
    Hello hello;
    hello.agent_id = agent_id.empty() ? peer : agent_id;
    StatusOr<Arrival> arrival = ledger_->OnHello(peer, hello, now(), "");
    ASSERT_TRUE(arrival.ok()) << arrival.status().ToString();
  }
  // The agent's next message (a heartbeat, say).
  Arrival Seen(const std::string& peer) {
    return ledger_->OnMessageFrom(peer, now(), "");
  }
  LeaseGrant Lease(const std::string& peer, std::vector<LeaseWant> lines,
                   uint64_t seq = 1) {
    LeaseRequest request;
    request.seq = seq;
    request.items = std::move(lines);
    LeaseGrant grant;
    EXPECT_TRUE(ledger_->OnLeaseRequest(peer, request, now(), &grant))
        << peer << " is not known";
    return grant;
  }
  // The tokens of a one-line lease (-1: no answer).
  int64_t Tokens(const std::string& peer, LeaseWant line) {
    LeaseGrant grant = Lease(peer, {std::move(line)});
    return grant.items.size() == 1 ? grant.items[0].tokens : -1;
  }
  uint64_t NumberOf(const std::string& peer) {
    const AgentRecord* agent = ledger_->agents().Find(peer);
    return agent == nullptr ? 0 : agent->number;
  }

 private:
  ManualClock clock_{1000 * kNanosPerSecond};
  std::unique_ptr<LeaseLedger> ledger_;
};

}  // namespace testing
}  // namespace sluice
