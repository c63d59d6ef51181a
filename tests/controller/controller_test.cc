// The Controller as a whole: start-up checks, waiting for PostgreSQL, fatal
// errors, metrics, and the sluice-controller binary itself.
#include "controller/controller.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <prometheus/registry.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <pqxx/pqxx>
#include <sstream>
#include <string>
#include <thread>

#include "tests/controller/db_fixture.h"
#include "tests/controller/http_test_client.h"
#include "tests/support/free_port.h"
#include "tests/support/process.h"
#include "tests/support/test_database.h"

namespace sluice {
namespace {

using testing::HttpResult;
using testing::HttpTestClient;
using testing::PickFreePort;
using testing::TestDatabase;
using web::http::methods;

std::string LocalAddress() {
  return "127.0.0.1:" + std::to_string(PickFreePort());
}

ControllerOptions TestOptions(const std::string& db) {
  ControllerOptions options;
  options.db = db;
  options.http = LocalAddress();
  options.agents = "tcp://" + LocalAddress();
  options.admin_token = "controller-test-token";
  options.db_retry_ms = 100;
  options.catalog_sync_ms = 200;
  return options;
}

// Polls `condition` every 20 ms for up to `timeout`.
template <typename F>
bool Eventually(F condition, std::chrono::milliseconds timeout =
                                 std::chrono::milliseconds(10000)) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (condition()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return condition();
}

// The value of the unlabelled gauge `name` in `registry`, -1 if absent.
double GaugeValue(prometheus::Registry* registry, const std::string& name) {
  for (const auto& family : registry->Collect()) {
    if (family.name == name && !family.metric.empty()) {
      return family.metric[0].gauge.value;
    }
  }
  return -1;
}

// A TCP socket listening on 127.0.0.1:port, so that port is taken.
class PortHolder {
 public:
  explicit PortHolder(uint16_t port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons(port);
    bound_ =
        ::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0 &&
        ::listen(fd_, 1) == 0;
  }
  ~PortHolder() { ::close(fd_); }
  bool bound() const { return bound_; }

