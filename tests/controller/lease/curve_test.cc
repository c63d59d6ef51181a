// CurveZMQ on the agent channel (docs/operations.md, "Security of the agent
// channel"), with real ZeroMQ sockets and a real PostgreSQL:
//   - the agent-key store and the /api/v1/agent-keys handlers;
//   - the in-memory allowed set and its reload ordering;
//   - the ZAP handler's answers;
//   - the lease server as a CURVE server: an allowed agent gets rules and
//     leases, an unknown key gets nothing, a revoked key is cut off, and the
//     bytes on the wire (through a recording TCP relay) carry no rule name;
//   - the whole controller in-process: key file, keys from the database,
//     revocation by another controller reaching this one.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <pqxx/pqxx>
#include <string>
#include <thread>
#include <vector>
#include <zmq.hpp>

#include "common/wire.h"
#include "controller/api/agent_keys_api.h"
#include "controller/catalog/rule_catalog.h"
#include "controller/controller.h"
#include "controller/lease/curve_allowed_keys.h"
#include "controller/lease/curve_zap.h"
#include "controller/lease/lease_server.h"
#include "controller/store/agent_key_store.h"
#include "platform/curve_keys.h"
#include "platform/system_clock.h"
#include "tests/controller/db_fixture.h"
#include "tests/controller/raw_agent.h"
#include "tests/support/free_port.h"
#include "tests/support/tcp_relay.h"

