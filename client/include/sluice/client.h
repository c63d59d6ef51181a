// sluice::client::Client: asks a sluice-agent for rate-limit decisions over
// its Unix socket (RESP2, `RL.CHECK <domain> <cost> <key> <value> ...`).
//
// Contract:
//   - Check() sends one RL.CHECK and returns the agent's decision.
//     CheckBatch() writes several RL.CHECKs in one write (pipelining) and
//     reads their replies, in order: one round trip for the lot.
//   - Connections are pooled: a call takes an idle connection or opens a new
//     one, and gives it back afterwards. At most `max_idle_connections` are
//     kept; there is no cap on connections in use (each calling thread uses
//     at most one at a time), so a call never waits for another.
//   - Timeouts: opening a connection waits at most `connect_timeout`; one
//     call (a whole batch included) waits at most `call_timeout` for the
//     agent, in total (give or take 1 ms: the socket's timeout is shortened
//     only when less than call_timeout - 1 ms is left).
//   - When the agent cannot answer (no socket, refused, timed out, the
//     connection broke, a reply that is not RESP2 `[5 integers]`), the
//     decision comes from `failure_policy`: kOpen admits, kClosed refuses.
//     Decision::error says which failure it was, and the counters in
//     ClientStats count it. After a failure to connect or a timeout, calls
//     for the next `retry_after_failure` do not contact the agent at all
//     (Error::kBackingOff): a dead or wedged agent costs callers no waiting.
//   - An `-ERR` reply (bad arguments: an invalid domain, no key/value pair)
//     is Error::kAgentError, decided by the policy too; the connection stays
//     usable and no back-off starts.
//   - No rule matched: allowed, limit -1, remaining -1 (as the agent says).
//
// Cost: in steady state a check allocates nothing: each connection keeps
// its request and reply buffers. A check is one send() and usually one
// recv() on a blocking socket.
//
// Thread-safety: every method of Client may be called from any number of
// threads at once. Decision, CheckRequest and ClientStats are plain values.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace sluice::client {

enum class FailurePolicy {
  kOpen,    // admit when the agent cannot answer
  kClosed,  // refuse when the agent cannot answer
};

// Why a decision did not come from the agent.
enum class Error {
  kNone,            // the agent decided
  kUnreachable,     // could not connect (no socket, refused, connect timeout)
  kTimeout,         // the agent did not answer within call_timeout
  kConnectionLost,  // the connection closed or failed mid-call
  kMalformedReply,  // a reply that is not an array of five integers
  kAgentError,      // the agent answered -ERR (see error_message)
  kBackingOff,      // not tried: within retry_after_failure of a failure
};

std::string_view ErrorName(Error error);  // "none", "unreachable", ...

struct ClientOptions {
  // Path of the agent's Unix socket. Required.
  std::string socket_path;
  // Longest wait to open a connection. Default 100 ms.
  std::chrono::milliseconds connect_timeout{100};
  // Longest wait for the replies of one call, from its start. Default 50 ms.
  std::chrono::milliseconds call_timeout{50};
  // Idle connections kept for reuse. Default 16.
  size_t max_idle_connections = 16;
  // What a check answers when the agent cannot. Default kOpen.
  FailurePolicy failure_policy = FailurePolicy::kOpen;
  // After a connect failure or a timeout, calls within this time are decided
  // by the policy without contacting the agent. Default 100 ms; 0 disables.
  std::chrono::milliseconds retry_after_failure{100};
};

// One key/value pair of a descriptor. Views: the caller keeps the bytes
// alive for the duration of the call.
struct Entry {
  std::string_view key;
  std::string_view value;
};

// One check of a batch.
struct CheckRequest {
  std::string_view domain;
  int64_t cost = 1;
  std::vector<Entry> descriptor;
};

struct Decision {
  bool allowed = true;
  int64_t limit = -1;  // -1: no rule matched (or not from the agent)
  int64_t remaining = -1;
  int64_t reset_after_ms = 0;
  int64_t retry_after_ms = 0;  // 0 when allowed; -1: never (cost > burst)
  Error error = Error::kNone;
  std::string error_message;  // empty when error is kNone

  bool from_agent() const { return error == Error::kNone; }
  bool rule_matched() const { return limit >= 0; }
};

// Counters since the client was made. Every check is counted once in
// exactly one of allowed, refused, failed_open, failed_closed.
struct ClientStats {
  uint64_t allowed = 0;        // the agent admitted
  uint64_t refused = 0;        // the agent refused
  uint64_t failed_open = 0;    // admitted by the failure policy
  uint64_t failed_closed = 0;  // refused by the failure policy
  // Failures, by kind (a batch that fails counts once, its checks each in
  // failed_open/failed_closed).
  uint64_t unreachable = 0;
  uint64_t timeouts = 0;
  uint64_t connections_lost = 0;
  uint64_t malformed_replies = 0;
  uint64_t agent_errors = 0;  // per check
  uint64_t backing_off = 0;   // calls not tried
  uint64_t connections_opened = 0;

  uint64_t checks() const {
    return allowed + refused + failed_open + failed_closed;
  }
};

class Client {
 public:
  // Does not connect yet: the first call does.
  explicit Client(ClientOptions options);
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  Decision Check(std::string_view domain, int64_t cost,
                 std::initializer_list<Entry> descriptor);
  Decision Check(std::string_view domain, int64_t cost,
                 const std::vector<Entry>& descriptor);
  Decision Check(std::string_view domain, int64_t cost, const Entry* entries,
                 size_t count);

  // One decision per request, in order, in *out (resized). One round trip.
  void CheckBatch(const std::vector<CheckRequest>& requests,
                  std::vector<Decision>* out);

  ClientStats stats() const;
  const ClientOptions& options() const;

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace sluice::client
