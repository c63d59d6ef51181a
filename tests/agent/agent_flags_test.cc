#include "agent/agent_flags.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "platform/curve_keys.h"

namespace sluice {
namespace {

using Env = std::map<std::string, std::string>;

StatusOr<AgentCommandLine> Parse(const std::vector<std::string>& args,
                                 Env env = {}) {
  return ParseAgentCommandLine(args, MapEnv(std::move(env)));
}

// The message of a command line that must fail.
std::string Error(const std::vector<std::string>& args, Env env = {}) {
  StatusOr<AgentCommandLine> parsed = Parse(args, std::move(env));
  EXPECT_FALSE(parsed.ok());
  return parsed.ok() ? "" : parsed.status().message();
}

// Key files in a temporary directory, removed with it.
class AgentFlagsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/sluice-agent-flags-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    StatusOr<CurveKeyPair> agent = GenerateCurveKeyPair();
    StatusOr<CurveKeyPair> controller = GenerateCurveKeyPair();
    ASSERT_TRUE(agent.ok() && controller.ok());
    agent_keys_ = *agent;
    controller_keys_ = *controller;
    key_file_ = KeyFile("agent.key", 0600);
  }
  void TearDown() override { std::system(("rm -rf " + dir_).c_str()); }

  std::string KeyFile(const std::string& name, mode_t mode) {
    const std::string path = dir_ + "/" + name;
    std::ofstream(path) << FormatCurveKeyFile(agent_keys_, "test");
    EXPECT_EQ(::chmod(path.c_str(), mode), 0);
    return path;
  }

  std::string dir_;
  std::string key_file_;
  CurveKeyPair agent_keys_;
  CurveKeyPair controller_keys_;
};

TEST_F(AgentFlagsTest, DefaultsRunOnLoopback) {
  StatusOr<AgentCommandLine> parsed = Parse({});
  ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
  EXPECT_EQ(parsed->mode, DaemonMode::kRun);
  const AgentOptions& options = parsed->options;
  EXPECT_EQ(options.controller, "tcp://127.0.0.1:7070");
  EXPECT_EQ(options.server.socket_path, "/run/sluice/agent.sock");
  EXPECT_EQ(options.server.tcp, "");
  EXPECT_EQ(options.metrics, "");
  EXPECT_EQ(options.agent_id, "");
  EXPECT_EQ(options.max_buckets, kDefaultMaxBuckets);
  EXPECT_FALSE(options.insecure);
  EXPECT_TRUE(options.curve_secret_key.empty());
}

TEST_F(AgentFlagsTest, FlagsAndTheirEnvironmentVariables) {
  StatusOr<AgentCommandLine> parsed =
      Parse({"--socket", "/tmp/a.sock", "--tcp", "127.0.0.1:0",
             "--max-buckets=250000"},
            {{"SLUICE_CONTROLLER", "ipc:///tmp/c"},
             {"SLUICE_AGENT_ID", "web-1"},
             {"SLUICE_METRICS", "127.0.0.1:9100"},
             {"SLUICE_SOCKET", "/ignored.sock"}});
  ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
  const AgentOptions& options = parsed->options;
  EXPECT_EQ(options.controller, "ipc:///tmp/c");
  EXPECT_EQ(options.agent_id, "web-1");
  EXPECT_EQ(options.metrics, "127.0.0.1:9100");
  EXPECT_EQ(options.server.socket_path, "/tmp/a.sock");  // the flag wins
  EXPECT_EQ(options.server.tcp, "127.0.0.1:0");
  EXPECT_EQ(options.max_buckets, 250000u);
}

TEST_F(AgentFlagsTest, HelpAndKeygenBuildNoOptions) {
  // Flags that would fail a start do not stop --help or keygen.
  StatusOr<AgentCommandLine> help =
      Parse({"--controller", "tcp://10.0.0.1:7070", "--help"});
  ASSERT_TRUE(help.ok()) << help.status().ToString();
  EXPECT_EQ(help->mode, DaemonMode::kHelp);
  EXPECT_EQ(help->usage.rfind("usage: sluice-agent [flags]\n", 0), 0u);
  EXPECT_NE(help->usage.find("sluice-agent keygen"), std::string::npos);
  StatusOr<AgentCommandLine> keygen =
      Parse({"keygen"}, {{"SLUICE_CONTROLLER", "tcp://10.0.0.1:7070"}});
  ASSERT_TRUE(keygen.ok()) << keygen.status().ToString();
  EXPECT_EQ(keygen->mode, DaemonMode::kKeygen);
  EXPECT_NE(Error({"start"}).find("unexpected argument 'start'"),
            std::string::npos);
}

