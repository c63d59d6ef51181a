// sluice::client::RateLimitMiddleware: rate limiting for a cpprestsdk
// http_listener. Every request is checked with the agent (through a
// Client) against a descriptor built from the request:
//
//   client_id_key = the value of the `client_id_header` header
//                   (`anonymous_client_id` when absent; no key when both
//                   are empty)
//   route_key     = the route of the request path (`routes`, first match;
//                   the path itself when none matches)
//   method_key    = the HTTP method
//
// (a key whose name is empty is left out), or by `descriptor` when set.
//
//   - refused by the agent: 429 with RateLimit-Policy, RateLimit and
//     Retry-After (sluice/rate_limit_headers.h) and a JSON body;
//   - admitted: the wrapped handler's response, with RateLimit-Policy and
//     RateLimit added (when a rule matched);
//   - the agent cannot answer: the client's failure policy decides; a
//     refusal then is 503 with Retry-After, an admission passes the request
//     on without RateLimit headers;
//   - a request whose descriptor is empty is passed on unchecked;
//   - the wrapped handler throwing gives a 500 (its message is not sent).
//
// Thread-safety: Handle() may run on any number of cpprestsdk threads at
// once; the options are fixed at construction. The middleware must outlive
// the listener it is attached to (close the listener first).
#pragma once

#include <cpprest/http_listener.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "sluice/client.h"

namespace sluice::client {

// `pattern` is an exact path ("/search") or a prefix ending in '*'
// ("/users/*" matches "/users/42"); `route` is the value sent.
struct RouteRule {
  std::string pattern;
  std::string route;
};

using DescriptorPairs = std::vector<std::pair<std::string, std::string>>;

struct MiddlewareOptions {
  std::string domain = "http";  // the RL.CHECK domain
  int64_t cost = 1;             // tokens per request
  std::string client_id_header = "X-Client-Id";
  std::string client_id_key = "client_id";
  std::string anonymous_client_id = "anonymous";
  std::string route_key = "route";
  std::vector<RouteRule> routes;
  std::string method_key = "method";
  // When set, replaces the mapping above.
  std::function<DescriptorPairs(const web::http::http_request&)> descriptor;
  // RateLimit-Policy's identifier; empty: the domain.
  std::string policy_name;
  // Advertised as the policy's window (`w`) when > 0. Default 0: none.
  int64_t window_seconds = 0;
};

using Handler = std::function<pplx::task<web::http::http_response>(
    web::http::http_request)>;

class RateLimitMiddleware {
 public:
  RateLimitMiddleware(std::shared_ptr<Client> client, MiddlewareOptions options,
                      Handler next);

  // Sends every request of `listener` (any method) through Handle().
  void Attach(web::http::experimental::listener::http_listener& listener);

  // Checks `request` and replies to it (see above).
  void Handle(web::http::http_request request) const;

  // The descriptor `request` is checked with.
  DescriptorPairs DescriptorFor(const web::http::http_request& request) const;

  // The route value of `path` under `routes`.
  std::string RouteFor(const std::string& path) const;

 private:
  std::shared_ptr<Client> client_;
  MiddlewareOptions options_;
  Handler next_;
  std::string policy_name_;
};

}  // namespace sluice::client