namespace sluice {
namespace {

using nlohmann::json;
using std::chrono::milliseconds;
using SteadyClock = std::chrono::steady_clock;

constexpr milliseconds kWait{2000};     // deadline for an answer
constexpr milliseconds kSilence{1500};  // "gets nothing": nothing this long
constexpr milliseconds kCutOff{2000};   // revoked: no answer after this
const char* const kRuleName = "secret-rule-name-xyz";
const char* const kClientValue = "secret-client-value-42";

CurveKeyPair NewPair() {
  StatusOr<CurveKeyPair> pair = GenerateCurveKeyPair();
  EXPECT_TRUE(pair.ok()) << pair.status().ToString();
  return pair.ok() ? *pair : CurveKeyPair{};
}

Rule SecretRule() {
  Rule rule;
  rule.id = 1;
  rule.version = 1;
  rule.name = kRuleName;
  rule.domain = "api";
  rule.match = {{"client_id", "*"}};
  rule.limit = 100;
  rule.period_ms = 1000;
  rule.burst = 100;
  return rule;
}

LeaseWant Want(int64_t want) {
  LeaseWant item;
  item.rule_id = 1;
  item.values = {kClientValue};
  item.want = want;
  return item;
}

using testing::RawAgent;

// ---------------------------------------------------------------------------
// AllowedAgentKeys

AllowedAgentKey Key(int64_t id, const std::string& public_key) {
  return AllowedAgentKey{id, "agent-" + std::to_string(id), public_key};
}

TEST(AllowedAgentKeysTest, StartsEmptyAndTracksLocalChanges) {
  AllowedAgentKeys allowed;
  EXPECT_TRUE(allowed.Get()->empty());
  const uint64_t v0 = allowed.version();
  allowed.Allow(Key(1, "A"));
  EXPECT_GT(allowed.version(), v0);
  AllowedAgentKey found;
  ASSERT_TRUE(allowed.Find("A", &found));
  EXPECT_EQ(found.id, 1);
  const uint64_t v1 = allowed.version();
  allowed.Revoke(1);
  EXPECT_GT(allowed.version(), v1);
  EXPECT_FALSE(allowed.Find("A", nullptr));
  // A snapshot taken before is not changed under its reader.
  allowed.Allow(Key(2, "B"));
  std::shared_ptr<const AllowedAgentKeys::Map> before = allowed.Get();
  allowed.Revoke(2);
  EXPECT_EQ(before->count("B"), 1u);
  EXPECT_EQ(allowed.Get()->count("B"), 0u);
}

TEST(AllowedAgentKeysTest, AStaleReloadDoesNotUndoALocalRevocation) {
  AllowedAgentKeys allowed;
  allowed.FinishReload(allowed.BeginReload(), {Key(1, "A"), Key(2, "B")});
  // A reload reads the database just before a revocation commits...
  const uint64_t begin = allowed.BeginReload();
  allowed.Revoke(1);
  // ...and lands after it, still listing the key.
  allowed.FinishReload(begin, {Key(1, "A"), Key(2, "B")});
  EXPECT_FALSE(allowed.Find("A", nullptr));
  EXPECT_TRUE(allowed.Find("B", nullptr));
  // The next reload (which sees the commit) settles it for good.
  allowed.FinishReload(allowed.BeginReload(), {Key(2, "B")});
  EXPECT_FALSE(allowed.Find("A", nullptr));
}

TEST(AllowedAgentKeysTest, AStaleReloadDoesNotDropALocalAddition) {
  AllowedAgentKeys allowed;
  const uint64_t begin = allowed.BeginReload();
  allowed.Allow(Key(3, "C"));
  allowed.FinishReload(begin, {});
  EXPECT_TRUE(allowed.Find("C", nullptr));
}

TEST(AllowedAgentKeysTest, AnOlderReloadLandingLateIsIgnored) {
  AllowedAgentKeys allowed;
  const uint64_t old_begin = allowed.BeginReload();
  allowed.Revoke(1);  // committed between the two reads
  const uint64_t new_begin = allowed.BeginReload();
  allowed.FinishReload(new_begin, {Key(2, "B")});
  allowed.FinishReload(old_begin, {Key(1, "A"), Key(2, "B")});
  EXPECT_FALSE(allowed.Find("A", nullptr));
  EXPECT_TRUE(allowed.Find("B", nullptr));
}

TEST(AllowedAgentKeysTest, AReloadWithoutChangeKeepsTheVersion) {
  AllowedAgentKeys allowed;
  allowed.FinishReload(allowed.BeginReload(), {Key(1, "A")});
  const uint64_t version = allowed.version();
  allowed.FinishReload(allowed.BeginReload(), {Key(1, "A")});
  EXPECT_EQ(allowed.version(), version);
  allowed.FinishReload(allowed.BeginReload(), {Key(1, "A"), Key(2, "B")});
  EXPECT_GT(allowed.version(), version);
}

// ---------------------------------------------------------------------------
// ZapHandler::Answer

TEST(ZapHandlerTest, AnswersByTheLiveSet) {
  AllowedAgentKeys allowed;
  zmq::context_t context;
  ZapHandler zap(&context, &allowed);
  const CurveKeyPair agent = NewPair();
  StatusOr<std::string> binary = DecodeCurveKey(agent.public_key, "k");
  ASSERT_TRUE(binary.ok());
  const std::vector<std::string> request = {
      "1.0", "req-7", "sluice-agents", "127.0.0.1", "", "CURVE", *binary};

  std::vector<std::string> reply = zap.Answer(request);
  ASSERT_EQ(reply.size(), 6u);
  EXPECT_EQ(reply[0], "1.0");
  EXPECT_EQ(reply[1], "req-7");
  EXPECT_EQ(reply[2], "400");
  EXPECT_EQ(reply[4], "");  // no user id for a refusal

  allowed.Allow(Key(5, agent.public_key));
  reply = zap.Answer(request);
  EXPECT_EQ(reply[2], "200");
  EXPECT_EQ(reply[4], agent.public_key);  // the User-Id the server checks

  allowed.Revoke(5);
  EXPECT_EQ(zap.Answer(request)[2], "400");

  // Other mechanisms and malformed requests are refused, never crash.
  EXPECT_EQ(zap.Answer({"1.0", "r", "d", "a", "", "NULL"})[2], "400");
  EXPECT_EQ(zap.Answer({"1.0", "r", "d", "a", "", "CURVE", "short"})[2], "400");
  EXPECT_EQ(zap.Answer({"2.0", "r", "d", "a", "", "CURVE", *binary})[2], "500");
  EXPECT_EQ(zap.Answer({})[2], "500");
  EXPECT_EQ(zap.accepted(), 1);
  EXPECT_EQ(zap.refused(), 6);
}

// ---------------------------------------------------------------------------
// LeaseServer as a CURVE server

class CurveLeaseServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_keys_ = NewPair();
    catalog_.Replace(3, {SecretRule()});
  }

