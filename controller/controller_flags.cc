#include "controller/controller_flags.h"

#include <utility>

#include "platform/curve_keys.h"
#include "platform/endpoint.h"

namespace sluice {
namespace {

// --http, --metrics: HOST:PORT (--metrics only when given); --agents: not
// empty.
Status CheckAddresses(const ControllerOptions& options) {
  StatusOr<HostPort> http = ParseHostPort(options.http);
  if (!http.ok()) {
    return Status::InvalidArgument("--http: " + http.status().message(),
                                   "http");
  }
  if (!options.metrics.empty()) {
    StatusOr<HostPort> metrics = ParseHostPort(options.metrics);
    if (!metrics.ok()) {
      return Status::InvalidArgument("--metrics: " + metrics.status().message(),
                                     "metrics");
    }
  }
  if (options.agents.empty()) {
    return Status::InvalidArgument(
        "--agents is empty: give the ZeroMQ endpoint agents connect to, "
        "e.g. tcp://127.0.0.1:7070",
        "agents");
  }
  return Status::Ok();
}

// --tls-cert and --tls-key together; the CurveZMQ key file usable; the
// rule of the agent channel.
Status CheckSecurity(const ControllerOptions& options) {
  if (options.tls_cert.empty() != options.tls_key.empty()) {
    return Status::InvalidArgument(
        "--tls-cert and --tls-key go together: give both for HTTPS, or "
        "neither for plain HTTP",
        options.tls_cert.empty() ? "tls-cert" : "tls-key");
  }
  const bool curve = !options.curve_secret_key_file.empty();
  if (curve) {
    StatusOr<CurveKeyPair> keys =
        ReadCurveKeyFile(options.curve_secret_key_file);
    if (!keys.ok()) return keys.status();
  }
  return CheckAgentChannel("--agents", options.agents, curve, options.insecure,
                           kControllerCurveKeysHint);
}

StatusOr<ControllerOptions> BuildControllerOptions(const FlagParser& flags) {
  ControllerOptions options;
  options.db = flags.Get("db");
  options.http = flags.Get("http");
  options.tls_cert = flags.Get("tls-cert");
  options.tls_key = flags.Get("tls-key");
  options.agents = flags.Get("agents");
  options.advertise = flags.Get("advertise");
  options.metrics = flags.Get("metrics");
  options.insecure = flags.GetBool("insecure");
  options.curve_secret_key_file = flags.Get("curve-secret-key-file");
  options.migrations_dir = flags.Get("migrations");
  options.http_limits.max_connections =
      static_cast<size_t>(flags.GetInt("http-max-connections"));
  options.http_limits.max_connections_per_client =
      static_cast<size_t>(flags.GetInt("http-max-connections-per-client"));
  options.lease_ttl_ms = flags.GetInt("lease-ttl-ms");
  options.learning_ms = options.lease_ttl_ms;
  options.usage_retention.minute_ms =
      flags.GetInt("usage-minutes-retention-days") * 86'400'000LL;
  options.usage_retention.hour_ms =
      flags.GetInt("usage-hours-retention-days") * 86'400'000LL;
  if (options.usage_retention.hour_ms < options.usage_retention.minute_ms) {
    return Status::InvalidArgument(
        "--usage-hours-retention-days must be at least "
        "--usage-minutes-retention-days (counts per hour outlive those per "
        "minute)",
        "usage-hours-retention-days");
  }
  options.usage_retention.top_minute_ms =
      flags.GetInt("usage-top-minutes-retention-hours") * 3'600'000LL;
  options.usage_retention.top_hour_ms =
      flags.GetInt("usage-top-hours-retention-days") * 86'400'000LL;
  if (options.usage_retention.top_hour_ms <
      options.usage_retention.top_minute_ms) {
    return Status::InvalidArgument(
        "--usage-top-hours-retention-days must cover at least "
        "--usage-top-minutes-retention-hours (the heaviest clients per hour "
        "outlive those per minute)",
        "usage-top-hours-retention-days");
  }
  options.admin_token = flags.GetEnv("SLUICE_ADMIN_TOKEN");
  Status status = CheckAddresses(options);
  if (!status.ok()) return status;
  status = CheckSecurity(options);
  if (!status.ok()) return status;
  StatusOr<std::string> advertise =
      ResolveAdvertise(options.advertise, options.agents, LocalHostName());
  if (!advertise.ok()) return advertise.status();
  return options;
}

}  // namespace

FlagParser ControllerFlags() {
  FlagParser flags("sluice-controller");
  flags.AddString("db", "SLUICE_DB", "",
                  "PostgreSQL connection string or URI (empty: libpq's PG* "
                  "variables)");
  flags.AddString("http", "SLUICE_HTTP", "127.0.0.1:8080",
                  "REST API and dashboard HOST:PORT");
  flags.AddString("tls-cert", "SLUICE_TLS_CERT", "",
                  "PEM certificate chain: serve the API and dashboard over "
                  "HTTPS (with --tls-key)");
  flags.AddString("tls-key", "SLUICE_TLS_KEY", "",
                  "PEM private key of --tls-cert");
  flags.AddInt("http-max-connections", "SLUICE_HTTP_MAX_CONNECTIONS", 4096, 1,
               1000000,
               "REST API connections open at once, in all (each is a file "
               "descriptor; lowered to fit the file descriptor limit)");
  flags.AddInt("http-max-connections-per-client",
               "SLUICE_HTTP_MAX_CONNECTIONS_PER_CLIENT", 64, 1, 1000000,
               "REST API connections open at once from one client address");
  flags.AddString("agents", "SLUICE_AGENTS", "tcp://127.0.0.1:7070",
                  "ZeroMQ endpoint the agents connect to");
  flags.AddString("advertise", "SLUICE_ADVERTISE", "",
                  "ZeroMQ endpoint agents reach this controller at, as their "
                  "--controller lists it (default: --agents, or tcp://HOSTNAME:"
                  "PORT when --agents binds every interface)");
  flags.AddString("metrics", "SLUICE_METRICS", "",
                  "Prometheus /metrics HOST:PORT (empty: none)");
  flags.AddBool("insecure", "SLUICE_INSECURE",
                "allow a non-loopback --agents endpoint without CurveZMQ");
  flags.AddString("curve-secret-key-file", "SLUICE_CURVE_SECRET_KEY_FILE", "",
                  "the controller's CurveZMQ keypair, a file from "
                  "`sluice-controller keygen` (mode 0600): encrypts the agent "
                  "channel and admits only agents whose key is allowed "
                  "(/api/v1/agent-keys)");
  flags.AddString("migrations", "SLUICE_MIGRATIONS", "",
                  "directory of NNNN_name.sql migrations (empty: "
                  "<directory of the binary>/../share/sluice/migrations if it "
                  "exists, else the source tree's migrations/)");
  flags.AddInt("lease-ttl-ms", "SLUICE_LEASE_TTL_MS", 2000, 1, kMaxLeaseTtlMs,
               "how long a lease granted to an agent is valid, in ms");
  flags.AddInt("usage-minutes-retention-days",
               "SLUICE_USAGE_MINUTES_RETENTION_DAYS", 7, 1, 365,
               "how long usage counts per minute are kept, in days");
  flags.AddInt("usage-hours-retention-days",
               "SLUICE_USAGE_HOURS_RETENTION_DAYS", 90, 1, 3650,
               "how long usage counts per hour are kept, in days (at least "
               "the minutes' retention)");
  flags.AddInt("usage-top-minutes-retention-hours",
               "SLUICE_USAGE_TOP_MINUTES_RETENTION_HOURS", 6, 1, 8760,
               "how long the heaviest clients per minute are kept, in hours");
  flags.AddInt("usage-top-hours-retention-days",
               "SLUICE_USAGE_TOP_HOURS_RETENTION_DAYS", 7, 1, 3650,
               "how long the heaviest clients per hour are kept, in days (at "
               "least the minutes' retention)");
  flags.AddEnv("SLUICE_ADMIN_TOKEN",
               "an admin API token; without it the first start creates one "
               "and prints it once");
  flags.AddSubcommand("keygen",
                      "print a new CurveZMQ keypair (a key file for "
                      "--curve-secret-key-file) and exit");
  return flags;
}

StatusOr<ControllerCommandLine> ParseControllerCommandLine(
    const std::vector<std::string>& args, const EnvLookup& env) {
  FlagParser flags = ControllerFlags();
  Status parsed = flags.Parse(args, env);
  if (!parsed.ok()) return parsed;
  StatusOr<DaemonMode> mode = DaemonModeOf(flags);
  if (!mode.ok()) return mode.status();
  ControllerCommandLine command_line;
  command_line.mode = *mode;
  command_line.usage = flags.Usage();
  if (*mode != DaemonMode::kRun) return command_line;
  StatusOr<ControllerOptions> options = BuildControllerOptions(flags);
  if (!options.ok()) return options.status();
  command_line.options = std::move(options).value();
  return command_line;
}

}  // namespace sluice
