// CommandHandler: executes one parsed RESP request and appends its reply.
// No I/O: the server (agent/server.h) owns sockets and timers; this owns the
// meaning of each command (docs/api.md, "Agent: RESP2 over a Unix socket").
//
// Commands:
//   RL.CHECK <domain> <cost> <key> <value> [<key> <value> ...]
//       -> [allowed, limit, remaining, reset_after_ms, retry_after_ms]
//   RL.ACQUIRE <domain> <cost> <timeout_ms> <key> <value> [...]
//       -> the same reply, once the tokens were taken or the timeout passed.
//       When the first attempt is refused, Execute returns kWait with the
//       time of the next attempt; the server calls ResumeAcquire then, with
//       the same arguments, until it no longer returns kWait. A refusal
//       that can never turn into an admission (retry_after -1) is answered
//       at once. Only the last refused attempt counts as a refusal in the
//       decision counters; every attempt reports its demand (for leases).
//   RL.INFO -> a bulk string of "name:value" lines (Redis INFO style).
//   PING [message], ECHO message, QUIT, HELLO [2 [AUTH u p] [SETNAME n]],
//   COMMAND [...] (an empty array, or 0 for COMMAND COUNT),
//   CONFIG GET <parameter> [...] (save and appendonly, for
//   redis-benchmark), CLIENT SETNAME|SETINFO (accepted and ignored).
// Command names are case-insensitive. Errors say what was expected; the
// connection stays usable after any of them.
//
// Allocation: none for RL.CHECK/RL.ACQUIRE on known buckets once the
// descriptor scratch and the output buffer have their capacity.
//
// Thread-compatible: used by the agent's event loop only.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "agent/checker.h"
#include "common/descriptor.h"

namespace sluice {

// A request's arguments (args[0] is the command name): views into the
// caller's buffer, as a pointer and a count, so that the server can pass
// them without copying them into a vector.
class RespArgs {
 public:
  RespArgs(const std::string_view* data, size_t size)
      : data_(data), size_(size) {}
  explicit RespArgs(const std::vector<std::string_view>& args)
      : data_(args.data()), size_(args.size()) {}
  size_t size() const { return size_; }
  const std::string_view& operator[](size_t i) const { return data_[i]; }
  const std::string_view* begin() const { return data_; }
  const std::string_view* end() const { return data_ + size_; }

 private:
  const std::string_view* data_;
  size_t size_;
};

class CommandHandler {
 public:
  enum class Action {
    kContinue,  // reply appended; go on with the next request
    kClose,     // reply appended; close the connection once it is written
    kWait,      // nothing appended; call ResumeAcquire at wake_at
  };
  struct Outcome {
    Action action = Action::kContinue;
    int64_t wake_at = 0;   // kWait: when to try again (clock nanoseconds)
    int64_t deadline = 0;  // kWait: when RL.ACQUIRE gives up
  };

  // Lines appended to RL.INFO after the checker's ("name:value\r\n" each).
  using InfoExtra = std::function<void(std::string* out)>;

  explicit CommandHandler(Checker* checker, InfoExtra info_extra = nullptr);

  // Executes `args` (args[0] is the command name; at least one element)
  // for connection `connection_id` at `now`, appending the reply to *out.
  Outcome Execute(RespArgs args, int64_t now, uint64_t connection_id,
                  std::string* out);
  Outcome Execute(const std::vector<std::string_view>& args, int64_t now,
                  uint64_t connection_id, std::string* out) {
    return Execute(RespArgs(args), now, connection_id, out);
  }

  // Another attempt of an RL.ACQUIRE that returned kWait (same arguments,
  // the deadline it returned).
  Outcome ResumeAcquire(RespArgs args, int64_t now, int64_t deadline,
                        std::string* out);
  Outcome ResumeAcquire(const std::vector<std::string_view>& args, int64_t now,
                        int64_t deadline, std::string* out) {
    return ResumeAcquire(RespArgs(args), now, deadline, out);
  }

  // Pipelines (see Checker::Prepare): the server may Prepare() each request
  // of a batch, in order, then PrepareDone(), then Execute() them in the
  // same order (with the same argument views), then ClearPrepared(). Only
  // RL.CHECK is prepared; nothing is executed or answered by Prepare(), and
  // Execute() gives the same replies either way.
  void Prepare(RespArgs args);
  void Prepare(const std::vector<std::string_view>& args) {
    Prepare(RespArgs(args));
  }
  void PrepareDone() { checker_->PrefetchPrepared(); }
  void ClearPrepared() { checker_->ClearPrepared(); }

  // The RL.INFO text.
  std::string Info(int64_t now) const;

 private:
  Outcome Check(RespArgs args, int64_t now, std::string* out);
  Outcome Acquire(RespArgs args, int64_t now, bool first, int64_t deadline,
                  std::string* out);
  // Fills descriptor_ from the pairs args[first..] (an even count).
  void FillDescriptor(RespArgs args, size_t first);
  bool RunCheck(std::string_view domain, int64_t cost, int64_t now,
                const CheckOptions& options, Decision* decision,
                std::string* out);

  Checker* checker_;
  InfoExtra info_extra_;
  Descriptor descriptor_;
};

}  // namespace sluice