  // `curve` false: a plain server (the loopback default).
  void StartServer(bool curve = true) {
    LeaseServerOptions options;
    options.endpoint = endpoint_;
    options.learning_ms = 0;
    if (curve) {
      options.curve_secret_key = server_keys_.secret_key;
      options.allowed_agent_keys = &allowed_;
    }
    server_ = std::make_unique<LeaseServer>(options, &catalog_,
                                            &SystemClock::Get(), nullptr);
    Status started = server_->Start();
    ASSERT_TRUE(started.ok()) << started.ToString();
  }

  std::unique_ptr<RawAgent> NewAgent(const CurveKeyPair& keys,
                                     const std::string& endpoint = "") {
    return std::make_unique<RawAgent>(context_,
                                      endpoint.empty() ? endpoint_ : endpoint,
                                      keys, server_keys_.public_key);
  }

  const std::string endpoint_ =
      "tcp://127.0.0.1:" + std::to_string(testing::PickFreePort());
  CurveKeyPair server_keys_;
  AllowedAgentKeys allowed_;
  RuleCatalog catalog_;
  zmq::context_t context_;
  std::unique_ptr<LeaseServer> server_;
};

TEST_F(CurveLeaseServerTest, AnAllowedAgentGetsRulesAndLeases) {
  const CurveKeyPair keys = NewPair();
  allowed_.Allow(Key(1, keys.public_key));
  StartServer();
  auto agent = NewAgent(keys);
  std::optional<RulesSnapshot> snapshot = agent->Connect("curve-agent");
  ASSERT_TRUE(snapshot.has_value());
  ASSERT_EQ(snapshot->rules.size(), 1u);
  EXPECT_EQ(snapshot->rules[0].name, kRuleName);
  std::optional<LeaseGrant> grant = agent->Lease(1, {Want(10)});
  ASSERT_TRUE(grant.has_value());
  ASSERT_EQ(grant->items.size(), 1u);
  EXPECT_EQ(grant->items[0].tokens, 10);
  EXPECT_GT(grant->items[0].ttl_ms, 0);
  EXPECT_EQ(server_->connected_agents(), 1);
}

TEST_F(CurveLeaseServerTest, AnUnknownKeyGetsNothingUntilItIsAllowed) {
  StartServer();
  allowed_.Allow(Key(1, NewPair().public_key));  // someone else's
  const CurveKeyPair keys = NewPair();
  auto agent = NewAgent(keys);
  EXPECT_FALSE(agent->Connect("curve-agent", kSilence).has_value());
  EXPECT_FALSE(agent->HearsAnything(milliseconds(100)));
  EXPECT_EQ(server_->connected_agents(), 0);

  // The refusal is about the key: once allowed, the same key gets in at
  // its next handshake. (libzmq does not retry a refused handshake by
  // itself; the agent's CurveHandshakeWatch reconnects, see
  // tests/integration/curve_test.cc.)
  allowed_.Allow(Key(2, keys.public_key));
  EXPECT_TRUE(NewAgent(keys)->Connect("curve-agent").has_value());
}

TEST_F(CurveLeaseServerTest, PlainTextAndAWrongServerKeyGetNothing) {
  const CurveKeyPair keys = NewPair();
  allowed_.Allow(Key(1, keys.public_key));
  StartServer();
  auto plain = NewAgent(CurveKeyPair{});
  EXPECT_FALSE(plain->Connect("curve-agent", kSilence).has_value());
  // The allowed agent key, but talking to an impostor's public key.
  auto fooled = std::make_unique<RawAgent>(context_, endpoint_, keys,
                                           NewPair().public_key);
  EXPECT_FALSE(fooled->Connect("curve-agent", kSilence).has_value());
  EXPECT_EQ(server_->connected_agents(), 0);
  // The server is fine: the right combination gets in.
  EXPECT_TRUE(NewAgent(keys)->Connect("curve-agent").has_value());
}

