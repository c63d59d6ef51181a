// How the cpprestsdk middleware builds a descriptor from a request.
#include <gtest/gtest.h>

#include "sluice/cpprest_middleware.h"

namespace sluice::client {
namespace {

using web::http::http_request;

RateLimitMiddleware Make(MiddlewareOptions options) {
  ClientOptions client_options;
  client_options.socket_path = "/nonexistent/agent.sock";
  return RateLimitMiddleware(std::make_shared<Client>(client_options),
                             std::move(options), nullptr);
}

http_request Request(const std::string& method, const std::string& path) {
  http_request request(method);
  request.set_request_uri(path);
  return request;
}

TEST(MiddlewareDescriptorTest, ClientIdRouteAndMethodByDefault) {
  RateLimitMiddleware m = Make({});
  http_request request = Request("GET", "/search?q=1");
  request.headers().add("x-client-id", "acme");  // any case
  EXPECT_EQ(m.DescriptorFor(request), (DescriptorPairs{{"client_id", "acme"},
                                                       {"route", "/search"},
                                                       {"method", "GET"}}));
}

TEST(MiddlewareDescriptorTest, MissingClientIdIsAnonymousOrLeftOut) {
  MiddlewareOptions options;
  options.method_key = "";
  EXPECT_EQ(Make(options).DescriptorFor(Request("POST", "/a")),
            (DescriptorPairs{{"client_id", "anonymous"}, {"route", "/a"}}));
  options.anonymous_client_id = "";
  EXPECT_EQ(Make(options).DescriptorFor(Request("POST", "/a")),
            (DescriptorPairs{{"route", "/a"}}));
}

TEST(MiddlewareDescriptorTest, RoutesMapPathsFirstMatchFirst) {
  MiddlewareOptions options;
  options.routes = {
      {"/users/me", "self"}, {"/users/*", "users"}, {"/", "root"}};
  RateLimitMiddleware m = Make(options);
  EXPECT_EQ(m.RouteFor("/users/me"), "self");
  EXPECT_EQ(m.RouteFor("/users/42"), "users");
  EXPECT_EQ(m.RouteFor("/users/"), "users");
  EXPECT_EQ(m.RouteFor("/"), "root");
  EXPECT_EQ(m.RouteFor("/other"), "/other");  // unmatched: the path itself
}

TEST(MiddlewareDescriptorTest, ACustomBuilderReplacesTheMapping) {
  MiddlewareOptions options;
  options.client_id_header = "Authorization";
  options.descriptor = [](const http_request& r) {
    return DescriptorPairs{{"tenant", r.headers().has("X-Tenant")
                                          ? r.headers().find("X-Tenant")->second
                                          : "none"}};
  };
  http_request request = Request("GET", "/x");
  request.headers().add("X-Tenant", "t1");
  EXPECT_EQ(Make(options).DescriptorFor(request),
            (DescriptorPairs{{"tenant", "t1"}}));
}

}  // namespace
}  // namespace sluice::client
