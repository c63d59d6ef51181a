// sluice-controller (controller/controller.h). Parses the command line
// (controller/controller_flags.h), then runs the controller until SIGINT
// or SIGTERM, prints the help or makes a key; `sluice-controller
// import-envoy ...` converts envoyproxy/ratelimit configuration
// (controller/import/).
#include <pthread.h>
#include <signal.h>

#include <cstdlib>
#include <iostream>
#include <string>
#include <thread>
#include <vector>

#include "controller/controller.h"
#include "controller/controller_flags.h"
#include "controller/import/import_envoy_command.h"
#include "platform/file_limit.h"
#include "platform/http/http_limits.h"
#include "platform/keygen.h"
#include "platform/log.h"
#include "platform/systemd_notify.h"

namespace {

// Runs the controller until a signal in `signals` (blocked in every
// thread) or a fatal error. Returns the exit status.
int Run(sluice::ControllerOptions options, sigset_t* signals) {
  options.on_ready = [] {
    sluice::Status notified = sluice::NotifySystemd("READY=1");
    if (!notified.ok()) sluice::LogWarn("controller", notified.message());
  };
  sluice::Controller controller(options);
  sluice::Status started = controller.Start();
  if (!started.ok()) {
    sluice::LogError("controller", "cannot start: " + started.message());
    return 1;
  }
  std::thread waiter([&controller, signals] {
    int signal_number = 0;
    if (sigwait(signals, &signal_number) == 0) {
      sluice::LogInfo("controller",
                      std::string("got ") +
                          (signal_number == SIGINT ? "SIGINT" : "SIGTERM") +
                          ", stopping");
    }
    controller.RequestStop();
  });
  sluice::Status result = controller.Wait();
  sluice::NotifySystemd("STOPPING=1").IgnoreError();  // best effort
  controller.Stop();
  // Wake the waiter when the stop came from a fatal error, not a signal.
  pthread_kill(waiter.native_handle(), SIGTERM);
  waiter.join();
  if (!result.ok()) return 1;
  sluice::LogInfo("controller", "sluice-controller stopped");
  return 0;
}

// Raises the file descriptor limit as far as allowed, and lowers the REST
// API's connection cap when it still does not fit under it.
void FitConnectionsToFileLimit(sluice::HttpLimits* limits) {
  // Descriptors kept for everything but REST API connections: PostgreSQL,
  // ZeroMQ (agents, its own sockets and pipes), /metrics, files, logs.
  constexpr size_t kReserve = 256;
  sluice::StatusOr<sluice::FileLimit> raised = sluice::RaiseFileLimit();
  if (!raised.ok()) {
    sluice::LogWarn("controller", "cannot raise the file descriptor limit: " +
                                      raised.status().message());
    return;
  }
  sluice::LogInfo(
      "controller",
      "file descriptors: soft limit " + std::to_string(raised->soft) +
          (raised->soft != raised->before
               ? " (raised from " + std::to_string(raised->before) + ")"
               : std::string()) +
          ", hard limit " + std::to_string(raised->hard));
  const size_t fits = sluice::ConnectionsWithin(
      raised->soft, limits->max_connections, kReserve);
  if (fits < limits->max_connections) {
    sluice::LogWarn(
        "controller",
        "--http-max-connections " + std::to_string(limits->max_connections) +
            " does not fit under the file descriptor limit of " +
            std::to_string(raised->soft) + " (less " +
            std::to_string(kReserve) + " for the rest): serving at most " +
            std::to_string(fits) +
            " REST API connections; raise the hard limit (systemd "
            "LimitNOFILE=, ulimit -Hn) to serve more");
    limits->max_connections = fits;
  }
}

}  // namespace

int main(int argc, char** argv) {
  // `keygen` first: its flags (--out FILE) are its own.
  if (argc >= 2 && std::string(argv[1]) == "keygen") {
    return sluice::RunKeygen(sluice::ControllerKeygenText(),
                             std::vector<std::string>(argv + 2, argv + argc),
                             std::cout, std::cerr);
  }
  if (argc >= 2 && std::string(argv[1]) == "import-envoy") {
    return sluice::ImportEnvoyCommand(
        std::vector<std::string>(argv + 2, argv + argc), std::cout, std::cerr);
  }

  // Signals are taken by one thread with sigwait(); block them before any
  // thread starts so every thread inherits the mask.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  // A client closing its connection mid-reply must not kill the daemon.
  signal(SIGPIPE, SIG_IGN);

  sluice::StatusOr<sluice::ControllerCommandLine> command_line =
      sluice::ParseControllerCommandLine(
          std::vector<std::string>(argv + 1, argv + argc),
          sluice::ProcessEnv());
  if (!command_line.ok()) {
    std::cerr << "sluice-controller: " << command_line.status().message()
              << "\n";
    return 2;
  }
  switch (command_line->mode) {
    case sluice::DaemonMode::kHelp:
      std::cout << command_line->usage;
      return 0;
    case sluice::DaemonMode::kKeygen:
      return sluice::RunKeygen(sluice::ControllerKeygenText(), {}, std::cout,
                               std::cerr);
    case sluice::DaemonMode::kRun:
      break;
  }
  // Without it libpq waits for the operating system's TCP timeout (minutes)
  // on an unreachable host, and /readyz with it.
  setenv("PGCONNECT_TIMEOUT", "5", /*overwrite=*/0);
  sluice::ControllerOptions options = command_line->options;
  FitConnectionsToFileLimit(&options.http_limits);
  return Run(options, &signals);
}