TEST_F(CurveLeaseServerTest, ARevokedKeyIsCutOffWhileOthersAreServed) {
  const CurveKeyPair revoked_keys = NewPair();
  const CurveKeyPair kept_keys = NewPair();
  allowed_.Allow(Key(1, revoked_keys.public_key));
  allowed_.Allow(Key(2, kept_keys.public_key));
  StartServer();
  auto revoked = NewAgent(revoked_keys);
  auto kept = NewAgent(kept_keys);
  ASSERT_TRUE(revoked->Connect("curve-agent").has_value());
  ASSERT_TRUE(kept->Connect("curve-agent").has_value());
  ASSERT_TRUE(revoked->Lease(1, {Want(1)}).has_value());
  EXPECT_EQ(server_->connected_agents(), 2);

  const auto revoked_at = SteadyClock::now();
  allowed_.Revoke(1);
  // Both keep asking for 3 s: note when the revoked one last heard anything.
  std::optional<SteadyClock::time_point> last_revoked_answer;
  int kept_answers = 0;
  int asked = 0;
  uint64_t seq = 10;
  while (SteadyClock::now() - revoked_at < milliseconds(3000)) {
    ++asked;
    revoked->Send(Heartbeat{});
    LeaseRequest request;
    request.seq = ++seq;
    request.items = {Want(1)};
    revoked->Send(request);
    while (revoked->HearsAnything(milliseconds(100))) {
      last_revoked_answer = SteadyClock::now();
    }
    if (kept->Lease(++seq, {Want(1)}).has_value()) ++kept_answers;
  }
  if (last_revoked_answer) {
    EXPECT_LT(std::chrono::duration_cast<milliseconds>(*last_revoked_answer -
                                                       revoked_at)
                  .count(),
              kCutOff.count())
        << "ms after revocation, the revoked agent still got an answer";
  }
  EXPECT_EQ(kept_answers, asked) << "the other agent lost service";
  EXPECT_EQ(server_->connected_agents(), 1);

  // A catalog change reaches the kept agent only.
  Rule changed = SecretRule();
  changed.version = 2;
  changed.limit = 7;
  catalog_.Upsert(4, changed);
  EXPECT_TRUE(kept->Await<RulesDelta>().has_value());
  EXPECT_FALSE(revoked->HearsAnything(milliseconds(300)));
  // And a new connection with the revoked key is refused at the handshake.
  EXPECT_FALSE(
      NewAgent(revoked_keys)->Connect("curve-agent", kSilence).has_value());
}

TEST_F(CurveLeaseServerTest, RefusesToStartWithAKeyButNoAllowedSet) {
  LeaseServerOptions options;
  options.endpoint = endpoint_;
  options.curve_secret_key = server_keys_.secret_key;
  LeaseServer server(options, &catalog_, &SystemClock::Get(), nullptr);
  Status started = server.Start();
  ASSERT_FALSE(started.ok());
  EXPECT_NE(started.message().find("allowed_agent_keys"), std::string::npos)
      << started.message();
  LeaseServerOptions bad_key = options;
  bad_key.allowed_agent_keys = &allowed_;
  bad_key.curve_secret_key = "not-a-key";
  LeaseServer bad(bad_key, &catalog_, &SystemClock::Get(), nullptr);
  started = bad.Start();
  ASSERT_FALSE(started.ok());
  EXPECT_NE(started.message().find("40 Z85 characters"), std::string::npos)
      << started.message();
}

