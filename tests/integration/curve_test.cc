// CurveZMQ end to end (docs/operations.md, "Security of the agent channel"):
// real sluice-controller and sluice-agent processes with key files from
// their `keygen` subcommands, a real PostgreSQL holding the allowed agent
// keys, and a recording TCP relay standing in for a capture on the wire.
//
// Keys are allowed and revoked here with SQL on agent_keys, which is what
// another controller's REST API does; the controller picks such changes up
// within about a second (tests/controller/lease/curve_test.cc covers the
// in-process API path, effective at once).

// cpprest's U() macro would break gtest's templates.
#define _TURN_OFF_PLATFORM_STRING
#include <cpprest/http_client.h>
#include <gtest/gtest.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <pqxx/pqxx>
#include <string>
#include <vector>

#include "platform/curve_keys.h"
#include "tests/integration/stack.h"
#include "tests/support/free_port.h"
#include "tests/support/tcp_relay.h"

namespace sluice::testing {
namespace {

using std::chrono::milliseconds;

const char* const kRuleName = "secret-rule-name-xyz";
const char* const kRule = R"({"name": "secret-rule-name-xyz", "domain": "api",
  "match": {"client_id": "*"}, "limit": 5, "period": "1m"})";

// The stdout of `command` (run by /bin/sh), and its exit status.
std::string RunCapture(const std::string& command, int* status) {
  std::string out;
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) {
    *status = -1;
    return out;
  }
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof(buf), pipe)) > 0) out.append(buf, n);
  *status = pclose(pipe);
  return out;
}

// `sluice-<which> keygen`, parsed.
CurveKeyPair Keygen(const std::string& which) {
  int status = 0;
  const std::string out = RunCapture(
      BuiltBinary(which + "/sluice-" + which) + " keygen 2>/dev/null", &status);
  EXPECT_EQ(status, 0) << out;
  StatusOr<CurveKeyPair> pair = ParseCurveKeyFile(out, which + " keygen");
  EXPECT_TRUE(pair.ok()) << pair.status().ToString() << "\n" << out;
  return pair.ok() ? *pair : CurveKeyPair{};
}

// RL.INFO's integer field `name`, or -1.
int64_t InfoField(RedisClient& client, const std::string& name) {
  auto reply = client.Command({"RL.INFO"});
  if (!reply || reply->type != REDIS_REPLY_STRING) return -1;
  const std::string text(reply->str, reply->len);
  const std::string key = "\n" + name + ":";
  size_t at = text.find(key);
  if (at == std::string::npos) return -1;
  return std::atoll(text.c_str() + at + key.size());
}

// One controller and any number of agents, each optionally on CURVE.
class CurveStack {
 public:
  CurveStack() {
    char tmpl[] = "/tmp/sluice-curve-it.XXXXXX";
    if (mkdtemp(tmpl) == nullptr) throw std::runtime_error("mkdtemp failed");
    dir_ = tmpl;
    http_port_ = PickFreePort();
    agents_port_ = PickFreePort();
  }
  ~CurveStack() {
    agents_.clear();
    controller_.Stop();
    std::string cmd = "rm -rf '" + dir_ + "'";
    int ignored = std::system(cmd.c_str());
    (void)ignored;
  }

  const std::string& dir() const { return dir_; }
  uint16_t agents_port() const { return agents_port_; }
  ChildProcess& controller() { return controller_; }

  // Writes `pair` as a key file with `mode`; returns its path.
  std::string KeyFile(const std::string& name, const CurveKeyPair& pair,
                      mode_t mode = 0600) {
    const std::string path = dir_ + "/" + name + ".key";
    std::ofstream(path) << FormatCurveKeyFile(pair, name);
    chmod(path.c_str(), mode);
    return path;
  }

  // With `key_file`, on a non-loopback bind (allowed because of the key);
  // without, on loopback.
  void StartController(const std::string& key_file, bool wait = true) {
    std::vector<std::string> argv = {
        BuiltBinary("controller/sluice-controller"),
        "--db",
        db_.conninfo(),
        "--http",
        "127.0.0.1:" + std::to_string(http_port_),
        "--agents",
        std::string(key_file.empty() ? "tcp://127.0.0.1:" : "tcp://0.0.0.0:") +
            std::to_string(agents_port_)};
    if (!key_file.empty()) {
      argv.push_back("--curve-secret-key-file");
      argv.push_back(key_file);
    }
    controller_.Start(argv, {{"SLUICE_ADMIN_TOKEN", Stack::kToken}},
                      dir_ + "/controller.log");
    if (!wait) return;
    bool ready = Eventually(std::chrono::seconds(20), [&] {
      return controller_.Running() && Http("GET", "/readyz").status == 200;
    });
    if (!ready) {
      throw std::runtime_error("controller not ready:\n" +
                               controller_.LogTail());
    }
  }

