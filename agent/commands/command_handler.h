// CommandHandler: executes one parsed RESP request and appends its reply.
// No I/O: the server (agent/server/server.h) owns sockets and timers; the
// handlers the dispatch table names own the meaning of each command:
//   RL.CHECK, RL.ACQUIRE, RL.INFO   agent/commands/rate_limit_commands.h
//   PING, ECHO, QUIT, HELLO, COMMAND, CONFIG GET, CLIENT
//                                   agent/commands/redis_commands.h
// Command names are case-insensitive (agent/commands/command_table.h). An
// unknown command gets an error listing the known ones. Errors say what
// was expected; the connection stays usable after any of them.
//
// Allocation: none for RL.CHECK/RL.ACQUIRE on known buckets once the
// descriptor scratch and the output buffer have their capacity.
//
// Thread-compatible: used by the agent's event loop only.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "agent/check/checker.h"
#include "agent/commands/command.h"
#include "agent/commands/command_table.h"
#include "agent/commands/resp_args.h"

namespace sluice {

class CommandHandler {
 public:
  using Action = CommandAction;
  using Outcome = CommandOutcome;
  using InfoExtra = sluice::InfoExtra;

  explicit CommandHandler(Checker* checker, InfoExtra info_extra = nullptr);

  // Executes `args` (args[0] is the command name; at least one element)
  // for connection `connection_id` at `now`, appending the reply to *out.
  Outcome Execute(RespArgs args, int64_t now, uint64_t connection_id,
                  std::string* out) {
    const CommandRequest request{args, now, connection_id, out};
    const CommandSpec* spec = table_->Find(args[0]);
    if (spec == nullptr) return Unknown(request);
    return spec->run(&context_, request);
  }
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
  void Prepare(RespArgs args) {
    const CommandSpec* spec = table_->Find(args[0]);
    if (spec != nullptr && spec->prepare != nullptr) {
      spec->prepare(&context_, args);
    }
  }
  void Prepare(const std::vector<std::string_view>& args) {
    Prepare(RespArgs(args));
  }
  void PrepareDone() { context_.checker->PrefetchPrepared(); }
  void ClearPrepared() { context_.checker->ClearPrepared(); }

  // The RL.INFO text.
  std::string Info(int64_t now) const;

 private:
  Outcome Unknown(const CommandRequest& request) const;

  const CommandTable* table_;
  CommandContext context_;
};

}  // namespace sluice
