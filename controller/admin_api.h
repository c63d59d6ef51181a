// AdminApi: the REST admin API of DESIGN.md as plain functions of a request,
// free of any HTTP library (controller/rest_api.h serves it with cpprest).
//
//   GET  /                      placeholder page (the dashboard comes later)
//   GET  /healthz               200 while the process is up
//   GET  /readyz                200 when every readiness check passes, else
//                               503 with the failing checks
//   GET  /api/v1/rules          {"revision": N, "rules": [rule, ...]}
//   POST /api/v1/rules          201, the rule with id and version, Location
//   GET  /api/v1/rules/{id}     the rule
//   PUT  /api/v1/rules/{id}     replaces it; 200 with version + 1
//   DELETE /api/v1/rules/{id}   204
//
// /api/v1 needs "Authorization: Bearer <token>". Errors carry
// {"error": {"code", "message", "field"}}: 400 bad JSON or a body over
// kMaxBodyBytes, 401 no/unknown token, 404 unknown route or rule, 405 wrong
// method (with Allow), 409 duplicate name, 422 invalid rule (field named),
// 503 database down or controller still starting, 500 a bug.
//
// Thread-safe: Handle() may be called from many threads at once; changes
// are committed and reported to the catalog one at a time.
#pragma once

#include <atomic>
#include <cstddef>
#include <functional>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "common/status.h"
#include "controller/auth.h"
#include "controller/catalog_sync.h"
#include "controller/controller_metrics.h"
#include "controller/rule_store.h"

namespace sluice {

struct HttpRequest {
  std::string method;         // "GET", "POST", ...
  std::string path;           // "/api/v1/rules/7", no query string
  std::string authorization;  // the Authorization header, empty if absent
  std::string body;
  bool body_too_large = false;  // the body was over kMaxBodyBytes (not read)
};

struct HttpResponse {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;  // empty for 204
  std::vector<std::pair<std::string, std::string>> headers;
};

// One readiness check: its name ("database") and outcome.
struct ReadinessCheck {
  std::string name;
  Status status;
};

class AdminApi {
 public:
  static constexpr size_t kMaxBodyBytes = 1 << 20;  // 1 MiB

  struct Deps {
    RuleStore* store = nullptr;
    CatalogSync* catalog = nullptr;
    Authenticator* auth = nullptr;
    ControllerMetrics* metrics = nullptr;  // may be null
    // The checks /readyz reports; all must pass for 200.
    std::function<std::vector<ReadinessCheck>()> readiness;
  };
  explicit AdminApi(Deps deps);

  // /api/v1 answers 503 until serving is set (the controller sets it once
  // migrations ran, tokens and rules are loaded).
  void SetServing(bool serving) { serving_.store(serving); }

  // Never throws; a failure inside is a 500 with a message.
  HttpResponse Handle(const HttpRequest& request);

  // {"error": {"code": ..., "message": ..., "field": ...}}.
  static HttpResponse Error(int status, const std::string& code,
                            const std::string& message,
                            const std::string& field = "");
  // The HTTP status and error code for a failed Status.
  static HttpResponse FromStatus(const Status& status);

 private:
  HttpResponse Route(const HttpRequest& request, std::string* route);
  HttpResponse Readiness();
  HttpResponse ListRules();
  HttpResponse CreateRule(const HttpRequest& request);
  HttpResponse GetRule(int64_t id);
  HttpResponse UpdateRule(int64_t id, const HttpRequest& request);
  HttpResponse DeleteRule(int64_t id);

  Deps deps_;
  std::atomic<bool> serving_{false};
  // Held across a commit and its report to the catalog, so the catalog
  // sees changes in revision order.
  std::mutex write_mu_;
};

}  // namespace sluice