  // Starts agent `name`; its RESP socket is dir/name.sock. `extra` flags.
  ChildProcess& StartAgent(const std::string& name,
                           const std::vector<std::string>& extra,
                           uint16_t port = 0, bool wait = true) {
    std::vector<std::string> argv = {
        BuiltBinary("agent/sluice-agent"),
        "--controller",
        "tcp://127.0.0.1:" + std::to_string(port == 0 ? agents_port_ : port),
        "--socket",
        Socket(name),
        "--agent-id",
        name};
    argv.insert(argv.end(), extra.begin(), extra.end());
    auto& agent = agents_[name];
    agent = std::make_unique<ChildProcess>();
    agent->Start(argv, {}, dir_ + "/" + name + ".log");
    if (wait) {
      bool up = Eventually(std::chrono::seconds(10), [&] {
        if (!agent->Running()) return false;
        RedisClient client(Socket(name));
        auto reply = client.Command({"PING"});
        return reply && reply->type == REDIS_REPLY_STATUS;
      });
      if (!up) throw std::runtime_error("agent not up:\n" + agent->LogTail());
    }
    return *agent;
  }

  // The CURVE flags for an agent with `key_file`.
  std::vector<std::string> CurveFlags(const std::string& key_file,
                                      const std::string& controller_key) {
    return {"--curve-secret-key-file", key_file, "--controller-public-key",
            controller_key};
  }

  std::string Socket(const std::string& name) const {
    return dir_ + "/" + name + ".sock";
  }

  // SQL on the controller's database (another controller's API would do
  // the same); the controller's migrations must have run.
  void Sql(const std::string& sql) {
    pqxx::connection conn(db_.conninfo());
    pqxx::work tx(conn);
    tx.exec(sql);
    tx.commit();
  }
  void AllowKey(const std::string& name, const std::string& public_key) {
    Sql("INSERT INTO agent_keys (name, public_key) VALUES ('" + name + "', '" +
        public_key + "')");
  }

  HttpResult Http(const std::string& method, const std::string& path,
                  const std::string& body = "") {
    HttpResult result;
    try {
      web::http::client::http_client_config config;
      config.set_timeout(std::chrono::seconds(5));
      web::http::client::http_client client(
          "http://127.0.0.1:" + std::to_string(http_port_), config);
      web::http::http_request request(method);
      request.set_request_uri(path);
      request.headers().add("Authorization",
                            std::string("Bearer ") + Stack::kToken);
      if (!body.empty()) request.set_body(body, "application/json");
      auto response = client.request(request).get();
      result.status = response.status_code();
      result.body = response.extract_utf8string(true).get();
    } catch (const std::exception& e) {
      result.body = e.what();
    }
    return result;
  }

 private:
  TestDatabase db_;
  std::string dir_;
  uint16_t http_port_ = 0;
  uint16_t agents_port_ = 0;
  ChildProcess controller_;
  std::map<std::string, std::unique_ptr<ChildProcess>> agents_;
};

TEST(CurveEndToEndTest, KeygenPrintsAValidNewKeypairEachTime) {
  for (const char* which : {"agent", "controller"}) {
    SCOPED_TRACE(which);
    CurveKeyPair a = Keygen(which);
    CurveKeyPair b = Keygen(which);
    ASSERT_FALSE(a.secret_key.empty());
    EXPECT_TRUE(ValidateCurveKey(a.public_key, "public").ok());
    EXPECT_NE(a.secret_key, b.secret_key);
    StatusOr<std::string> derived = CurvePublicKeyOf(a.secret_key);
    ASSERT_TRUE(derived.ok());
    EXPECT_EQ(*derived, a.public_key);
  }
}