// What a capture between agent and controller shows: the rule's name and a
// client's value in clear text without CURVE, neither with it.
TEST_F(CurveLeaseServerTest, TheWireCarriesNoRuleNameWithCurve) {
  const uint16_t port = static_cast<uint16_t>(
      std::stoi(endpoint_.substr(endpoint_.rfind(':') + 1)));
  for (bool curve : {false, true}) {
    SCOPED_TRACE(curve ? "CURVE" : "plain");
    const CurveKeyPair keys = curve ? NewPair() : CurveKeyPair{};
    if (curve) allowed_.Allow(Key(1, keys.public_key));
    StartServer(curve);
    testing::TcpRelay relay(port);
    auto agent =
        NewAgent(keys, "tcp://127.0.0.1:" + std::to_string(relay.port()));
    std::optional<RulesSnapshot> snapshot = agent->Connect("curve-agent");
    ASSERT_TRUE(snapshot.has_value());
    ASSERT_EQ(snapshot->rules.size(), 1u);
    EXPECT_EQ(snapshot->rules[0].name, kRuleName);  // the agent reads it
    ASSERT_TRUE(agent->Lease(1, {Want(5)}).has_value());
    const std::string wire = relay.Captured();
    EXPECT_EQ(relay.connections(), 1);
    EXPECT_GT(wire.size(), 100u);
    const bool name_seen = wire.find(kRuleName) != std::string::npos;
    const bool value_seen = wire.find(kClientValue) != std::string::npos;
    EXPECT_EQ(name_seen, !curve);
    EXPECT_EQ(value_seen, !curve);
    EXPECT_EQ(wire.find("curve-agent") != std::string::npos, !curve);
    agent.reset();
    server_->Stop();
  }
}

// ---------------------------------------------------------------------------
// AgentKeyStore and the /api/v1/agent-keys handlers, on PostgreSQL

class AgentKeyStoreTest : public testing::MigratedDatabaseTest {
 protected:
  void SetUp() override {
    MigratedDatabaseTest::SetUp();
    store_ = std::make_unique<AgentKeyStore>(db_.get());
    api_ = std::make_unique<AgentKeysApi>(store_.get(), &allowed_);
  }

  HttpResponse Post(const json& body) {
    HttpRequest request;
    request.method = "POST";
    request.path = "/api/v1/agent-keys";
    request.body = body.dump();
    return api_->Create(request, admin_);
  }

  json AuditRows() {
    pqxx::connection conn(test_db_->conninfo());
    pqxx::read_transaction tx(conn);
    json rows = json::array();
    for (const pqxx::row& row : tx.exec(
             "SELECT action, target_kind, target_id, actor, "
             "coalesce(before::text, 'null'), coalesce(after::text, 'null') "
             "FROM audit_log WHERE target_kind = 'agent_key' ORDER BY id")) {
      rows.push_back({{"action", row[0].as<std::string>()},
                      {"kind", row[1].as<std::string>()},
                      {"id", row[2].as<int64_t>()},
                      {"actor", row[3].as<std::string>()},
                      {"before", json::parse(row[4].as<std::string>())},
                      {"after", json::parse(row[5].as<std::string>())}});
    }
    return rows;
  }

  const Actor admin_{7, "ops-admin"};
  AllowedAgentKeys allowed_;
  std::unique_ptr<AgentKeyStore> store_;
  std::unique_ptr<AgentKeysApi> api_;
};

