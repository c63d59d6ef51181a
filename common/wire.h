// Wire messages between sluice-agent and sluice-controller.
//
// Transport: ZeroMQ, agent DEALER <-> controller ROUTER. Each message is one
// frame holding a JSON object with a "type" field (this file is the only
// place that knows the encoding). Agents send, controllers answer:
//
//   agent -> controller                 controller -> agent
//   Hello         (on connect)          RulesSnapshot  (answer to Hello /
//   SnapshotRequest                                     SnapshotRequest, or
//   Heartbeat     (every second)                        to any message from
//   LeaseRequest                                        an unknown agent)
//   UsageReport   (in the background)   RulesDelta     (on every change)
//                                       Controllers    (after a snapshot, and
//                                                       on every change)
//                                       Heartbeat      (answer to Heartbeat)
//                                       LeaseGrant     (answer to LeaseRequest)
//                                       UsageAck       (answer to UsageReport,
//                                                       once it is stored)
//                                       ErrorMessage
//
// Rule-set versions: every change to the rules makes the global version one
// higher. A RulesDelta from `base_version` to `version` applies only to an
// agent at `base_version`; an agent that sees any other base, or a Heartbeat
// whose rules_version differs from its own, sends SnapshotRequest.
//
// Usage reports (docs/analytics.md) were added within protocol 1: a peer
// that does not know a message type refuses it without harm (a controller
// answers ErrorMessage, an agent logs and ignores it), so an agent may send
// UsageReport to an older controller (it gets no UsageAck and keeps the
// report, bounded) and a controller sends UsageAck only in answer to a
// UsageReport.
//
// Several controllers (docs/high-availability.md) were added within
// protocol 1 the same way: a controller that takes part in a controller set
// sends Controllers after every RulesSnapshot and whenever its set changes,
// and puts the set's version in its Heartbeats (controllers_version, absent
// or 0 from an older controller: agents then treat that controller as the
// owner of everything). An agent adopts the highest version it has seen
// from any controller, sends each bucket's LeaseRequest items to the owner
// (common/membership.h), and asks for a snapshot (which brings Controllers)
// when a Heartbeat shows a higher controllers_version than its own. A
// controller answers items of buckets it does not own with no lease
// (tokens 0, ttl_ms 0), then sends its Controllers.
//
// Encoding details: unknown fields are ignored (a newer peer may add some);
// every listed field is required. Rules travel in RuleToJson form and must
// carry id >= 1 and version >= 1. Wildcard values (any bytes a client sent)
// travel as JSON strings when they are valid UTF-8, else as
// {"hex": "<hex digits>"}, so they come back byte for byte.
//
// Lease expiry travels as a duration (ttl_ms), never as a wall-clock time:
// hosts' clocks differ. The agent counts the ttl from the moment it SENT the
// request (it echoes `seq`), so its idea of expiry is never later than the
// controller's.
//
// Pure functions; thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "common/membership.h"
#include "common/rule.h"
#include "common/status.h"
#include "common/usage.h"

namespace sluice {

constexpr int kProtocolVersion = 1;
constexpr size_t kMaxWireMessageBytes = 16 * 1024 * 1024;

struct Hello {
  std::string agent_id;
  int64_t rules_version = 0;  // what the agent holds (0: nothing)
  int protocol = kProtocolVersion;
};

struct SnapshotRequest {};

struct Heartbeat {
  int64_t rules_version = 0;
  int64_t agents = 0;  // controller -> agent: agents connected (>= 1)
  // Controller -> agent: the version of its controller set (0: it takes
  // part in none). Optional on the wire; encoded only when > 0.
  int64_t controllers_version = 0;
};

struct RulesSnapshot {
  int64_t version = 0;
  int64_t agents = 0;       // agents connected, for safe shares
  std::vector<Rule> rules;  // every rule, enabled or not
};

struct RulesDelta {
  int64_t base_version = 0;
  int64_t version = 0;
  std::vector<Rule> upserts;
  std::vector<int64_t> deletes;  // rule ids
};

// One bucket's line in a LeaseRequest.
struct LeaseWant {
  int64_t rule_id = 0;
  std::vector<std::string> values;  // wildcard values, rule match order
  int64_t want = 0;                 // tokens the agent would like now (>= 0)
  int64_t admitted = 0;             // tokens admitted since the last report
  int64_t refused = 0;              // tokens refused since the last report
  // Tokens admitted WITHOUT a lease since the last report (safe share,
  // failure mode): the controller charges them to the global bucket.
  int64_t unleased = 0;
};

struct LeaseRequest {
  uint64_t seq = 0;
  std::vector<LeaseWant> items;
};

struct LeaseGrantItem {
  int64_t rule_id = 0;
  std::vector<std::string> values;
  int64_t tokens = 0;  // granted now, valid for ttl_ms
  int64_t ttl_ms = 0;
};

struct LeaseGrant {
  uint64_t seq = 0;  // the LeaseRequest this answers
  std::vector<LeaseGrantItem> items;
};

// The controller set its sender has adopted, and which member it is.
struct Controllers {
  ControllerSet set;    // passes ValidateControllerSet
  std::string self_id;  // the sender's member id (may be absent from set)
};

struct ErrorMessage {
  std::string message;
};

// An agent's decisions since its previous report, and the agent's state
// for GET /api/v1/agents. (agent_id, incarnation, seq) names a report: the
// agent sends one again, unchanged, until it is acknowledged, and the
// controller counts each name once.
struct UsageReport {
  std::string agent_id;
  uint64_t incarnation = 0;  // drawn at agent start, >= 1
  uint64_t seq = 0;          // 1, 2, ... within an incarnation
  int64_t sent_ms = 0;       // the agent's clock when the report was made
  std::string version;       // the agent's release
  int64_t rules_version = 0;
  int64_t buckets = 0;  // buckets held
  int64_t leases = 0;   // buckets holding a valid lease
  std::vector<UsageCounts> counts;
  // Minutes that have ended; in an agent's last report, the running one's
  // too.
  std::vector<UsageSummary> summaries;
};

// The report (incarnation, seq) is stored (or was already).
struct UsageAck {
  uint64_t incarnation = 0;
  uint64_t seq = 0;
};

using WireMessage =
    std::variant<Hello, SnapshotRequest, Heartbeat, RulesSnapshot, RulesDelta,
                 LeaseRequest, LeaseGrant, ErrorMessage, UsageReport, UsageAck,
                 Controllers>;

std::string EncodeWireMessage(const WireMessage& message);

// Refuses, with a message saying what was expected: bytes over
// kMaxWireMessageBytes, malformed JSON, an unknown type, missing or
// ill-typed fields, rules that fail ValidateRule.
StatusOr<WireMessage> DecodeWireMessage(std::string_view bytes);

}  // namespace sluice
