#include "controller/controller_flags.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <cstdlib>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "controller/controller.h"
#include "platform/curve_keys.h"

namespace sluice {
namespace {

using Env = std::map<std::string, std::string>;

StatusOr<ControllerCommandLine> Parse(const std::vector<std::string>& args,
                                      Env env = {}) {
  return ParseControllerCommandLine(args, MapEnv(std::move(env)));
}

// The message of a command line that must fail.
std::string Error(const std::vector<std::string>& args, Env env = {}) {
  StatusOr<ControllerCommandLine> parsed = Parse(args, std::move(env));
  EXPECT_FALSE(parsed.ok());
  return parsed.ok() ? "" : parsed.status().message();
}

TEST(ControllerFlagsTest, Defaults) {
  StatusOr<ControllerCommandLine> parsed = Parse({});
  ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
  EXPECT_EQ(parsed->mode, DaemonMode::kRun);
  const ControllerOptions& options = parsed->options;
  EXPECT_EQ(options.db, "");
  EXPECT_EQ(options.http, "127.0.0.1:8080");
  EXPECT_EQ(options.agents, "tcp://127.0.0.1:7070");
  EXPECT_EQ(options.metrics, "");
  EXPECT_EQ(options.migrations_dir, "");
  EXPECT_EQ(options.lease_ttl_ms, 2000);
  // A restarted controller learns for one lease TTL (docs/leasing.md).
  EXPECT_EQ(options.learning_ms, 2000);
  EXPECT_EQ(options.admin_token, "");
  EXPECT_FALSE(options.insecure);
}

TEST(ControllerFlagsTest, FlagsAndTheirEnvironmentVariables) {
  StatusOr<ControllerCommandLine> parsed =
      Parse({"--http", "127.0.0.1:9090", "--lease-ttl-ms", "500"},
            {{"SLUICE_DB", "host=db"},
             {"SLUICE_HTTP", "127.0.0.1:1"},
             {"SLUICE_METRICS", "[::1]:9100"},
             {"SLUICE_MIGRATIONS", "/opt/migrations"},
             {"SLUICE_ADMIN_TOKEN", "secret"},
             {"SLUICE_TLS_CERT", "/c.pem"},
             {"SLUICE_TLS_KEY", "/k.pem"}});
  ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
  const ControllerOptions& options = parsed->options;
  EXPECT_EQ(options.db, "host=db");
  EXPECT_EQ(options.http, "127.0.0.1:9090");  // the flag wins
  EXPECT_EQ(options.metrics, "[::1]:9100");
  EXPECT_EQ(options.migrations_dir, "/opt/migrations");
  EXPECT_EQ(options.admin_token, "secret");
  EXPECT_EQ(options.tls_cert, "/c.pem");
  EXPECT_EQ(options.tls_key, "/k.pem");
  EXPECT_EQ(options.lease_ttl_ms, 500);
  EXPECT_EQ(options.learning_ms, 500);
}

TEST(ControllerFlagsTest, HelpAndKeygenBuildNoOptions) {
  StatusOr<ControllerCommandLine> help =
      Parse({"-h"}, {{"SLUICE_AGENTS", "tcp://0.0.0.0:7070"}});
  ASSERT_TRUE(help.ok()) << help.status().ToString();
  EXPECT_EQ(help->mode, DaemonMode::kHelp);
  EXPECT_EQ(help->usage.rfind("usage: sluice-controller [flags]\n", 0), 0u);
  EXPECT_NE(help->usage.find("SLUICE_ADMIN_TOKEN"), std::string::npos);
  StatusOr<ControllerCommandLine> keygen = Parse({"keygen", "--http=x"});
  ASSERT_TRUE(keygen.ok()) << keygen.status().ToString();
  EXPECT_EQ(keygen->mode, DaemonMode::kKeygen);
  EXPECT_NE(Error({"migrate"}).find("unexpected argument 'migrate'"),
            std::string::npos);
}

TEST(ControllerFlagsTest, LeaseTtlIsMillisecondsUpToADay) {
  const std::string range = "expected a whole number from 1 to 86400000";
  EXPECT_EQ(Error({"--lease-ttl-ms", "soon"}),
            "--lease-ttl-ms 'soon' is not valid: " + range);
  EXPECT_EQ(Error({"--lease-ttl-ms", "0"}),
            "--lease-ttl-ms '0' is not valid: " + range);
  EXPECT_EQ(Error({"--lease-ttl-ms", "86400001"}),
            "--lease-ttl-ms '86400001' is not valid: " + range);
  EXPECT_EQ(
      Error({}, {{"SLUICE_LEASE_TTL_MS", "2s"}}),
      "--lease-ttl-ms '2s' (from SLUICE_LEASE_TTL_MS) is not valid: " + range);
}

TEST(ControllerFlagsTest, AddressesAndTlsAreCheckedBeforeAnythingStarts) {
  EXPECT_EQ(Error({"--http", "127.0.0.1:http"}).rfind("--http: ", 0), 0u);
  EXPECT_EQ(Error({"--metrics", "nowhere"}).rfind("--metrics: ", 0), 0u);
  EXPECT_NE(Error({"--agents="}).find("--agents is empty"), std::string::npos);
  EXPECT_NE(Error({"--tls-cert", "/c.pem"}).find("--tls-key go together"),
            std::string::npos);
  EXPECT_NE(Error({"--tls-key", "/k.pem"}).find("--tls-key go together"),
            std::string::npos);
}

TEST(ControllerFlagsTest, ANonLoopbackAgentsEndpointNeedsAKeyOrInsecure) {
  const std::string refused = Error({"--agents", "tcp://0.0.0.0:7070"});
  EXPECT_EQ(refused.rfind("--agents tcp://0.0.0.0:7070 is not a loopback "
                          "endpoint",
                          0),
            0u)
      << refused;
  EXPECT_NE(refused.find("sluice-controller keygen"), std::string::npos);
  StatusOr<ControllerCommandLine> insecure =
      Parse({"--agents", "tcp://0.0.0.0:7070"}, {{"SLUICE_INSECURE", "yes"}});
  ASSERT_TRUE(insecure.ok()) << insecure.status().ToString();
  EXPECT_TRUE(insecure->options.insecure);
}

TEST(ControllerFlagsTest, TheAdvertisedEndpoint) {
  EXPECT_EQ(*ResolveAdvertise("", "tcp://127.0.0.1:7070", "h"),
            "tcp://127.0.0.1:7070");
  EXPECT_EQ(*ResolveAdvertise("", "ipc:///run/s.sock", "h"),
            "ipc:///run/s.sock");
  // An endpoint on every interface is advertised by the host name.
  EXPECT_EQ(*ResolveAdvertise("", "tcp://0.0.0.0:7070", "ctl-1"),
            "tcp://ctl-1:7070");
  EXPECT_EQ(*ResolveAdvertise("", "tcp://*:7071", "ctl-1"), "tcp://ctl-1:7071");
  EXPECT_EQ(*ResolveAdvertise("tcp://ctl.example:7000", "tcp://*:7070", "h"),
            "tcp://ctl.example:7000");
  StatusOr<std::string> no_name = ResolveAdvertise("", "tcp://[::]:7070", "");
  ASSERT_FALSE(no_name.ok());
  EXPECT_NE(no_name.status().message().find("give --advertise"),
            std::string::npos);
  StatusOr<std::string> wildcard =
      ResolveAdvertise("tcp://0.0.0.0:7070", "tcp://*:7070", "h");
  ASSERT_FALSE(wildcard.ok());
  EXPECT_NE(wildcard.status().message().find("names no host"),
            std::string::npos);
  StatusOr<std::string> udp = ResolveAdvertise("udp://x:1", "tcp://*:1", "h");
  ASSERT_FALSE(udp.ok());
  EXPECT_NE(udp.status().message().find("tcp://HOST:PORT"), std::string::npos);
}

TEST(ControllerFlagsTest, TheKeyFileMustBePrivateAndHoldAKeypair) {
  char tmpl[] = "/tmp/sluice-controller-flags-XXXXXX";
  ASSERT_NE(::mkdtemp(tmpl), nullptr);
  const std::string dir = tmpl;
  StatusOr<CurveKeyPair> keys = GenerateCurveKeyPair();
  ASSERT_TRUE(keys.ok());
  const std::string key_file = dir + "/controller.key";
  std::ofstream(key_file) << FormatCurveKeyFile(*keys, "test");
  ASSERT_EQ(::chmod(key_file.c_str(), 0600), 0);
  StatusOr<ControllerCommandLine> parsed = Parse(
      {"--agents", "tcp://0.0.0.0:7070", "--curve-secret-key-file", key_file});
  ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
  EXPECT_EQ(parsed->options.curve_secret_key_file, key_file);
  ASSERT_EQ(::chmod(key_file.c_str(), 0644), 0);
  EXPECT_NE(Error({"--curve-secret-key-file", key_file}).find("chmod 600"),
            std::string::npos);
  std::ofstream(key_file, std::ios::trunc) << "secret=short\n";
  ASSERT_EQ(::chmod(key_file.c_str(), 0600), 0);
  EXPECT_NE(
      Error({}, {{"SLUICE_CURVE_SECRET_KEY_FILE", key_file}}).find(key_file),
      std::string::npos);
  std::system(("rm -rf " + dir).c_str());
}

TEST(ControllerFlagsTest, UsageRetentionsIncludingTheHeaviestClients) {
  StatusOr<ControllerCommandLine> defaults = Parse({});
  ASSERT_TRUE(defaults.ok()) << defaults.status().ToString();
  const UsageRetention& d = defaults->options.usage_retention;
  EXPECT_EQ(d.minute_ms, 7 * 86'400'000LL);
  EXPECT_EQ(d.hour_ms, 90 * 86'400'000LL);
  EXPECT_EQ(d.top_minute_ms, 6 * 3'600'000LL);
  EXPECT_EQ(d.top_hour_ms, 7 * 86'400'000LL);

  StatusOr<ControllerCommandLine> parsed =
      Parse({"--usage-top-minutes-retention-hours", "48"},
            {{"SLUICE_USAGE_TOP_HOURS_RETENTION_DAYS", "30"}});
  ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
  EXPECT_EQ(parsed->options.usage_retention.top_minute_ms, 48 * 3'600'000LL);
  EXPECT_EQ(parsed->options.usage_retention.top_hour_ms, 30 * 86'400'000LL);

  // Clients per hour must outlive those per minute: 49 h > 2 days.
  EXPECT_NE(Error({"--usage-top-minutes-retention-hours", "49",
                   "--usage-top-hours-retention-days", "2"})
                .find("--usage-top-hours-retention-days must cover"),
            std::string::npos);
  EXPECT_NE(
      Error({"--usage-top-minutes-retention-hours", "0"}).find("usage-top"),
      std::string::npos);
}

}  // namespace
}  // namespace sluice
