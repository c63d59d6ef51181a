// PostgreSQL going away in the middle of a run (docs/operations.md, "When
// things fail"): on a throwaway cluster of the test's own, the controller
// keeps serving agents and reads from memory, refuses writes with 503 and the
// error body, reconnects by itself when the database is back, and loses no
// committed change.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <pqxx/pqxx>
#include <set>
#include <string>
#include <thread>
#include <zmq.hpp>

#include "common/wire.h"
#include "controller/controller.h"
#include "tests/controller/api_fixture.h"
#include "tests/controller/scratch_postgres.h"

namespace sluice {
namespace {

using nlohmann::json;
using std::chrono::milliseconds;
using testing::HttpResult;
using testing::HttpTestClient;
using web::http::methods;

constexpr char kToken[] = "outage-test-admin";

template <typename F>
bool Eventually(F condition, milliseconds timeout = milliseconds(15000)) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (condition()) return true;
    std::this_thread::sleep_for(milliseconds(20));
  }
  return condition();
}

// The agent's side of the lease channel, by hand.
class LeaseProbe {
 public:
  explicit LeaseProbe(const std::string& endpoint)
      : socket_(context_, zmq::socket_type::dealer) {
    socket_.set(zmq::sockopt::linger, 0);
    socket_.connect(endpoint);
  }
  // The rule set the controller sends for a Hello.
  std::optional<RulesSnapshot> Snapshot() {
    Hello hello;
    hello.agent_id = "outage-probe";
    Send(hello);
    return Await<RulesSnapshot>([](const RulesSnapshot&) { return true; });
  }
  // Tokens granted for rule `rule_id`, bucket `value`; -1 without answer.
  int64_t Lease(int64_t rule_id, const std::string& value) {
    LeaseRequest request;
    request.seq = ++seq_;
    LeaseWant want;
    want.rule_id = rule_id;
    want.values = {value};
    want.want = 5;
    request.items.push_back(want);
    Send(request);
    const uint64_t seq = seq_;
    std::optional<LeaseGrant> grant =
        Await<LeaseGrant>([seq](const LeaseGrant& g) { return g.seq == seq; });
    if (!grant || grant->items.empty()) return -1;
    return grant->items[0].tokens;
  }

 private:
  void Send(const WireMessage& message) {
    std::string bytes = EncodeWireMessage(message);
    socket_.send(zmq::buffer(bytes), zmq::send_flags::none);
  }
  template <typename T, typename Accept>
  std::optional<T> Await(Accept accept) {
    auto deadline = std::chrono::steady_clock::now() + milliseconds(3000);
    while (std::chrono::steady_clock::now() < deadline) {
      zmq::pollitem_t item{socket_.handle(), 0, ZMQ_POLLIN, 0};
      if (zmq::poll(&item, 1, milliseconds(100)) == 0) continue;
      zmq::message_t frame;
      if (!socket_.recv(frame, zmq::recv_flags::dontwait)) continue;
      StatusOr<WireMessage> decoded = DecodeWireMessage(frame.to_string_view());
      if (!decoded.ok()) continue;
      if (const T* typed = std::get_if<T>(&*decoded)) {
        if (accept(*typed)) return *typed;
      }
    }
    return std::nullopt;
  }

  zmq::context_t context_;
  zmq::socket_t socket_;
  uint64_t seq_ = 0;
};

// Writes rules one after another until stopped, remembering each answer.
class Writer {
 public:
  explicit Writer(const std::string& base_url) : client_(base_url) {
    client_.set_token(kToken);
    thread_ = std::thread([this] { Run(); });
  }
  ~Writer() { Stop(); }
  void Stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }
  int Count(int status) {
    std::lock_guard<std::mutex> lock(mu_);
    int n = 0;
    for (const auto& [name, code] : results_) n += code == status ? 1 : 0;
    return n;
  }
  std::map<std::string, int> results() {
    std::lock_guard<std::mutex> lock(mu_);
    return results_;
  }
  std::string last_error() {
    std::lock_guard<std::mutex> lock(mu_);
    return last_error_;
  }

 private:
  void Run() {
    for (int i = 0; !stop_; ++i) {
      const std::string name = "w-" + std::to_string(i);
      HttpResult result =
          client_.Post("/api/v1/rules", testing::RuleNamed(name, 10).dump());
      {
        std::lock_guard<std::mutex> lock(mu_);
        results_[name] = result.status;
        if (result.status != 201) last_error_ = result.body;
      }
      std::this_thread::sleep_for(milliseconds(10));
    }
  }

  HttpTestClient client_;
  std::thread thread_;
  std::atomic<bool> stop_{false};
  std::mutex mu_;
  std::map<std::string, int> results_;
  std::string last_error_;
};

std::set<std::string> NamesInDatabase(const std::string& conninfo) {
  pqxx::connection conn(conninfo);
  pqxx::nontransaction tx(conn);
  std::set<std::string> names;
  for (const pqxx::row& row : tx.exec("SELECT name FROM rules")) {
    names.insert(row[0].as<std::string>());
  }
  return names;
}