 private:
  int fd_ = -1;
  bool bound_ = false;
};

void ServerExec(const std::string& sql) {
  pqxx::connection admin(TestDatabase::ServerConninfo());
  pqxx::nontransaction tx(admin);
  tx.exec(sql);
}

TEST(ControllerTest, RefusesANonLoopbackAgentsEndpointWithoutInsecure) {
  ControllerOptions options = TestOptions("host=127.0.0.1 port=1 dbname=x");
  options.agents = "tcp://0.0.0.0:" + std::to_string(PickFreePort());
  Controller controller(options);
  Status started = controller.Start();
  ASSERT_FALSE(started.ok());
  EXPECT_EQ(started.code(), Status::Code::kFailedPrecondition);
  EXPECT_NE(started.message().find("--insecure"), std::string::npos);
  EXPECT_NE(started.message().find("CurveZMQ"), std::string::npos);
  EXPECT_NE(started.message().find("loopback"), std::string::npos);
}

TEST(ControllerTest, AcceptsANonLoopbackAgentsEndpointWithInsecure) {
  TestDatabase db;
  ControllerOptions options = TestOptions(db.conninfo());
  options.agents = "tcp://*:" + std::to_string(PickFreePort());
  options.insecure = true;
  Controller controller(options);
  ASSERT_TRUE(controller.Start().ok());
  Status ready = controller.WaitUntilReady(10000);
  EXPECT_TRUE(ready.ok()) << ready.ToString();
}

TEST(ControllerTest, RefusesUnusableAddressesAtStart) {
  ControllerOptions bad_http = TestOptions("");
  bad_http.http = "127.0.0.1:http";
  EXPECT_EQ(Controller(bad_http).Start().code(),
            Status::Code::kInvalidArgument);

  uint16_t port = PickFreePort();
  PortHolder holder(port);
  ASSERT_TRUE(holder.bound());
  ControllerOptions taken = TestOptions("");
  taken.http = "127.0.0.1:" + std::to_string(port);
  Controller controller(taken);
  Status started = controller.Start();
  EXPECT_EQ(started.code(), Status::Code::kUnavailable) << started.ToString();
  EXPECT_NE(started.message().find("--http"), std::string::npos);

  ControllerOptions metrics_taken = TestOptions("");
  metrics_taken.metrics = "127.0.0.1:" + std::to_string(port);
  Status metrics = Controller(metrics_taken).Start();
  EXPECT_EQ(metrics.code(), Status::Code::kUnavailable) << metrics.ToString();
  EXPECT_NE(metrics.message().find("--metrics"), std::string::npos);

  ControllerOptions no_migrations = TestOptions("");
  no_migrations.migrations_dir = "/nonexistent/migrations";
  Status refused = Controller(no_migrations).Start();
  EXPECT_EQ(refused.code(), Status::Code::kInvalidArgument);
  EXPECT_NE(refused.message().find("--migrations"), std::string::npos);
}

TEST(ControllerTest, StaysUpUntilTheDatabaseExistsThenBecomesReady) {
  const std::string name = "sluice_t_late_" + std::to_string(::getpid());
  ServerExec("DROP DATABASE IF EXISTS " + name);
  ControllerOptions options =
      TestOptions(TestDatabase::ServerConninfo() + " dbname=" + name);
  std::atomic<int> ready_calls{0};
  options.on_ready = [&ready_calls] { ++ready_calls; };
  Controller controller(options);
  ASSERT_TRUE(controller.Start().ok());
  HttpTestClient client("http://" + options.http);
  client.set_token(options.admin_token);
  prometheus::Registry* registry = controller.metrics()->registry();

  EXPECT_EQ(client.Send(methods::GET, "/healthz", "", false).status, 200);
  HttpResult not_ready = client.Send(methods::GET, "/readyz", "", false);
  EXPECT_EQ(not_ready.status, 503);
  EXPECT_NE(not_ready.json["checks"]["database"], "ok") << not_ready.body;
  EXPECT_NE(not_ready.json["checks"]["lease_server"].get<std::string>().find(
                "not started"),
            std::string::npos)
      << not_ready.body;
  HttpResult api = client.Get("/api/v1/rules");
  EXPECT_EQ(api.status, 503);
  EXPECT_EQ(api.ErrorCode(), "unavailable");
  EXPECT_FALSE(controller.ready());
  EXPECT_EQ(ready_calls.load(), 0);
  EXPECT_EQ(GaugeValue(registry, "sluice_controller_database_up"), 0);

  ServerExec("CREATE DATABASE " + name);
  Status ready = controller.WaitUntilReady(15000);
  EXPECT_TRUE(ready.ok()) << ready.ToString();
  EXPECT_EQ(client.Send(methods::GET, "/readyz", "", false).status, 200);
  EXPECT_EQ(client.Get("/api/v1/rules").status, 200);
  EXPECT_TRUE(Eventually([&] { return ready_calls.load() == 1; }));
  EXPECT_EQ(GaugeValue(registry, "sluice_controller_database_up"), 1);

  // The database goes away under a running controller: the gauge says so
  // within a catalog sync or two.
  ServerExec("DROP DATABASE IF EXISTS " + name + " WITH (FORCE)");
  EXPECT_TRUE(Eventually([&] {
    return GaugeValue(registry, "sluice_controller_database_up") == 0;
  }));
  EXPECT_EQ(ready_calls.load(), 1);
  controller.Stop();
}

// A load balancer sends traffic once /readyz answers 200: from then on the
// API must serve, not answer 503 "starting".
TEST(ControllerTest, ReadyOnlyOnceTheApiServes) {
  TestDatabase db;
  ControllerOptions options = TestOptions(db.conninfo());
  Controller controller(options);
  ASSERT_TRUE(controller.Start().ok());
  HttpTestClient client("http://" + options.http);
  client.set_token(options.admin_token);
  const auto deadline =
      std::chrono::steady_clock::now() + std::chrono::seconds(15);
  bool ready = false;
  while (!ready && std::chrono::steady_clock::now() < deadline) {
    ready = client.Send(methods::GET, "/readyz", "", false).status == 200;
  }
  ASSERT_TRUE(ready) << "not ready within 15 s";
  HttpResult api = client.Get("/api/v1/rules");
  EXPECT_EQ(api.status, 200) << api.body;
  controller.Stop();
}

TEST(ControllerTest, ANewerSchemaIsFatal) {
  TestDatabase db;
  {
    pqxx::connection conn(db.conninfo());
    pqxx::nontransaction tx(conn);
    tx.exec(
        "CREATE TABLE schema_migrations (version bigint PRIMARY KEY, name "
        "text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now());"
        "INSERT INTO schema_migrations (version, name) VALUES (9999, 'x')");
  }
  Controller controller(TestOptions(db.conninfo()));
  ASSERT_TRUE(controller.Start().ok());
  Status result = controller.Wait();
  EXPECT_EQ(result.code(), Status::Code::kFailedPrecondition);
  EXPECT_NE(result.message().find("9999"), std::string::npos);
  EXPECT_EQ(controller.WaitUntilReady(0).code(),
            Status::Code::kFailedPrecondition);
  EXPECT_FALSE(controller.ready());
}

TEST(ControllerTest, AnAgentsEndpointInUseIsFatal) {
  TestDatabase db;
  ControllerOptions options = TestOptions(db.conninfo());
  uint16_t port = PickFreePort();
  PortHolder holder(port);
  ASSERT_TRUE(holder.bound());
  options.agents = "tcp://127.0.0.1:" + std::to_string(port);
  Controller controller(options);
  ASSERT_TRUE(controller.Start().ok());
  Status result = controller.Wait();
  EXPECT_FALSE(result.ok());
  EXPECT_FALSE(controller.ready());
  HttpTestClient client("http://" + options.http);
  HttpResult ready = client.Send(methods::GET, "/readyz", "", false);
  EXPECT_EQ(ready.status, 503);
}

TEST(ControllerTest, GeneratesAndPrintsAFirstAdminTokenThatWorks) {
  TestDatabase db;
  ControllerOptions options = TestOptions(db.conninfo());
  options.admin_token.clear();
  std::ostringstream out;
  options.token_out = &out;
  Controller controller(options);
  ASSERT_TRUE(controller.Start().ok());
  ASSERT_TRUE(controller.WaitUntilReady(10000).ok());
  const std::string prefix = "admin token: ";
  ASSERT_EQ(out.str().rfind(prefix, 0), 0u) << out.str();
  std::string token =
      out.str().substr(prefix.size(), out.str().size() - prefix.size() - 1);
  HttpTestClient client("http://" + options.http);
  client.set_token(token);
  EXPECT_EQ(client.Get("/api/v1/rules").status, 200);
}

// The only test with a Prometheus Exposer (it takes ~2 s to destroy).
TEST(ControllerTest, ServesMetrics) {
  TestDatabase db;
  ControllerOptions options = TestOptions(db.conninfo());
  options.metrics = LocalAddress();
  Controller controller(options);
  ASSERT_TRUE(controller.Start().ok());
  ASSERT_TRUE(controller.WaitUntilReady(10000).ok());
  HttpTestClient client("http://" + options.http);
  client.set_token(options.admin_token);
  ASSERT_EQ(client
                .Post("/api/v1/rules",
                      R"({"name": "m", "domain": "api", "limit": 1,
                            "period": "1s"})")
                .status,
            201);
  EXPECT_EQ(client.Get("/api/v1/rules/424242").status, 404);

