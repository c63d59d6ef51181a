#include "sluice/cpprest_middleware.h"

#include <exception>

#include "sluice/rate_limit_headers.h"

namespace sluice::client {
namespace {

using web::http::http_request;
using web::http::http_response;

void AddHeaders(const RateLimitHeaders& headers, http_response* response) {
  if (!headers.policy.empty()) {
    response->headers().add("RateLimit-Policy", headers.policy);
    response->headers().add("RateLimit", headers.rate_limit);
  }
  if (!headers.retry_after.empty()) {
    response->headers().add("Retry-After", headers.retry_after);
  }
}

http_response Refusal(const Decision& decision,
                      const RateLimitHeaders& headers) {
  if (decision.from_agent()) {
    http_response response(web::http::status_codes::TooManyRequests);
    AddHeaders(headers, &response);
    response.set_body("{\"error\":\"too many requests\",\"retry_after_ms\":" +
                          std::to_string(decision.retry_after_ms) + "}",
                      "application/json");
    return response;
  }
  // Refused by the failure policy: the limiter, not the client, is at fault.
  http_response response(web::http::status_codes::ServiceUnavailable);
  response.headers().add("Retry-After",
                         std::to_string(std::max<int64_t>(
                             1, CeilSeconds(decision.retry_after_ms))));
  response.set_body(std::string("{\"error\":\"rate limiter unavailable\"}"),
                    "application/json");
  return response;
}

}  // namespace

RateLimitMiddleware::RateLimitMiddleware(std::shared_ptr<Client> client,
                                         MiddlewareOptions options,
                                         Handler next)
    : client_(std::move(client)),
      options_(std::move(options)),
      next_(std::move(next)),
      policy_name_(options_.policy_name.empty() ? options_.domain
                                                : options_.policy_name) {}

void RateLimitMiddleware::Attach(
    web::http::experimental::listener::http_listener& listener) {
  listener.support([this](http_request request) { Handle(request); });
}

std::string RateLimitMiddleware::RouteFor(const std::string& path) const {
  for (const RouteRule& rule : options_.routes) {
    const std::string& p = rule.pattern;
    if (!p.empty() && p.back() == '*') {
      if (path.compare(0, p.size() - 1, p, 0, p.size() - 1) == 0) {
        return rule.route;
      }
    } else if (path == p) {
      return rule.route;
    }
  }
  return path;
}

DescriptorPairs RateLimitMiddleware::DescriptorFor(
    const http_request& request) const {
  if (options_.descriptor) return options_.descriptor(request);
  DescriptorPairs pairs;
  if (!options_.client_id_key.empty()) {
    std::string id = options_.anonymous_client_id;
    auto it = request.headers().find(options_.client_id_header);
    if (it != request.headers().end() && !it->second.empty()) id = it->second;
    if (!id.empty()) pairs.emplace_back(options_.client_id_key, id);
  }
  if (!options_.route_key.empty()) {
    pairs.emplace_back(options_.route_key,
                       RouteFor(request.relative_uri().path()));
  }
  if (!options_.method_key.empty()) {
    pairs.emplace_back(options_.method_key, request.method());
  }
  return pairs;
}

void RateLimitMiddleware::Handle(http_request request) const {
  const DescriptorPairs pairs = DescriptorFor(request);
  RateLimitHeaders headers;
  if (!pairs.empty()) {
    std::vector<Entry> entries;
    entries.reserve(pairs.size());
    for (const auto& [key, value] : pairs) entries.push_back({key, value});
    Decision decision = client_->Check(options_.domain, options_.cost, entries);
    headers =
        FormatRateLimitHeaders(decision, policy_name_, options_.window_seconds);
    if (!decision.allowed) {
      request.reply(Refusal(decision, headers));
      return;
    }
  }
  pplx::task<http_response> next;
  try {
    next = next_(request);
  } catch (const std::exception&) {
    next = pplx::task_from_exception<http_response>(std::current_exception());
  }
  next.then([request, headers](pplx::task<http_response> done) mutable {
    http_response response;
    try {
      response = done.get();
    } catch (const std::exception&) {
      response = http_response(web::http::status_codes::InternalError);
    }
    AddHeaders(headers, &response);
    request.reply(response);
  });
}

}  // namespace sluice::client