TEST_F(AgentFlagsTest, MaxBucketsIsAWholeNumberInRange) {
  const std::string range = "expected a whole number from 1 to 2147483648";
  EXPECT_EQ(Error({"--max-buckets", "0"}),
            "--max-buckets '0' is not valid: " + range);
  EXPECT_EQ(Error({"--max-buckets", "-5"}),
            "--max-buckets '-5' is not valid: " + range);
  EXPECT_EQ(Error({"--max-buckets", "1e6"}),
            "--max-buckets '1e6' is not valid: " + range);
  EXPECT_EQ(Error({"--max-buckets", "2147483649"}),
            "--max-buckets '2147483649' is not valid: " + range);
  EXPECT_EQ(
      Error({}, {{"SLUICE_MAX_BUCKETS", "lots"}}),
      "--max-buckets 'lots' (from SLUICE_MAX_BUCKETS) is not valid: " + range);
  StatusOr<AgentCommandLine> most = Parse({"--max-buckets", "2147483648"});
  ASSERT_TRUE(most.ok());
  EXPECT_EQ(most->options.max_buckets, BucketTable::kMaxBucketsLimit);
}

TEST_F(AgentFlagsTest, EmptyOrMalformedAddresses) {
  EXPECT_NE(Error({"--controller="}).find("--controller is empty"),
            std::string::npos);
  EXPECT_NE(Error({"--socket="}).find("--socket is empty"), std::string::npos);
  EXPECT_EQ(Error({"--tcp", "localhost"}).rfind("--tcp: ", 0), 0u);
  EXPECT_EQ(Error({"--metrics", "127.0.0.1:0"}).rfind("--metrics: ", 0), 0u);
  EXPECT_TRUE(Parse({"--tcp", "[::1]:0"}).ok());
}

TEST_F(AgentFlagsTest, ANonLoopbackControllerNeedsKeysOrInsecure) {
  const std::string refused = Error({"--controller", "tcp://10.0.0.1:7070"});
  EXPECT_EQ(refused.rfind("--controller tcp://10.0.0.1:7070 is not a loopback "
                          "endpoint",
                          0),
            0u)
      << refused;
  EXPECT_NE(refused.find("--curve-secret-key-file"), std::string::npos);
  EXPECT_NE(refused.find("--insecure"), std::string::npos);
  for (const Env& env : {Env{}, Env{{"SLUICE_INSECURE", "1"}}}) {
    std::vector<std::string> args = {"--controller", "tcp://10.0.0.1:7070"};
    if (env.empty()) args.push_back("--insecure");
    StatusOr<AgentCommandLine> parsed = Parse(args, env);
    ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
    EXPECT_TRUE(parsed->options.insecure);
  }
}

TEST_F(AgentFlagsTest, SeveralControllersSeparatedByCommas) {
  StatusOr<AgentCommandLine> parsed =
      Parse({"--controller", "tcp://127.0.0.1:7070,tcp://127.0.0.1:7071"});
  ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
  EXPECT_EQ(parsed->options.controller,
            "tcp://127.0.0.1:7070,tcp://127.0.0.1:7071");
  // Each endpoint is checked: one off loopback needs keys or --insecure.
  const std::string refused =
      Error({"--controller", "tcp://127.0.0.1:7070,tcp://10.0.0.1:7070"});
  EXPECT_EQ(
      refused.rfind("--controller tcp://10.0.0.1:7070 is not a loopback", 0),
      0u)
      << refused;
  EXPECT_NE(Error({"--controller", "tcp://127.0.0.1:7070,"})
                .find("--controller element 2 is empty"),
            std::string::npos);
  EXPECT_NE(Error({"--controller", "tcp://127.0.0.1:1,tcp://127.0.0.1:1"})
                .find("twice"),
            std::string::npos);
}

TEST_F(AgentFlagsTest, CurveKeysMakeAnyControllerEndpointAcceptable) {
  StatusOr<AgentCommandLine> parsed =
      Parse({"--controller", "tcp://10.0.0.1:7070", "--curve-secret-key-file",
             key_file_},
            {{"SLUICE_CONTROLLER_PUBLIC_KEY", controller_keys_.public_key}});
  ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
  const AgentOptions& options = parsed->options;
  EXPECT_EQ(options.curve_public_key, agent_keys_.public_key);
  EXPECT_EQ(options.curve_secret_key, agent_keys_.secret_key);
  EXPECT_EQ(options.controller_public_key, controller_keys_.public_key);
  EXPECT_FALSE(options.insecure);
}

TEST_F(AgentFlagsTest, CurveKeyErrorsSayWhatIsMissingOrWrong) {
  EXPECT_NE(Error({"--curve-secret-key-file", key_file_})
                .find("got only --curve-secret-key-file"),
            std::string::npos);
  EXPECT_NE(Error({"--controller-public-key", controller_keys_.public_key})
                .find("got only --controller-public-key"),
            std::string::npos);
  EXPECT_NE(Error({"--curve-secret-key-file", KeyFile("open.key", 0644),
                   "--controller-public-key", controller_keys_.public_key})
                .find("chmod 600"),
            std::string::npos);
  EXPECT_NE(Error({"--curve-secret-key-file", dir_ + "/missing.key",
                   "--controller-public-key", controller_keys_.public_key})
                .find(dir_ + "/missing.key"),
            std::string::npos);
  EXPECT_NE(Error({"--curve-secret-key-file", key_file_,
                   "--controller-public-key", "not-a-key"})
                .find("40 Z85 characters"),
            std::string::npos);
  EXPECT_NE(Error({"--curve-secret-key-file", key_file_,
                   "--controller-public-key", agent_keys_.public_key})
                .find("this agent's own public key"),
            std::string::npos);
}

}  // namespace
}  // namespace sluice
