// The sluice-controller command line: its flags, each with a SLUICE_*
// environment variable (the command line wins), SLUICE_ADMIN_TOKEN,
// --help, and the `keygen` subcommand (platform/keygen.h). See
// docs/operations.md for the table.
//
//   sluice-controller --db CONNINFO --http HOST:PORT --agents ZMQ_ENDPOINT
//                     [--advertise ZMQ_ENDPOINT]
//                     [--metrics HOST:PORT] [--tls-cert PEM --tls-key PEM]
//                     [--curve-secret-key-file PATH] [--insecure]
//                     [--migrations DIR] [--lease-ttl-ms N]
//   sluice-controller keygen
//
// ParseControllerCommandLine() makes every check a command line can fail
// before anything starts, each with a message naming the flag and what
// would be right:
//   - --http and --metrics are HOST:PORT; --agents is not empty;
//   - --advertise (or --agents without it) names a host agents can reach
//     (ResolveAdvertise, controller.h);
//   - --tls-cert and --tls-key come together;
//   - --lease-ttl-ms is a whole number of milliseconds from 1 to a day;
//   - the --curve-secret-key-file is readable by its owner only and holds
//     a keypair;
//   - without it, --agents is a loopback endpoint unless --insecure
//     (CheckAgentChannel, as Controller::Start checks again).
// The learning period after a start is set to the lease TTL: a restarted
// controller must not grant what its previous incarnation may still have
// leased (docs/leasing.md).
//
// Reads the key file (I/O); otherwise pure. Thread-compatible.
#pragma once

#include <string>
#include <vector>

#include "common/status.h"
#include "controller/controller.h"
#include "platform/flags.h"

namespace sluice {

using ControllerCommandLine = DaemonCommandLine<ControllerOptions>;

// The longest --lease-ttl-ms: a day (agents cap a lease's TTL there too).
constexpr int64_t kMaxLeaseTtlMs = 24 * 3600 * 1000;

// The controller's flags, registered on a parser named
// "sluice-controller".
FlagParser ControllerFlags();

// `args` excludes the program name; `env` gives the SLUICE_* variables.
// Options are built (and checked) for DaemonMode::kRun only.
StatusOr<ControllerCommandLine> ParseControllerCommandLine(
    const std::vector<std::string>& args, const EnvLookup& env);

}  // namespace sluice
