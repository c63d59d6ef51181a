// What a command handler is given and what it returns: the contract
// between the dispatch table (agent/commands/command_table.h), the
// handlers (rate_limit_commands.h, redis_commands.h) and the server, which
// acts on the outcome (agent/server/connection.h).
//
// A handler appends exactly one reply to request.out, unless it returns
// kWait (then nothing). It does no I/O and never blocks: a command that
// must wait (RL.ACQUIRE) says when to try again and the server's timer
// calls back.
//
// Thread-compatible: handlers run on the agent's event loop only.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "agent/check/checker.h"
#include "agent/commands/resp_args.h"
#include "common/descriptor.h"

namespace sluice {

enum class CommandAction {
  kContinue,  // reply appended; go on with the next request
  kClose,     // reply appended; close the connection once it is written
  kWait,      // nothing appended; call ResumeAcquire at wake_at
};

struct CommandOutcome {
  CommandAction action = CommandAction::kContinue;
  int64_t wake_at = 0;   // kWait: when to try again (clock nanoseconds)
  int64_t deadline = 0;  // kWait: when RL.ACQUIRE gives up
};

// Lines appended to RL.INFO after the checker's ("name:value\r\n" each).
using InfoExtra = std::function<void(std::string* out)>;

// What the handlers work on: one per event loop, owned by the
// CommandHandler.
struct CommandContext {
  Checker* checker = nullptr;
  InfoExtra info_extra;  // may be empty
  // Scratch for a request's descriptor (RL.CHECK, RL.ACQUIRE), reused so
  // that a check allocates nothing.
  Descriptor descriptor;
};

// One request to execute.
struct CommandRequest {
  RespArgs args;           // args[0] is the command name; at least one
  int64_t now;             // clock nanoseconds
  uint64_t connection_id;  // for HELLO and CLIENT ID
  std::string* out;        // the reply is appended here
};

// Executes one request (see the header comment).
using CommandFn = CommandOutcome (*)(CommandContext* context,
                                     const CommandRequest& request);
// Works out ahead what CommandFn will need for the same arguments, so
// that the memory loads of a pipeline overlap (Checker::Prepare). Appends
// nothing, changes nothing a command can see.
using PrepareFn = void (*)(CommandContext* context, RespArgs args);

}  // namespace sluice