TEST_F(AgentKeyStoreTest, AddsListsAndRevokesThroughTheApi) {
  const CurveKeyPair keys = NewPair();
  HttpResponse created =
      Post({{"name", "web-7"}, {"public_key", keys.public_key}});
  ASSERT_EQ(created.status, 201) << created.body;
  json key = json::parse(created.body);
  const int64_t id = key.at("id").get<int64_t>();
  EXPECT_GT(id, 0);
  EXPECT_EQ(key.at("name"), "web-7");
  EXPECT_EQ(key.at("public_key"), keys.public_key);
  EXPECT_TRUE(
      AuditLog::LooksLikeRfc3339(key.at("created_at").get<std::string>()))
      << key.dump();
  EXPECT_TRUE(key.at("revoked_at").is_null());
  ASSERT_EQ(created.headers.size(), 1u);
  EXPECT_EQ(created.headers[0].second,
            "/api/v1/agent-keys/" + std::to_string(id));
  // Effective at once in this process.
  AllowedAgentKey live;
  ASSERT_TRUE(allowed_.Find(keys.public_key, &live));
  EXPECT_EQ(live.id, id);

  HttpResponse listed = api_->List(HttpRequest{});
  ASSERT_EQ(listed.status, 200) << listed.body;
  json list = json::parse(listed.body).at("agent_keys");
  ASSERT_EQ(list.size(), 1u);
  EXPECT_EQ(list[0], key);

  HttpResponse revoked = api_->Revoke(id, admin_);
  EXPECT_EQ(revoked.status, 204) << revoked.body;
  EXPECT_TRUE(revoked.body.empty());
  EXPECT_FALSE(allowed_.Find(keys.public_key, nullptr));
  list = json::parse(api_->List(HttpRequest{}).body).at("agent_keys");
  ASSERT_EQ(list.size(), 1u);
  EXPECT_TRUE(list[0].at("revoked_at").is_string());
  StatusOr<std::vector<AgentKey>> still = store_->ListAllowed();
  ASSERT_TRUE(still.ok());
  EXPECT_TRUE(still->empty());

  // Again: 404, and nothing changes.
  HttpResponse again = api_->Revoke(id, admin_);
  EXPECT_EQ(again.status, 404) << again.body;
  EXPECT_NE(again.body.find("already revoked"), std::string::npos);
  EXPECT_EQ(api_->Revoke(9999, admin_).status, 404);

  // Each change is audited, by whom, with the key before and after.
  json audit = AuditRows();
  ASSERT_EQ(audit.size(), 2u) << audit.dump();
  EXPECT_EQ(audit[0].at("action"), "agent_key.create");
  EXPECT_EQ(audit[0].at("id"), id);
  EXPECT_EQ(audit[0].at("actor"), "ops-admin");
  EXPECT_TRUE(audit[0].at("before").is_null());
  EXPECT_EQ(audit[0].at("after").at("public_key"), keys.public_key);
  EXPECT_EQ(audit[1].at("action"), "agent_key.revoke");
  EXPECT_TRUE(audit[1].at("before").at("revoked_at").is_null());
  EXPECT_TRUE(audit[1].at("after").at("revoked_at").is_string());
}

TEST_F(AgentKeyStoreTest, RefusesBadBodiesNamingTheField) {
  const std::string good = NewPair().public_key;
  struct Case {
    json body;
    int status;
    std::string field;
  };
  const Case cases[] = {
      {json::array(), 422, ""},
      {{{"name", "a"}}, 422, "public_key"},
      {{{"public_key", good}}, 422, "name"},
      {{{"name", "a"}, {"public_key", good}, {"role", "x"}}, 422, "role"},
      {{{"name", "has space"}, {"public_key", good}}, 422, "name"},
      {{{"name", "a"}, {"public_key", good.substr(1)}}, 422, "public_key"},
      {{{"name", "a"}, {"public_key", "~" + good.substr(1)}},
       422,
       "public_key"},
      {{{"name", "a"}, {"public_key", 42}}, 422, "public_key"},
  };
  for (const Case& c : cases) {
    HttpResponse response = Post(c.body);
    EXPECT_EQ(response.status, c.status) << c.body.dump() << response.body;
    json error = json::parse(response.body).at("error");
    EXPECT_EQ(error.at("field"), c.field) << response.body;
  }
  HttpRequest not_json;
  not_json.body = "{";
  EXPECT_EQ(api_->Create(not_json, admin_).status, 400);
  EXPECT_TRUE(
      json::parse(api_->List(HttpRequest{}).body).at("agent_keys").empty());
  EXPECT_TRUE(AuditRows().empty());
}