TEST(OutageTest, PostgresRestartInTheMiddleOfARun) {
  testing::ScratchPostgres postgres;
  postgres.Start();

  ControllerOptions options;
  options.db = postgres.conninfo();
  options.http = "127.0.0.1:" + std::to_string(testing::PickFreePort());
  options.agents = "tcp://127.0.0.1:" + std::to_string(testing::PickFreePort());
  options.admin_token = kToken;
  options.db_retry_ms = 100;
  options.catalog_sync_ms = 100;
  std::ostringstream token_out;
  options.token_out = &token_out;
  Controller controller(options);
  ASSERT_TRUE(controller.Start().ok());
  ASSERT_TRUE(controller.WaitUntilReady(15000).ok());
  const std::string base = "http://" + options.http;
  HttpTestClient admin(base);
  admin.set_token(kToken);
  HttpResult seed =
      admin.Post("/api/v1/rules", testing::RuleNamed("per-client", 100).dump());
  ASSERT_EQ(seed.status, 201) << seed.body;
  const int64_t rule_id = seed.json["id"];

  LeaseProbe agent(options.agents);
  std::optional<RulesSnapshot> snapshot = agent.Snapshot();
  ASSERT_TRUE(snapshot.has_value());
  ASSERT_GT(agent.Lease(rule_id, "acme"), 0);

  Writer writer(base);
  ASSERT_TRUE(Eventually([&] { return writer.Count(201) >= 5; }))
      << writer.last_error();

  // The database goes away (a crash: no clean shutdown).
  postgres.Stop();
  ASSERT_TRUE(Eventually([&] { return writer.Count(503) >= 3; }))
      << writer.last_error();
  HttpResult refused =
      admin.Post("/api/v1/rules", testing::RuleNamed("during").dump());
  EXPECT_EQ(refused.status, 503) << refused.body;
  EXPECT_EQ(refused.ErrorCode(), "unavailable");
  EXPECT_NE(refused.ErrorPart("message").find("PostgreSQL"), std::string::npos)
      << refused.body;
  EXPECT_EQ(admin.Put("/api/v1/config", R"({"rules": []})").status, 503);
  EXPECT_EQ(
      admin.Post("/api/v1/tokens", R"({"name": "t", "role": "viewer"})").status,
      503);
  // Reads of the rule set go on from memory; so does leasing.
  HttpResult list = admin.Get("/api/v1/rules");
  EXPECT_EQ(list.status, 200) << list.body;
  EXPECT_EQ(list.Header("X-Sluice-Source"), "memory");
  EXPECT_GE(list.json["rules"].size(), 6u);
  EXPECT_EQ(admin.Get("/api/v1/rules/" + std::to_string(rule_id)).status, 200);
  EXPECT_EQ(admin.Get("/api/v1/config").status, 200);
  EXPECT_GT(agent.Lease(rule_id, "acme"), 0);
  EXPECT_GT(agent.Lease(rule_id, "globex"), 0);
  EXPECT_EQ(admin.Send(methods::GET, "/readyz", "", false).status, 503);
  EXPECT_EQ(admin.Send(methods::GET, "/healthz", "", false).status, 200);
  // An audit read cannot be served from memory.
  EXPECT_EQ(admin.Get("/api/v1/audit").status, 503);

  // Back again: the controller reconnects by itself.
  const int before_restart = writer.Count(201);
  postgres.Start();
  ASSERT_TRUE(Eventually([&] {
    return writer.Count(201) >= before_restart + 5;
  })) << writer.last_error();
  writer.Stop();
  EXPECT_TRUE(Eventually([&] {
    return admin.Send(methods::GET, "/readyz", "", false).status == 200;
  }));

  // No committed change was lost: every 201 is in the database, with its
  // audit row; and the catalog holds exactly what the database holds.
  std::set<std::string> stored = NamesInDatabase(postgres.conninfo());
  int committed = 0;
  for (const auto& [name, status] : writer.results()) {
    if (status == 201) {
      ++committed;
      EXPECT_EQ(stored.count(name), 1u) << name << " was acknowledged";
    }
  }
  EXPECT_GE(committed, 10);
  {
    pqxx::connection conn(postgres.conninfo());
    pqxx::nontransaction tx(conn);
    EXPECT_EQ(tx.exec1("SELECT count(*) FROM audit_log WHERE action = "
                       "'rule.create'")[0]
                  .as<size_t>(),
              stored.size());
  }
  EXPECT_TRUE(Eventually([&] {
    std::set<std::string> in_catalog;
    const RuleCatalog::Snapshot snapshot = controller.catalog()->Get();
    for (const Rule& rule : snapshot.rules) {
      in_catalog.insert(rule.name);
    }
    return in_catalog == stored;
  }));
  HttpResult after = admin.Get("/api/v1/rules");
  EXPECT_EQ(after.Header("X-Sluice-Source"), "");
  EXPECT_EQ(after.json["rules"].size(), stored.size());
  controller.Stop();
}

}  // namespace
}  // namespace sluice