// `keygen --out FILE` on both binaries: a private file the daemon accepts,
// nothing on stdout, and an existing file kept.
TEST(CurveEndToEndTest, KeygenOutWritesAPrivateKeyFile) {
  char tmpl[] = "/tmp/sluice-keygen-it.XXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  const std::string dir = tmpl;
  for (const std::string which : {"agent", "controller"}) {
    const std::string path = dir + "/" + which + "-out.key";
    const std::string binary = BuiltBinary(which + "/sluice-" + which);
    int status = 0;
    // umask 0 would leave a plainly created file readable by everyone.
    const std::string out = RunCapture(
        "umask 0; " + binary + " keygen --out " + path + " 2>/dev/null",
        &status);
    EXPECT_EQ(status, 0) << which;
    EXPECT_EQ(out, "") << which;
    struct stat info;
    ASSERT_EQ(stat(path.c_str(), &info), 0) << which;
    EXPECT_EQ(info.st_mode & 07777, 0600u) << which;
    StatusOr<CurveKeyPair> pair = ReadCurveKeyFile(path);
    ASSERT_TRUE(pair.ok()) << pair.status().ToString();

    const std::string again =
        RunCapture(binary + " keygen --out " + path + " 2>&1", &status);
    EXPECT_NE(status, 0) << which;
    EXPECT_NE(again.find("exists already"), std::string::npos) << again;
    StatusOr<CurveKeyPair> kept = ReadCurveKeyFile(path);
    ASSERT_TRUE(kept.ok());
    EXPECT_EQ(kept->secret_key, pair->secret_key) << which;
    unlink(path.c_str());
  }
  rmdir(dir.c_str());
}

TEST(CurveEndToEndTest, AllowedGetsRulesAndLeasesUnknownNothingRevokedCutOff) {
  CurveStack stack;
  const CurveKeyPair controller_keys = Keygen("controller");
  const CurveKeyPair allowed_keys = Keygen("agent");
  const CurveKeyPair unknown_keys = Keygen("agent");
  stack.StartController(stack.KeyFile("controller", controller_keys));
  stack.AllowKey("allowed", allowed_keys.public_key);
  HttpResult created = stack.Http("POST", "/api/v1/rules", kRule);
  ASSERT_EQ(created.status, 201) << created.body;

  ChildProcess& allowed = stack.StartAgent(
      "allowed", stack.CurveFlags(stack.KeyFile("allowed", allowed_keys),
                                  controller_keys.public_key));
  ChildProcess& unknown = stack.StartAgent(
      "unknown", stack.CurveFlags(stack.KeyFile("unknown", unknown_keys),
                                  controller_keys.public_key));

  // The allowed agent gets the rule and enforces it...
  RedisClient client(stack.Socket("allowed"));
  ASSERT_TRUE(Eventually(milliseconds(5000), [&] {
    return client.Check({"RL.CHECK", "api", "0", "client_id", "42"}).limit == 5;
  })) << allowed.LogTail();
  // ...with leases from the controller (once its start-up learning period,
  // one lease TTL, has passed).
  ASSERT_TRUE(Eventually(milliseconds(8000), [&] {
    client.Check({"RL.CHECK", "api", "1", "client_id", "7"});
    return InfoField(client, "leases") >= 1;
  })) << allowed.LogTail();
  EXPECT_EQ(InfoField(client, "controller_reachable"), 1);

  // The unknown agent got nothing: no rules, no controller, no leases.
  RedisClient stranger(stack.Socket("unknown"));
  EXPECT_EQ(stranger.Check({"RL.CHECK", "api", "0", "client_id", "42"}).limit,
            -1);
  EXPECT_EQ(InfoField(stranger, "rules"), 0);
  EXPECT_EQ(InfoField(stranger, "controller_reachable"), 0);
  EXPECT_EQ(InfoField(stranger, "leases"), 0);
  EXPECT_NE(stack.controller().LogTail(20000).find(
                "refused an agent from 127.0.0.1 with public key " +
                unknown_keys.public_key),
            std::string::npos)
      << stack.controller().LogTail();
  EXPECT_TRUE(unknown.Running());
  EXPECT_NE(unknown.LogTail().find("refused this agent's CurveZMQ key"),
            std::string::npos)
      << unknown.LogTail();

  // Once an admin allows its key, the refused agent gets in by itself
  // (libzmq gives up on a refused handshake; the agent keeps retrying).
  stack.AllowKey("late", unknown_keys.public_key);
  EXPECT_TRUE(Eventually(milliseconds(10000), [&] {
    return stranger.Check({"RL.CHECK", "api", "0", "client_id", "42"}).limit ==
           5;
  })) << unknown.LogTail();

  // Revoked: within a second the controller stops answering; the agent
  // notices after its reachable timeout (3 s) and falls back to its
  // failure mode.
  stack.Sql("UPDATE agent_keys SET revoked_at = now() WHERE name = 'allowed'");
  const auto revoked_at = std::chrono::steady_clock::now();
  ASSERT_TRUE(Eventually(milliseconds(8000), [&] {
    return InfoField(client, "controller_reachable") == 0;
  })) << allowed.LogTail();
  const auto took = std::chrono::duration_cast<milliseconds>(
      std::chrono::steady_clock::now() - revoked_at);
  std::cout << "revoked agent unreachable after " << took.count()
            << " ms (reachable timeout 3000 ms)\n";
  EXPECT_NE(stack.controller().LogTail(20000).find("was revoked"),
            std::string::npos)
      << stack.controller().LogTail();
}

