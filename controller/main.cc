// sluice-controller: see DESIGN.md "Command lines" and controller/controller.h.
// `sluice-controller keygen [--out FILE]` writes a new CurveZMQ keypair (a
// key file for --curve-secret-key-file; platform/keygen.h).
#include <pthread.h>
#include <signal.h>

#include <cerrno>
#include <cstdlib>
#include <iostream>
#include <string>
#include <thread>
#include <vector>

#include "controller/controller.h"
#include "platform/curve_keys.h"
#include "platform/flags.h"
#include "platform/keygen.h"
#include "platform/log.h"
#include "platform/systemd_notify.h"

namespace {

bool ParsePositiveInt(const std::string& text, int64_t* out) {
  if (text.empty() || text.size() > 15) return false;
  int64_t value = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return false;
    value = value * 10 + (c - '0');
  }
  if (value <= 0) return false;
  *out = value;
  return true;
}

// `sluice-controller keygen [--out FILE]` (platform/keygen.h).
int Keygen(const std::vector<std::string>& args) {
  sluice::KeygenText text;
  text.program = "sluice-controller";
  text.comment =
      "sluice-controller CurveZMQ keypair. Secret: keep this file mode "
      "0600.\nUse: sluice-controller --curve-secret-key-file FILE";
  text.next_steps = [](const std::string& public_key) {
    return "Then give agents --controller-public-key " + public_key;
  };
  return sluice::RunKeygen(text, args, std::cout, std::cerr);
}

}  // namespace

int main(int argc, char** argv) {
  using sluice::LogError;
  using sluice::LogInfo;

  // Signals are taken by one thread with sigwait(); block them before any
  // thread starts so every thread inherits the mask.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  // A client closing its connection mid-reply must not kill the daemon.
  signal(SIGPIPE, SIG_IGN);

  // `keygen` first: its flags are its own.
  if (argc >= 2 && std::string(argv[1]) == "keygen") {
    return Keygen(std::vector<std::string>(argv + 2, argv + argc));
  }
  sluice::FlagParser flags("sluice-controller");
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
  flags.AddString("agents", "SLUICE_AGENTS", "tcp://127.0.0.1:7070",
                  "ZeroMQ endpoint the agents connect to");
  flags.AddString("metrics", "SLUICE_METRICS", "",
                  "Prometheus /metrics HOST:PORT (empty: none)");
  flags.AddBool("insecure", "SLUICE_INSECURE",
                "allow a non-loopback --agents endpoint without CurveZMQ");
  flags.AddString("curve-secret-key-file", "SLUICE_CURVE_SECRET_KEY_FILE", "",
                  "the controller's CurveZMQ keypair, a file from "
                  "`sluice-controller keygen` (mode 0600): encrypts the agent "
                  "channel and admits only agents whose key is allowed "
                  "(/api/v1/agent-keys)");
  flags.AddString("migrations", "SLUICE_MIGRATIONS",
                  sluice::DefaultMigrationsDir(),
                  "directory of NNNN_name.sql migrations (when installed: "
                  "<prefix>/share/sluice/migrations; from a build tree: the "
                  "source tree's)");
  flags.AddString("lease-ttl-ms", "SLUICE_LEASE_TTL_MS", "2000",
                  "how long a lease granted to an agent is valid, in ms");
  sluice::Status parsed = flags.Parse(argc, argv);
  if (!parsed.ok()) {
    std::cerr << "sluice-controller: " << parsed.message() << "\n";
    return 2;
  }
  if (flags.help_requested()) {
    std::cout << flags.Usage();
    return 0;
  }
  if (flags.positional().size() == 1 && flags.positional()[0] == "keygen") {
    return Keygen({});
  }
  if (!flags.positional().empty()) {
    std::cerr << "sluice-controller: unexpected argument '"
              << flags.positional().front()
              << "'; every setting is a --flag (the only subcommand is "
                 "keygen), see --help\n";
    return 2;
  }

  sluice::ControllerOptions options;
  options.db = flags.Get("db");
  options.http = flags.Get("http");
  options.tls_cert = flags.Get("tls-cert");
  options.tls_key = flags.Get("tls-key");
  options.agents = flags.Get("agents");
  options.metrics = flags.Get("metrics");
  options.insecure = flags.GetBool("insecure");
  options.curve_secret_key_file = flags.Get("curve-secret-key-file");
  options.migrations_dir = flags.Get("migrations");
  if (!ParsePositiveInt(flags.Get("lease-ttl-ms"), &options.lease_ttl_ms)) {
    std::cerr << "sluice-controller: --lease-ttl-ms '"
              << flags.Get("lease-ttl-ms")
              << "' is not a positive number of milliseconds, e.g. 2000\n";
    return 2;
  }
  // A restarted controller must not grant what its previous incarnation
  // may still have leased: it waits out the longest lease first.
  options.learning_ms = options.lease_ttl_ms;
  if (const char* token = std::getenv("SLUICE_ADMIN_TOKEN")) {
    options.admin_token = token;
  }
  // Without it libpq waits for the operating system's TCP timeout (minutes)
  // on an unreachable host, and /readyz with it.
  setenv("PGCONNECT_TIMEOUT", "5", /*overwrite=*/0);

  // Ready (migrations applied, rules loaded, agents served): a Type=notify
  // unit counts it as started from here on.
  options.on_ready = [] {
    sluice::Status notified = sluice::NotifySystemd("READY=1");
    if (!notified.ok()) sluice::LogWarn("controller", notified.message());
  };
  sluice::Controller controller(options);
  sluice::Status started = controller.Start();
  if (!started.ok()) {
    LogError("controller", "cannot start: " + started.message());
    return 1;
  }
  std::thread waiter([&controller, &signals] {
    int signal_number = 0;
    if (sigwait(&signals, &signal_number) == 0) {
      LogInfo("controller",
              std::string("got ") +
                  (signal_number == SIGINT ? "SIGINT" : "SIGTERM") +
                  ", stopping");
    }
    controller.RequestStop();
  });
  sluice::Status result = controller.Wait();
  sluice::NotifySystemd("STOPPING=1");
  controller.Stop();
  // Wake the waiter when the stop came from a fatal error, not a signal.
  pthread_kill(waiter.native_handle(), SIGTERM);
  waiter.join();
  if (!result.ok()) return 1;
  LogInfo("controller", "sluice-controller stopped");
  return 0;
}
