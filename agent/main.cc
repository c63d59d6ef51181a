// sluice-agent: the per-host rate-limit agent (agent/agent.h). Parses the
// command line (agent/agent_flags.h), then runs the agent, prints the help
// or makes a key.
#include <iostream>
#include <string>
#include <utility>
#include <vector>

#include "agent/agent.h"
#include "agent/agent_flags.h"
#include "agent/grpc/rls_server.h"
#include "agent/http_check/http_check_server.h"
#include "platform/keygen.h"
#include "platform/log.h"
#include "platform/system_clock.h"
#include "platform/systemd_notify.h"

int main(int argc, char** argv) {
  // `keygen` first: its flags (--out FILE) are its own.
  if (argc >= 2 && std::string(argv[1]) == "keygen") {
    return sluice::RunKeygen(sluice::AgentKeygenText(),
                             std::vector<std::string>(argv + 2, argv + argc),
                             std::cout, std::cerr);
  }
  sluice::StatusOr<sluice::AgentCommandLine> command_line =
      sluice::ParseAgentCommandLine(
          std::vector<std::string>(argv + 1, argv + argc),
          sluice::ProcessEnv());
  if (!command_line.ok()) {
    sluice::LogError("agent", command_line.status().message());
    return 2;
  }
  switch (command_line->mode) {
    case sluice::DaemonMode::kHelp:
      std::cout << command_line->usage;
      return 0;
    case sluice::DaemonMode::kKeygen:
      return sluice::RunKeygen(sluice::AgentKeygenText(), {}, std::cout,
                               std::cerr);
    case sluice::DaemonMode::kRun:
      break;
  }
  sluice::AgentOptions& options = command_line->options;
  if (!options.grpc.empty()) {
    sluice::RlsServerOptions grpc;
    grpc.address = options.grpc;
    options.front_doors.push_back(sluice::RlsServer::Factory(grpc));
  }
  if (!options.http_check.empty()) {
    sluice::HttpCheckOptions http_check;
    http_check.address = options.http_check;
    options.front_doors.push_back(sluice::HttpCheckServer::Factory(http_check));
  }
  sluice::Agent agent(std::move(options), &sluice::SystemClock::Get());
  sluice::Status status = agent.Start();
  if (!status.ok()) {
    sluice::LogError("agent", status.message());
    return 2;
  }
  // Serving from here on: a Type=notify unit counts it as started.
  sluice::Status notified = sluice::NotifySystemd("READY=1");
  if (!notified.ok()) sluice::LogWarn("agent", notified.message());
  agent.Run();
  sluice::NotifySystemd("STOPPING=1").IgnoreError();  // best effort
  sluice::LogInfo("agent", "sluice-agent stopped");
  return 0;
}
