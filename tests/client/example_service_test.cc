// The example service (examples/cpprest: a cpprestsdk service behind the
// Sluice middleware) under concurrent load, through a real agent and
// controller on PostgreSQL: the requests admitted are exactly what the
// rules allow, refusals are 429 with RateLimit-Policy, RateLimit and
// Retry-After, and admitted responses carry the RateLimit fields too.
//
// cpprestsdk's U() macro would break gtest's templates.
#define _TURN_OFF_PLATFORM_STRING
#include <cpprest/http_client.h>
#include <gtest/gtest.h>

#include <atomic>
#include <cstdio>
#include <map>
#include <mutex>
#include <thread>

#include "tests/integration/stack.h"
#include "tests/support/free_port.h"

namespace sluice::testing {
namespace {

using std::chrono::milliseconds;

struct Outcome {
  int status = 0;
  std::string policy, rate_limit, retry_after;
};

Outcome Get(const std::string& base, const std::string& path,
            const std::string& client_id) {
  Outcome out;
  web::http::client::http_client_config config;
  config.set_timeout(std::chrono::seconds(10));
  web::http::client::http_client client(base, config);
  web::http::http_request request(web::http::methods::GET);
  request.set_request_uri(path);
  request.headers().add("X-Client-Id", client_id);
  try {
    web::http::http_response response = client.request(request).get();
    out.status = response.status_code();
    auto header = [&](const char* name) {
      auto it = response.headers().find(name);
      return it == response.headers().end() ? std::string() : it->second;
    };
    out.policy = header("RateLimit-Policy");
    out.rate_limit = header("RateLimit");
    out.retry_after = header("Retry-After");
  } catch (const web::http::http_exception& e) {
    out.status = -1;
    out.policy = e.what();
  }
  return out;
}

class ExampleServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    stack_.StartController();
    stack_.StartAgent();
    for (const char* rule : {R"({"name": "http-per-client", "domain": "http",
              "match": {"client_id": "*"}, "limit": 30, "period": "1h"})",
                             R"({"name": "http-items", "domain": "http",
              "match": {"route": "/items"}, "limit": 10, "period": "1h"})"}) {
      auto created = stack_.Http("POST", "/api/v1/rules", rule);
      ASSERT_EQ(created.status, 201) << created.body;
    }
    RedisClient redis(stack_.socket_path());
    ASSERT_TRUE(Eventually(milliseconds(5000), [&] {
      return redis.Check({"RL.CHECK", "http", "0", "route", "/items"}).limit ==
             10;
    }));
    const uint16_t port = PickFreePort();
    base_ = "http://127.0.0.1:" + std::to_string(port);
    log_path_ = "/tmp/sluice-example-" + std::to_string(port) + ".log";
    service_.Start({BuiltBinary("examples/cpprest/sluice-example-cpprest"),
                    "--listen", "127.0.0.1:" + std::to_string(port), "--agent",
                    stack_.socket_path(), "--window", "3600"},
                   {}, log_path_);
    ASSERT_TRUE(Eventually(milliseconds(10000), [&] {
      return service_.Running() && Get(base_, "/hello", "probe").status == 200;
    })) << service_.LogTail();
  }

  // `threads` threads, each sending `per_thread` GETs of `path` as the
  // client `client_of(thread)`; outcomes by client id.
  std::map<std::string, std::vector<Outcome>> Load(
      int threads, int per_thread, const std::string& path,
      const std::function<std::string(int)>& client_of) {
    std::mutex mu;
    std::map<std::string, std::vector<Outcome>> outcomes;
    std::vector<std::thread> workers;
    for (int t = 0; t < threads; ++t) {
      workers.emplace_back([&, t] {
        const std::string id = client_of(t);
        for (int i = 0; i < per_thread; ++i) {
          Outcome o = Get(base_, path + std::to_string(i), id);
          std::lock_guard<std::mutex> lock(mu);
          outcomes[id].push_back(o);
        }
      });
    }
    for (std::thread& w : workers) w.join();
    return outcomes;
  }

  void TearDown() override {
    service_.Stop();
    if (!log_path_.empty()) std::remove(log_path_.c_str());
  }

  Stack stack_;
  ChildProcess service_;
  std::string base_;
  std::string log_path_;
};

TEST_F(ExampleServiceTest, AdmitsExactlyTheLimitPerClientUnderLoad) {
  const char* clients[] = {"alice", "bob", "carol"};
  // Two threads per client, 30 requests each: 60 per client, 30 allowed.
  auto outcomes = Load(
      6, 30, "/hello?n=", [&](int t) { return std::string(clients[t % 3]); });
  for (const char* id : clients) {
    int ok = 0, limited = 0;
    for (const Outcome& o : outcomes[id]) {
      if (o.status == 200) {
        ++ok;
        EXPECT_EQ(o.policy, "\"http\";q=30;w=3600");
        EXPECT_EQ(o.rate_limit.rfind("\"http\";r=", 0), 0u) << o.rate_limit;
        EXPECT_EQ(o.retry_after, "");
      } else if (o.status == 429) {
        ++limited;
        EXPECT_EQ(o.policy, "\"http\";q=30;w=3600");
        EXPECT_EQ(o.rate_limit.rfind("\"http\";r=0;t=", 0), 0u) << o.rate_limit;
        EXPECT_GE(std::stoll(o.retry_after), 1) << o.retry_after;
      } else {
        ADD_FAILURE() << id << ": status " << o.status << " " << o.policy;
      }
    }
    EXPECT_EQ(ok, 30) << id;
    EXPECT_EQ(limited, 30) << id;
  }
}

TEST_F(ExampleServiceTest, ARouteRuleIsSharedByAllClientsOfTheRoute) {
  // /items/<n> is one route, "/items", limited to 10 for everyone together;
  // each client also has its own 30.
  auto outcomes = Load(4, 10, "/items/", [](int t) {
    return std::string(t % 2 == 0 ? "dave" : "erin");
  });
  int ok = 0, limited = 0;
  for (const auto& [id, list] : outcomes) {
    for (const Outcome& o : list) {
      if (o.status == 200) ++ok;
      if (o.status == 429) {
        ++limited;
        EXPECT_EQ(o.policy, "\"http\";q=10;w=3600");  // the refusing rule
        EXPECT_FALSE(o.retry_after.empty());
      }
    }
  }
  EXPECT_EQ(ok, 10);
  EXPECT_EQ(limited, 30);
}

TEST_F(ExampleServiceTest, AgentGoneFailsOpenAndIsCounted) {
  stack_.agent().Stop();
  Outcome o = Get(base_, "/hello", "frank");
  EXPECT_EQ(o.status, 200);
  EXPECT_EQ(o.policy, "");  // no decision from the agent: no RateLimit fields
  web::http::client::http_client client(base_);
  web::http::http_request request(web::http::methods::GET);
  request.set_request_uri("/stats");
  auto stats = client.request(request).get().extract_json().get();
  EXPECT_GE(stats.at("failed_open").as_integer(), 1);
}

}  // namespace
}  // namespace sluice::testing