// What a capture on the wire shows: the rule's name in clear without CURVE,
// not with it. The relay sits between the agent and the controller.
TEST(CurveEndToEndTest, TheWireShowsNoRuleNameWithCurve) {
  for (bool curve : {false, true}) {
    SCOPED_TRACE(curve ? "CURVE" : "plain");
    CurveStack stack;
    CurveKeyPair controller_keys;
    std::vector<std::string> agent_flags;
    if (curve) {
      controller_keys = Keygen("controller");
      const CurveKeyPair agent_keys = Keygen("agent");
      agent_flags = stack.CurveFlags(stack.KeyFile("agent", agent_keys),
                                     controller_keys.public_key);
      stack.StartController(stack.KeyFile("controller", controller_keys));
      stack.AllowKey("agent", agent_keys.public_key);
    } else {
      stack.StartController("");
    }
    ASSERT_EQ(stack.Http("POST", "/api/v1/rules", kRule).status, 201);
    TcpRelay relay(stack.agents_port());
    stack.StartAgent("agent", agent_flags, relay.port());
    RedisClient client(stack.Socket("agent"));
    ASSERT_TRUE(Eventually(milliseconds(5000), [&] {
      return client.Check({"RL.CHECK", "api", "1", "client_id", "42"}).limit ==
             5;
    }));
    const std::string wire = relay.Captured();
    EXPECT_GE(relay.connections(), 1);
    EXPECT_GT(wire.size(), 200u);
    EXPECT_EQ(wire.find(kRuleName) != std::string::npos, !curve)
        << wire.size() << " bytes captured";
  }
}

TEST(CurveEndToEndTest, RefusesUnsafeKeyFilesAndHalfConfigurations) {
  CurveStack stack;
  const CurveKeyPair controller_keys = Keygen("controller");
  const CurveKeyPair agent_keys = Keygen("agent");

  // A key file every user can read.
  stack.StartController(stack.KeyFile("open", controller_keys, 0644),
                        /*wait=*/false);
  ASSERT_TRUE(Eventually(milliseconds(10000),
                         [&] { return !stack.controller().Running(); }));
  EXPECT_NE(stack.controller().LogTail().find("chmod 600"), std::string::npos)
      << stack.controller().LogTail();

  const std::string agent_file = stack.KeyFile("agent", agent_keys);
  struct Case {
    std::vector<std::string> flags;
    std::string says;
  };
  const Case cases[] = {
      {{"--curve-secret-key-file", agent_file}, "--controller-public-key"},
      {{"--controller-public-key", controller_keys.public_key},
       "--curve-secret-key-file"},
      {{"--curve-secret-key-file",
        stack.KeyFile("open-agent", agent_keys, 0604),
        "--controller-public-key", controller_keys.public_key},
       "chmod 600"},
      {{"--curve-secret-key-file", agent_file, "--controller-public-key",
        "not-a-key"},
       "40 Z85 characters"},
  };
  int n = 0;
  for (const Case& c : cases) {
    ChildProcess& agent = stack.StartAgent("bad-" + std::to_string(n++),
                                           c.flags, 0, /*wait=*/false);
    ASSERT_TRUE(
        Eventually(milliseconds(10000), [&] { return !agent.Running(); }));
    EXPECT_NE(agent.LogTail().find(c.says), std::string::npos)
        << agent.LogTail();
  }
}

}  // namespace
}  // namespace sluice::testing
