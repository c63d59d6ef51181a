// sluice-agent: the per-host rate-limit agent (see agent/agent.h).
//
//   sluice-agent --controller ZMQ_ENDPOINT --socket PATH [--tcp HOST:PORT]
//                [--agent-id ID] [--metrics HOST:PORT] [--insecure]
//                [--max-buckets N]
//
// Each flag also reads an environment variable (SLUICE_CONTROLLER, ...);
// the command line wins.
#include <cerrno>
#include <cstdlib>
#include <iostream>
#include <string>

#include "agent/agent.h"
#include "platform/endpoint.h"
#include "platform/flags.h"
#include "platform/log.h"
#include "platform/system_clock.h"

namespace {

constexpr char kDefaultSocket[] = "/run/sluice/agent.sock";

int Fail(const std::string& message) {
  sluice::LogError("agent", message);
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  sluice::FlagParser flags("sluice-agent");
  flags.AddString("controller", "SLUICE_CONTROLLER", "tcp://127.0.0.1:7070",
                  "ZeroMQ endpoint of sluice-controller's agent channel");
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
  flags.AddBool("insecure", "SLUICE_INSECURE",
                "allow a non-loopback --controller without CurveZMQ keys");
  flags.AddString("max-buckets", "SLUICE_MAX_BUCKETS",
                  std::to_string(sluice::kDefaultMaxBuckets),
                  "most buckets held at once; beyond it RL.CHECK for a new "
                  "bucket is answered with an error (about 180 bytes each)");

  sluice::Status status = flags.Parse(argc, argv);
  if (!status.ok()) return Fail(status.message());
  if (flags.help_requested()) {
    std::cout << flags.Usage();
    return 0;
  }
  if (!flags.positional().empty()) {
    return Fail("unexpected argument '" + flags.positional().front() +
                "'; run sluice-agent --help for the flags");
  }

  sluice::AgentOptions options;
  options.controller = flags.Get("controller");
  options.agent_id = flags.Get("agent-id");
  options.server.socket_path = flags.Get("socket");
  options.server.tcp = flags.Get("tcp");
  options.metrics = flags.Get("metrics");

  if (options.controller.empty()) {
    return Fail(
        "--controller is empty: give the controller's ZeroMQ "
        "endpoint, e.g. tcp://127.0.0.1:7070");
  }
  if (!sluice::IsLoopbackZmqEndpoint(options.controller)) {
    if (!flags.GetBool("insecure")) {
      return Fail("refusing the non-loopback controller endpoint " +
                  options.controller +
                  " without encryption: CurveZMQ keys are not supported "
                  "yet, so the channel would be unauthenticated and in "
                  "clear text. Use a loopback endpoint, or pass --insecure "
                  "(SLUICE_INSECURE=1) to accept that on a trusted network");
    }
    sluice::LogWarn("agent", "--insecure: the channel to " +
                                 options.controller +
                                 " is neither encrypted nor authenticated");
  }
  if (options.server.socket_path.empty()) {
    return Fail(
        "--socket is empty: give the Unix socket path to serve on, "
        "e.g. --socket /run/sluice/agent.sock");
  }

  const std::string& max_text = flags.Get("max-buckets");
  char* end = nullptr;
  errno = 0;
  const unsigned long long max_buckets =
      std::strtoull(max_text.c_str(), &end, 10);
  if (max_text.empty() || *end != '\0' || errno != 0 || max_buckets == 0 ||
      max_buckets > sluice::BucketTable::kMaxBucketsLimit ||
      max_text[0] == '-') {
    return Fail("--max-buckets '" + max_text +
                "' is not valid: expected a whole number from 1 to " +
                std::to_string(sluice::BucketTable::kMaxBucketsLimit));
  }
  options.max_buckets = static_cast<size_t>(max_buckets);

  sluice::Agent agent(std::move(options), &sluice::SystemClock::Get());
  status = agent.Start();
  if (!status.ok()) return Fail(status.message());
  agent.Run();
  sluice::LogInfo("agent", "sluice-agent stopped");
  return 0;
}
