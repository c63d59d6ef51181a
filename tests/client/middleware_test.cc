// The cpprestsdk middleware end to end over real HTTP, with the agent's
// side played by FakeAgent: what a refusal, an admission, an agent that
// cannot answer and a failing handler look like to an HTTP client.
//
// cpprestsdk's U() macro would break gtest's templates.
#define _TURN_OFF_PLATFORM_STRING
#include <cpprest/http_client.h>
#include <gtest/gtest.h>

#include <stdexcept>

#include "sluice/cpprest_middleware.h"
#include "tests/client/fake_agent.h"
#include "tests/support/free_port.h"

namespace sluice::client {
namespace {

using testing::FakeAction;
using testing::FakeAgent;
using web::http::http_request;
using web::http::http_response;

// A listener on a free loopback port behind a middleware.
class Served {
 public:
  Served(const std::string& socket_path, FailurePolicy policy, Handler next) {
    ClientOptions client_options;
    client_options.socket_path = socket_path;
    client_options.failure_policy = policy;
    MiddlewareOptions options;
    options.domain = "web";
    options.window_seconds = 60;
    middleware_ = std::make_unique<RateLimitMiddleware>(
        std::make_shared<Client>(client_options), options, std::move(next));
    base_ = "http://127.0.0.1:" + std::to_string(testing::PickFreePort());
    listener_ =
        std::make_unique<web::http::experimental::listener::http_listener>(
            base_);
    middleware_->Attach(*listener_);
    listener_->open().wait();
  }
  ~Served() { listener_->close().wait(); }

  http_response Get(const std::string& path) {
    web::http::client::http_client client(base_);
    http_request request(web::http::methods::GET);
    request.set_request_uri(path);
    request.headers().add("X-Client-Id", "acme");
    return client.request(request).get();
  }

 private:
  std::unique_ptr<RateLimitMiddleware> middleware_;
  std::string base_;
  std::unique_ptr<web::http::experimental::listener::http_listener> listener_;
};

pplx::task<http_response> Hello(http_request) {
  http_response response(web::http::status_codes::OK);
  response.set_body(std::string("hello"));
  return pplx::task_from_result(response);
}

std::string Header(const http_response& r, const std::string& name) {
  auto it = r.headers().find(name);
  return it == r.headers().end() ? "(none)" : it->second;
}

TEST(MiddlewareTest, RefusalIs429WithTheFieldsAndTheHandlerIsNotCalled) {
  std::vector<std::string> seen;
  FakeAgent agent([&](int, const std::vector<std::string>& args) {
    seen = args;
    return FakeAction{FakeAgent::Reply(0, 10, 0, 30000, 2500)};
  });
  bool called = false;
  Served served(agent.socket_path(), FailurePolicy::kOpen, [&](http_request r) {
    called = true;
    return Hello(r);
  });
  http_response r = served.Get("/search?q=x");
  EXPECT_EQ(r.status_code(), 429);
  EXPECT_EQ(Header(r, "RateLimit-Policy"), "\"web\";q=10;w=60");
  EXPECT_EQ(Header(r, "RateLimit"), "\"web\";r=0;t=30");
  EXPECT_EQ(Header(r, "Retry-After"), "3");
  EXPECT_EQ(r.extract_json().get().at("retry_after_ms").as_integer(), 2500);
  EXPECT_FALSE(called);
  EXPECT_EQ(seen, (std::vector<std::string>{"RL.CHECK", "web", "1", "client_id",
                                            "acme", "route", "/search",
                                            "method", "GET"}));
}

TEST(MiddlewareTest, AdmittedResponseIsTheHandlersWithTheFields) {
  FakeAgent agent([](int, const std::vector<std::string>&) {
    return FakeAction{FakeAgent::Reply(1, 10, 7, 9001, 0)};
  });
  Served served(agent.socket_path(), FailurePolicy::kOpen, Hello);
  http_response r = served.Get("/x");
  EXPECT_EQ(r.status_code(), 200);
  EXPECT_EQ(r.extract_string().get(), "hello");
  EXPECT_EQ(Header(r, "RateLimit-Policy"), "\"web\";q=10;w=60");
  EXPECT_EQ(Header(r, "RateLimit"), "\"web\";r=7;t=10");
  EXPECT_EQ(Header(r, "Retry-After"), "(none)");
}

TEST(MiddlewareTest, AgentUnreachableFailsOpenOrClosedAsConfigured) {
  const std::string missing = "/tmp/sluice-no-such-dir/agent.sock";
  {
    Served served(missing, FailurePolicy::kOpen, Hello);
    http_response r = served.Get("/x");
    EXPECT_EQ(r.status_code(), 200);
    EXPECT_EQ(Header(r, "RateLimit-Policy"), "(none)");
  }
  {
    Served served(missing, FailurePolicy::kClosed, Hello);
    http_response r = served.Get("/x");
    EXPECT_EQ(r.status_code(), 503);
    EXPECT_EQ(Header(r, "Retry-After"), "1");
    EXPECT_EQ(Header(r, "RateLimit-Policy"), "(none)");
  }
}

TEST(MiddlewareTest, AHandlerThatThrowsGivesA500) {
  FakeAgent agent([](int, const std::vector<std::string>&) {
    return FakeAction{FakeAgent::Reply(1, 10, 9, 100, 0)};
  });
  Served served(agent.socket_path(), FailurePolicy::kOpen,
                [](http_request) -> pplx::task<http_response> {
                  throw std::runtime_error("boom");
                });
  http_response r = served.Get("/x");
  EXPECT_EQ(r.status_code(), 500);
  EXPECT_EQ(r.extract_string().get().find("boom"), std::string::npos);
}

}  // namespace
}  // namespace sluice::client
