// The Redis commands the agent answers so that Redis clients and tools
// (redis-cli, redis-benchmark, redis-py, go-redis, ...) work against it:
//
//   PING [message]        -> PONG, or the message
//   ECHO message          -> the message
//   QUIT                  -> OK, then the connection closes
//   HELLO [2 [AUTH u p] [SETNAME n]]
//                         -> the server map (RESP2 only: HELLO 3 gets
//                            NOPROTO; AUTH and SETNAME are ignored)
//   COMMAND [...]         -> an empty array (0 for COMMAND COUNT): clients
//                            work without a command table
//   CONFIG GET <parameter> [...]
//                         -> save and appendonly (what redis-benchmark
//                            asks at start); nothing else is configurable
//   CLIENT ID | SETNAME <name> | SETINFO <attr> <value>
//                         -> the connection id, or OK (names are ignored)
//
// Errors say what was expected; the connection stays usable after any of
// them. Pure functions of their arguments (see command.h for the
// contract); thread-safe.
#pragma once

#include "agent/commands/command.h"

namespace sluice {

CommandOutcome RunPing(CommandContext* context, const CommandRequest& request);
CommandOutcome RunEcho(CommandContext* context, const CommandRequest& request);
CommandOutcome RunQuit(CommandContext* context, const CommandRequest& request);
CommandOutcome RunHello(CommandContext* context, const CommandRequest& request);
CommandOutcome RunCommand(CommandContext* context,
                          const CommandRequest& request);
CommandOutcome RunConfig(CommandContext* context,
                         const CommandRequest& request);
CommandOutcome RunClient(CommandContext* context,
                         const CommandRequest& request);

}  // namespace sluice