  HttpTestClient scraper("http://" + options.metrics);
  HttpResult metrics = scraper.Send(methods::GET, "/metrics", "", false);
  ASSERT_EQ(metrics.status, 200);
  EXPECT_NE(metrics.body.find(
                "sluice_controller_http_requests_total{code=\"201\",route=\"/"
                "api/v1/rules\"} 1"),
            std::string::npos)
      << metrics.body;
  EXPECT_NE(metrics.body.find(
                "sluice_controller_http_requests_total{code=\"404\",route=\"/"
                "api/v1/rules/{id}\"} 1"),
            std::string::npos)
      << metrics.body;
  EXPECT_NE(metrics.body.find("sluice_controller_rules 1"), std::string::npos)
      << metrics.body;
  EXPECT_NE(metrics.body.find("sluice_controller_database_up 1"),
            std::string::npos)
      << metrics.body;
  EXPECT_NE(metrics.body.find("sluice_controller_learning "), std::string::npos)
      << metrics.body;
}

// The binary: flags, the ready line, the printed token, a clean SIGTERM.
class ControllerBinaryTest : public ::testing::Test {
 protected:
  std::string LogPath() {
    return std::string(SLUICE_BINARY_DIR) + "/controller_binary_test_" +
           std::to_string(::getpid()) + "_" +
           ::testing::UnitTest::GetInstance()->current_test_info()->name() +
           ".log";
  }
  static std::string Binary() {
    return testing::BuiltBinary("controller/sluice-controller");
  }
};

TEST_F(ControllerBinaryTest, RunsUntilSigtermAndStopsCleanly) {
  TestDatabase db;
  std::string http = LocalAddress();
  std::string agents = "tcp://" + LocalAddress();
  std::string log = LogPath();
  ::unlink(log.c_str());
  testing::ChildProcess process;
  process.Start(
      {Binary(), "--http", http, "--agents", agents, "--lease-ttl-ms", "500"},
      {{"SLUICE_DB", db.conninfo()}, {"SLUICE_ADMIN_TOKEN", ""}}, log);
  HttpTestClient client("http://" + http);
  bool ready = Eventually([&] {
    try {
      return client.Send(methods::GET, "/readyz", "", false).status == 200;
    } catch (const web::http::http_exception&) {
      return false;  // not listening yet
    }
  });
  ASSERT_TRUE(ready) << process.LogTail();
  std::string output = process.LogTail();
  EXPECT_NE(output.find("sluice-controller ready: http=" + http +
                        " agents=" + agents),
            std::string::npos)
      << output;
  size_t at = output.find("admin token: ");
  ASSERT_NE(at, std::string::npos) << output;
  std::string token = output.substr(at + 13, output.find('\n', at) - at - 13);
  client.set_token(token);
  EXPECT_EQ(client.Get("/api/v1/rules").status, 200);

  int status = process.Stop();
  ASSERT_TRUE(WIFEXITED(status)) << process.LogTail();
  EXPECT_EQ(WEXITSTATUS(status), 0) << process.LogTail();
  ::unlink(log.c_str());
}

TEST_F(ControllerBinaryTest, RefusesBadFlagsWithAMessage) {
  struct Case {
    std::vector<std::string> args;
    std::string expected;
  };
  const std::vector<Case> cases = {
      {{"--agents", "tcp://0.0.0.0:" + std::to_string(PickFreePort())},
       "--insecure"},
      {{"--no-such-flag"}, "unknown flag --no-such-flag"},
      {{"--lease-ttl-ms", "soon"}, "--lease-ttl-ms"},
      {{"--http-max-connections-per-client", "0"},
       "--http-max-connections-per-client '0' is not valid: expected a whole "
       "number from 1"},
      {{"--tls-cert", "/nonexistent/cert.pem"}, "--tls-key go together"},
      {{"--tls-cert", "/nonexistent/cert.pem", "--tls-key",
        "/nonexistent/key.pem"},
       "--tls-cert /nonexistent/cert.pem"},
  };
  for (const Case& c : cases) {
    std::string log = LogPath();
    ::unlink(log.c_str());
    testing::ChildProcess process;
    std::vector<std::string> argv = {Binary(), "--http", LocalAddress()};
    argv.insert(argv.end(), c.args.begin(), c.args.end());
    process.Start(argv, {{"SLUICE_DB", "host=127.0.0.1 port=1"}}, log);
    EXPECT_TRUE(Eventually([&] { return !process.Running(); })) << c.expected;
    EXPECT_NE(process.LogTail().find(c.expected), std::string::npos)
        << process.LogTail();
    ::unlink(log.c_str());
  }
}

}  // namespace
}  // namespace sluice