TEST_F(AgentKeyStoreTest, AKeyIsAddedOnceAndNeverAgainAfterRevocation) {
  const CurveKeyPair keys = NewPair();
  HttpResponse first = Post({{"name", "a"}, {"public_key", keys.public_key}});
  ASSERT_EQ(first.status, 201);
  HttpResponse twice = Post({{"name", "b"}, {"public_key", keys.public_key}});
  EXPECT_EQ(twice.status, 409);
  EXPECT_NE(twice.body.find("already allowed"), std::string::npos)
      << twice.body;
  // The name is taken among allowed keys...
  HttpResponse same_name =
      Post({{"name", "a"}, {"public_key", NewPair().public_key}});
  EXPECT_EQ(same_name.status, 409);
  EXPECT_EQ(json::parse(same_name.body).at("error").at("field"), "name");

  const int64_t id = json::parse(first.body).at("id").get<int64_t>();
  ASSERT_EQ(api_->Revoke(id, admin_).status, 204);
  // ...and free again once revoked; the revoked key itself stays out.
  EXPECT_EQ(Post({{"name", "a"}, {"public_key", NewPair().public_key}}).status,
            201);
  HttpResponse revived = Post({{"name", "c"}, {"public_key", keys.public_key}});
  EXPECT_EQ(revived.status, 409);
  EXPECT_NE(revived.body.find("never allowed again"), std::string::npos)
      << revived.body;
  EXPECT_FALSE(allowed_.Find(keys.public_key, nullptr));
}

TEST_F(AgentKeyStoreTest, TheDatabaseRefusesAMalformedKeyFromAnyClient) {
  pqxx::connection conn(test_db_->conninfo());
  pqxx::work tx(conn);
  EXPECT_THROW(tx.exec("INSERT INTO agent_keys (name, public_key) VALUES "
                       "('x', 'too-short')"),
               pqxx::check_violation);
}

TEST_F(AgentKeyStoreTest, InTxVariantsLeaveAuditAndCommitToTheCaller) {
  const CurveKeyPair keys = NewPair();
  int64_t id = 0;
  Status status = db_->Run([&](pqxx::connection& conn) {
    pqxx::work tx(conn);
    StatusOr<AgentKey> key =
        AgentKeyStore::AddInTx(tx, "intx", keys.public_key);
    if (!key.ok()) return key.status();
    id = key->id;
    AuditLog::Append(
        tx, admin_,
        AgentKeyStore::MakeAuditRecord("agent_key.create", nullptr, &*key));
    tx.commit();
    return Status::Ok();
  });
  ASSERT_TRUE(status.ok()) << status.ToString();
  // Rolled back: not revoked.
  status = db_->Run([&](pqxx::connection& conn) {
    pqxx::work tx(conn);
    StatusOr<AgentKeyStore::Revoked> revoked =
        AgentKeyStore::RevokeInTx(tx, id);
    if (!revoked.ok()) return revoked.status();
    EXPECT_FALSE(revoked->after.revoked_at.empty());
    return Status::Ok();  // no commit
  });
  ASSERT_TRUE(status.ok()) << status.ToString();
  StatusOr<std::vector<AgentKey>> allowed = store_->ListAllowed();
  ASSERT_TRUE(allowed.ok());
  ASSERT_EQ(allowed->size(), 1u);
  EXPECT_EQ(allowed->at(0).id, id);
  EXPECT_EQ(AuditRows().size(), 1u);
}

// ---------------------------------------------------------------------------
// The whole controller, in-process, with a key file

class CurveControllerTest : public testing::MigratedDatabaseTest {
 protected:
  void SetUp() override {
    MigratedDatabaseTest::SetUp();
    char tmpl[] = "/tmp/sluice-curve-ctl.XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    key_file_ = dir_ + "/controller.key";
    server_keys_ = NewPair();
    std::ofstream(key_file_) << FormatCurveKeyFile(server_keys_, "test");
    ASSERT_EQ(chmod(key_file_.c_str(), 0600), 0);
    agents_port_ = testing::PickFreePort();
  }
  void TearDown() override {
    unlink(key_file_.c_str());
    rmdir(dir_.c_str());
  }

