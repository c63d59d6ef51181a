// The rate-limit commands, on the agent's Checker:
//
//   RL.CHECK <domain> <cost> <key> <value> [<key> <value> ...]
//       -> [allowed, limit, remaining, reset_after_ms, retry_after_ms]
//   RL.ACQUIRE <domain> <cost> <timeout_ms> <key> <value> [...]
//       -> the same reply, once the tokens were taken or the timeout
//       passed. When the first attempt is refused, RunRlAcquire returns
//       kWait with the time of the next attempt; the server calls
//       ResumeRlAcquire then, with the same arguments, until it no longer
//       returns kWait. A refusal that can never turn into an admission
//       (retry_after -1) is answered at once. Only the last refused
//       attempt counts as a refusal in the decision counters; every
//       attempt reports its demand (for leases).
//   RL.INFO -> a bulk string of "name:value" lines (Redis INFO style).
//
// cost is a non-negative integer up to 2^53 (token counts are doubles in
// the core), timeout_ms at most a day. A check that needs a new bucket
// when the table is full gets an error naming --max-buckets.
//
// Allocation: none for RL.CHECK/RL.ACQUIRE on known buckets once the
// descriptor scratch and the output buffer have their capacity.
//
// Thread-compatible: the agent's event loop only (see command.h).
#pragma once

#include <cstdint>
#include <string>

#include "agent/commands/command.h"

namespace sluice {

CommandOutcome RunRlCheck(CommandContext* context,
                          const CommandRequest& request);
// Prepares an RL.CHECK of the right shape (Checker::Prepare); ignores any
// other.
void PrepareRlCheck(CommandContext* context, RespArgs args);

CommandOutcome RunRlAcquire(CommandContext* context,
                            const CommandRequest& request);
// Another attempt of an RL.ACQUIRE that returned kWait, with the deadline
// it returned.
CommandOutcome ResumeRlAcquire(CommandContext* context,
                               const CommandRequest& request, int64_t deadline);

CommandOutcome RunRlInfo(CommandContext* context,
                         const CommandRequest& request);
// The RL.INFO text: the version, the checker's state, then the context's
// info_extra lines.
std::string RlInfoText(const CommandContext& context, int64_t now);

}  // namespace sluice
