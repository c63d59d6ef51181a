// sluice-agent: the per-host rate-limit agent (see agent/agent.h).
//
//   sluice-agent --controller ZMQ_ENDPOINT --socket PATH [--tcp HOST:PORT]
//                [--agent-id ID] [--metrics HOST:PORT] [--insecure]
//                [--max-buckets N]
//                [--curve-secret-key-file PATH --controller-public-key Z85]
//   sluice-agent keygen [--out FILE]   a new CurveZMQ keypair (a key file)
//
// Each flag also reads an environment variable (SLUICE_CONTROLLER, ...);
// the command line wins.
#include <cerrno>
#include <cstdlib>
#include <iostream>
#include <string>
#include <vector>

#include "agent/agent.h"
#include "platform/curve_keys.h"
#include "platform/endpoint.h"
#include "platform/flags.h"
#include "platform/keygen.h"
#include "platform/log.h"
#include "platform/system_clock.h"
#include "platform/systemd_notify.h"

namespace {

constexpr char kDefaultSocket[] = "/run/sluice/agent.sock";

int Fail(const std::string& message) {
  sluice::LogError("agent", message);
  return 2;
}

// `sluice-agent keygen [--out FILE]` (platform/keygen.h).
int Keygen(const std::vector<std::string>& args) {
  sluice::KeygenText text;
  text.program = "sluice-agent";
  text.comment =
      "sluice-agent CurveZMQ keypair. Secret: keep this file mode 0600.\n"
      "Use: sluice-agent --curve-secret-key-file FILE "
      "--controller-public-key KEY";
  text.next_steps = [](const std::string& public_key) {
    return "Then allow the agent at the controller: POST /api/v1/agent-keys "
           "{\"name\": \"...\", \"public_key\": \"" +
           public_key + "\"}";
  };
  return sluice::RunKeygen(text, args, std::cout, std::cerr);
}

}  // namespace

int main(int argc, char** argv) {
  // `keygen` first: its flags are its own.
  if (argc >= 2 && std::string(argv[1]) == "keygen") {
    return Keygen(std::vector<std::string>(argv + 2, argv + argc));
  }
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
  flags.AddString("curve-secret-key-file", "SLUICE_CURVE_SECRET_KEY_FILE", "",
                  "this agent's CurveZMQ keypair, a file from `sluice-agent "
                  "keygen` (mode 0600); with --controller-public-key the "
                  "channel is encrypted and authenticated");
  flags.AddString("controller-public-key", "SLUICE_CONTROLLER_PUBLIC_KEY", "",
                  "the controller's CurveZMQ public key (Z85: the public= "
                  "line of its key file)");
  flags.AddString("max-buckets", "SLUICE_MAX_BUCKETS",
                  std::to_string(sluice::kDefaultMaxBuckets),
                  "most buckets held at once; beyond it RL.CHECK for a new "
                  "bucket is answered with an error (about 105 bytes each)");

  sluice::Status status = flags.Parse(argc, argv);
  if (!status.ok()) return Fail(status.message());
  if (flags.help_requested()) {
    std::cout << flags.Usage();
    return 0;
  }
  if (flags.positional().size() == 1 && flags.positional()[0] == "keygen") {
    return Keygen({});
  }
  if (!flags.positional().empty()) {
    return Fail("unexpected argument '" + flags.positional().front() +
                "'; the only subcommand is keygen, run sluice-agent --help "
                "for the flags");
  }

  sluice::AgentOptions options;
  options.controller = flags.Get("controller");
  options.agent_id = flags.Get("agent-id");
  options.server.socket_path = flags.Get("socket");
  options.server.tcp = flags.Get("tcp");
  options.metrics = flags.Get("metrics");

  const std::string& key_file = flags.Get("curve-secret-key-file");
  const std::string& controller_key = flags.Get("controller-public-key");
  if (key_file.empty() != controller_key.empty()) {
    return Fail(
        "CurveZMQ needs both --curve-secret-key-file (this agent's keypair, "
        "from sluice-agent keygen) and --controller-public-key (the public= "
        "line of the controller's key file); got only " +
        std::string(key_file.empty() ? "--controller-public-key"
                                     : "--curve-secret-key-file"));
  }
  const bool curve = !key_file.empty();
  if (curve) {
    sluice::StatusOr<sluice::CurveKeyPair> pair =
        sluice::ReadCurveKeyFile(key_file);
    if (!pair.ok()) return Fail(pair.status().message());
    sluice::Status valid =
        sluice::ValidateCurveKey(controller_key, "--controller-public-key");
    if (!valid.ok()) return Fail(valid.message());
    if (controller_key == pair->public_key) {
      return Fail(
          "--controller-public-key is this agent's own public key; give the "
          "public= line of the controller's key file");
    }
    options.curve_public_key = pair->public_key;
    options.curve_secret_key = pair->secret_key;
    options.controller_public_key = controller_key;
    sluice::LogInfo(
        "agent", "CurveZMQ on: this agent's public key is " + pair->public_key +
                     "; the controller admits it once an admin adds it "
                     "(POST /api/v1/agent-keys)");
  }

  if (options.controller.empty()) {
    return Fail(
        "--controller is empty: give the controller's ZeroMQ "
        "endpoint, e.g. tcp://127.0.0.1:7070");
  }
  if (!curve && !sluice::IsLoopbackZmqEndpoint(options.controller)) {
    if (!flags.GetBool("insecure")) {
      return Fail("refusing the non-loopback controller endpoint " +
                  options.controller +
                  " without CurveZMQ keys: the channel would be "
                  "unauthenticated and in clear text. Give "
                  "--curve-secret-key-file and --controller-public-key, use "
                  "a loopback endpoint, or pass --insecure "
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
  // Serving from here on: a Type=notify unit counts it as started.
  sluice::Status notified = sluice::NotifySystemd("READY=1");
  if (!notified.ok()) sluice::LogWarn("agent", notified.message());
  agent.Run();
  sluice::NotifySystemd("STOPPING=1");
  sluice::LogInfo("agent", "sluice-agent stopped");
  return 0;
}