  ControllerOptions Options() {
    ControllerOptions options;
    options.db = test_db_->conninfo();
    options.http = "127.0.0.1:" + std::to_string(testing::PickFreePort());
    // Not loopback: allowed because of the key, without --insecure.
    options.agents = "tcp://0.0.0.0:" + std::to_string(agents_port_);
    options.admin_token = "curve-test-token";
    options.curve_secret_key_file = key_file_;
    options.migrations_dir = testing::SourceMigrationsDir();
    options.db_retry_ms = 100;
    // The default: other controllers' changes arrive within about a second.
    options.catalog_sync_ms = 1000;
    return options;
  }

  std::string dir_;
  std::string key_file_;
  CurveKeyPair server_keys_;
  uint16_t agents_port_ = 0;
  zmq::context_t context_;
};

TEST_F(CurveControllerTest, AdmitsDatabaseKeysAndCutsOffOnesRevokedElsewhere) {
  // A key allowed before the start (loaded from the database) and one added
  // through the API of this controller.
  const CurveKeyPair early = NewPair();
  const CurveKeyPair late = NewPair();
  AgentKeyStore other_controller(db_.get());
  StatusOr<AgentKey> early_key =
      other_controller.Add("early", early.public_key, Actor{});
  ASSERT_TRUE(early_key.ok()) << early_key.status().ToString();

  Controller controller(Options());
  Status started = controller.Start();
  ASSERT_TRUE(started.ok()) << started.ToString();
  Status ready = controller.WaitUntilReady(15000);
  ASSERT_TRUE(ready.ok()) << ready.ToString();

  const std::string endpoint =
      "tcp://127.0.0.1:" + std::to_string(agents_port_);
  RawAgent early_agent(context_, endpoint, early, server_keys_.public_key);
  ASSERT_TRUE(early_agent.Connect("curve-agent").has_value());

  RawAgent late_agent(context_, endpoint, late, server_keys_.public_key);
  EXPECT_FALSE(late_agent.Connect("curve-agent", kSilence).has_value());
  HttpRequest add;
  add.body = json{{"name", "late"}, {"public_key", late.public_key}}.dump();
  HttpResponse added =
      controller.agent_keys_api()->Create(add, Actor{1, "test-admin"});
  ASSERT_EQ(added.status, 201) << added.body;
  // At once, at the next handshake.
  RawAgent late_again(context_, endpoint, late, server_keys_.public_key);
  EXPECT_TRUE(late_again.Connect("curve-agent").has_value());

  // Revoked through another controller (straight into PostgreSQL): this one
  // reloads within about a second and stops answering.
  ASSERT_TRUE(other_controller.Revoke(early_key->id, Actor{}).ok());
  const auto revoked_at = SteadyClock::now();
  std::optional<SteadyClock::time_point> last_answer;
  while (SteadyClock::now() - revoked_at < milliseconds(3500)) {
    early_agent.Send(Heartbeat{});
    while (early_agent.HearsAnything(milliseconds(100))) {
      last_answer = SteadyClock::now();
    }
  }
  if (last_answer) {
    EXPECT_LT(
        std::chrono::duration_cast<milliseconds>(*last_answer - revoked_at)
            .count(),
        kCutOff.count())
        << "ms after revocation, the revoked agent still got an answer";
  }
  // The other agent is still served.
  late_again.Send(Heartbeat{});
  EXPECT_TRUE(late_again.Await<Heartbeat>().has_value());
  controller.Stop();
}

TEST_F(CurveControllerTest, RefusesAKeyFileOthersCanRead) {
  ASSERT_EQ(chmod(key_file_.c_str(), 0644), 0);
  Controller controller(Options());
  Status started = controller.Start();
  ASSERT_FALSE(started.ok());
  EXPECT_NE(started.message().find("chmod 600 " + key_file_), std::string::npos)
      << started.message();
}

TEST_F(CurveControllerTest, WithoutAKeyANonLoopbackEndpointIsRefused) {
  ControllerOptions options = Options();
  options.curve_secret_key_file.clear();
  Controller controller(options);
  Status started = controller.Start();
  ASSERT_FALSE(started.ok());
  EXPECT_NE(started.message().find("--curve-secret-key-file"),
            std::string::npos)
      << started.message();
}

}  // namespace
}  // namespace sluice
