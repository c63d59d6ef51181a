// The sluice-agent command line: its flags, each with a SLUICE_*
// environment variable (the command line wins), --help, and the `keygen`
// subcommand (platform/keygen.h). See docs/operations.md for the table.
//
//   sluice-agent --controller ZMQ_ENDPOINT --socket PATH [--tcp HOST:PORT]
//                [--agent-id ID] [--metrics HOST:PORT] [--insecure]
//                [--max-buckets N]
//                [--curve-secret-key-file PATH --controller-public-key Z85]
//   sluice-agent keygen
//
// ParseAgentCommandLine() makes every check a command line can fail before
// anything starts, each with a message naming the flag and what would be
// right:
//   - --controller and --socket are not empty; --tcp and --metrics are
//     HOST:PORT (--tcp may use port 0);
//   - --max-buckets is a whole number from 1 to BucketTable's limit;
//   - --curve-secret-key-file and --controller-public-key come together;
//     the key file is readable by its owner only and holds a keypair; the
//     controller's key is 40 Z85 characters and not this agent's own;
//   - without CurveZMQ keys, --controller is a loopback endpoint unless
//     --insecure (CheckAgentChannel).
//
// Reads the key file (I/O); otherwise pure. Thread-compatible.
#pragma once

#include <string>
#include <vector>

#include "agent/agent.h"
#include "common/status.h"
#include "platform/flags.h"

namespace sluice {

using AgentCommandLine = DaemonCommandLine<AgentOptions>;

// The agent's flags, registered on a parser named "sluice-agent".
FlagParser AgentFlags();

// `args` excludes the program name; `env` gives the SLUICE_* variables.
// Options are built (and checked) for DaemonMode::kRun only.
StatusOr<AgentCommandLine> ParseAgentCommandLine(
    const std::vector<std::string>& args, const EnvLookup& env);

}  // namespace sluice
