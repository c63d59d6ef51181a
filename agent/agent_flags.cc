#include "agent/agent_flags.h"

#include <string>
#include <utility>
#include <vector>

#include "agent/lease/controller_plan.h"
#include "platform/curve_keys.h"
#include "platform/endpoint.h"

namespace sluice {
namespace {

constexpr char kDefaultSocket[] = "/run/sluice/agent.sock";

// --curve-secret-key-file and --controller-public-key: both or neither;
// with both, the keys go into *options.
Status ReadCurveFlags(const FlagParser& flags, AgentOptions* options) {
  const std::string& key_file = flags.Get("curve-secret-key-file");
  const std::string& controller_key = flags.Get("controller-public-key");
  if (key_file.empty() && controller_key.empty()) return Status::Ok();
  if (key_file.empty() || controller_key.empty()) {
    return Status::InvalidArgument(
        "CurveZMQ needs both --curve-secret-key-file (this agent's keypair, "
        "from sluice-agent keygen) and --controller-public-key (the public= "
        "line of the controller's key file); got only " +
            std::string(key_file.empty() ? "--controller-public-key"
                                         : "--curve-secret-key-file"),
        key_file.empty() ? "curve-secret-key-file" : "controller-public-key");
  }
  StatusOr<CurveKeyPair> pair = ReadCurveKeyFile(key_file);
  if (!pair.ok()) return pair.status();
  Status valid = ValidateCurveKey(controller_key, "--controller-public-key");
  if (!valid.ok()) return valid;
  if (controller_key == pair->public_key) {
    return Status::InvalidArgument(
        "--controller-public-key is this agent's own public key; give the "
        "public= line of the controller's key file",
        "controller-public-key");
  }
  options->curve_public_key = pair->public_key;
  options->curve_secret_key = pair->secret_key;
  options->controller_public_key = controller_key;
  return Status::Ok();
}

// --tcp and --metrics: HOST:PORT when given.
Status CheckListenFlags(const AgentOptions& options) {
  if (!options.server.tcp.empty()) {
    StatusOr<HostPort> tcp = ParseHostPort(options.server.tcp, true);
    if (!tcp.ok()) {
      return Status::InvalidArgument("--tcp: " + tcp.status().message(), "tcp");
    }
  }
  const std::pair<const std::string*, const char*> doors[] = {
      {&options.grpc, "grpc"}, {&options.http_check, "http-check"}};
  for (const auto& [address, name] : doors) {
    if (address->empty()) continue;
    StatusOr<HostPort> parsed = ParseHostPort(*address);
    if (!parsed.ok()) {
      return Status::InvalidArgument(
          std::string("--") + name + ": " + parsed.status().message(), name);
    }
  }
  if (!options.metrics.empty()) {
    StatusOr<HostPort> metrics = ParseHostPort(options.metrics);
    if (!metrics.ok()) {
      return Status::InvalidArgument("--metrics: " + metrics.status().message(),
                                     "metrics");
    }
  }
  return Status::Ok();
}

StatusOr<AgentOptions> BuildAgentOptions(const FlagParser& flags) {
  AgentOptions options;
  options.controller = flags.Get("controller");
  options.agent_id = flags.Get("agent-id");
  options.server.socket_path = flags.Get("socket");
  options.server.tcp = flags.Get("tcp");
  options.metrics = flags.Get("metrics");
  options.grpc = flags.Get("grpc");
  options.http_check = flags.Get("http-check");
  options.insecure = flags.GetBool("insecure");
  options.max_buckets = static_cast<size_t>(flags.GetInt("max-buckets"));
  if (options.controller.empty()) {
    return Status::InvalidArgument(
        "--controller is empty: give the controller's ZeroMQ endpoint, e.g. "
        "tcp://127.0.0.1:7070",
        "controller");
  }
  if (options.server.socket_path.empty()) {
    return Status::InvalidArgument(
        "--socket is empty: give the Unix socket path to serve on, e.g. "
        "--socket /run/sluice/agent.sock",
        "socket");
  }
  Status status = CheckListenFlags(options);
  if (!status.ok()) return status;
  status = ReadCurveFlags(flags, &options);
  if (!status.ok()) return status;
  StatusOr<std::vector<std::string>> endpoints =
      SplitControllerEndpoints(options.controller);
  if (!endpoints.ok()) return endpoints.status();
  for (const std::string& endpoint : *endpoints) {
    status = CheckAgentChannel(
        "--controller", endpoint, !options.curve_secret_key.empty(),
        options.insecure,
        "--curve-secret-key-file (this agent's keypair, from sluice-agent "
        "keygen) and --controller-public-key");
    if (!status.ok()) return status;
  }
  return options;
}

}  // namespace

FlagParser AgentFlags() {
  FlagParser flags("sluice-agent");
  flags.AddString("controller", "SLUICE_CONTROLLER", "tcp://127.0.0.1:7070",
                  "ZeroMQ endpoint of sluice-controller's agent channel; "
                  "with several controllers, every one's, separated by "
                  "commas (tcp://a:7070,tcp://b:7070)");
  flags.AddString("socket", "SLUICE_SOCKET", kDefaultSocket,
                  "Unix socket to serve RESP on (mode 0660; its directory "
                  "is created if missing)");
  flags.AddString("tcp", "SLUICE_TCP", "",
                  "also serve RESP on TCP HOST:PORT (off by default; use a "
                  "loopback address)");
  flags.AddString("agent-id", "SLUICE_AGENT_ID", "",
                  "name of this agent at the controller (default "
                  "hostname:pid)");
  flags.AddString("metrics", "SLUICE_METRICS", "",
                  "serve Prometheus /metrics on HOST:PORT (off by default)");
  flags.AddString("grpc", "SLUICE_GRPC", "",
                  "also serve Envoy's rate limit service (gRPC "
                  "ShouldRateLimit) on HOST:PORT (off by default; use a "
                  "loopback address)");
  flags.AddString("http-check", "SLUICE_HTTP_CHECK", "",
                  "also answer GET /v1/check/{domain}?key=value (nginx "
                  "auth_request, Traefik forwardAuth) on HOST:PORT (off by "
                  "default; use a loopback address)");
  flags.AddBool("insecure", "SLUICE_INSECURE",
                "allow a non-loopback --controller without CurveZMQ keys");
  flags.AddString("curve-secret-key-file", "SLUICE_CURVE_SECRET_KEY_FILE", "",
                  "this agent's CurveZMQ keypair, a file from `sluice-agent "
                  "keygen` (mode 0600); with --controller-public-key the "
                  "channel is encrypted and authenticated");
  flags.AddString("controller-public-key", "SLUICE_CONTROLLER_PUBLIC_KEY", "",
                  "the controller's CurveZMQ public key (Z85: the public= "
                  "line of its key file)");
  flags.AddInt("max-buckets", "SLUICE_MAX_BUCKETS",
               static_cast<int64_t>(kDefaultMaxBuckets), 1,
               static_cast<int64_t>(BucketTable::kMaxBucketsLimit),
               "most buckets held at once; beyond it RL.CHECK for a new "
               "bucket is answered with an error (about 105 bytes each)");
  flags.AddSubcommand("keygen",
                      "print a new CurveZMQ keypair (a key file for "
                      "--curve-secret-key-file) and exit");
  return flags;
}

StatusOr<AgentCommandLine> ParseAgentCommandLine(
    const std::vector<std::string>& args, const EnvLookup& env) {
  FlagParser flags = AgentFlags();
  Status parsed = flags.Parse(args, env);
  if (!parsed.ok()) return parsed;
  StatusOr<DaemonMode> mode = DaemonModeOf(flags);
  if (!mode.ok()) return mode.status();
  AgentCommandLine command_line;
  command_line.mode = *mode;
  command_line.usage = flags.Usage();
  if (*mode != DaemonMode::kRun) return command_line;
  StatusOr<AgentOptions> options = BuildAgentOptions(flags);
  if (!options.ok()) return options.status();
  command_line.options = std::move(options).value();
  return command_line;
}

}  // namespace sluice
