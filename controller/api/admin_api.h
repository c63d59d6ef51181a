// AdminApi: the REST admin API as plain functions of a request, free of any
// HTTP library (controller/api/rest_api.h serves it over HTTP with
// platform/http/http_server.h). Routes() lists every method and path it
// serves; the router dispatches from that same table, so the list cannot
// drift, and Authorize() judges a request from that table too, before its
// body is read.
//
//   GET    /, /index.html, /js/...    the dashboard's files (web-ui/, no
//                                     token; controller/web/web_ui.h)
//   POST   /api/v1/session            none    {"token"} -> 204 + cookie
//   GET    /api/v1/session            viewer  {"name", "role"}
//   DELETE /api/v1/session            viewer  204, signs out
//   GET    /healthz                   200 while the process is up (no token)
//   GET    /readyz                    200 when every readiness check passes,
//                                     else 503 with the failing checks
//   GET    /api/v1/rules              viewer  {"revision": N, "rules": [...]}
//   POST   /api/v1/rules              editor  201, the rule, ETag, Location
//   GET    /api/v1/rules/{id}         viewer  the rule, ETag: "<version>"
//   PUT    /api/v1/rules/{id}         editor  replaces it (If-Match honoured)
//   DELETE /api/v1/rules/{id}         editor  204 (If-Match honoured)
//   GET    /api/v1/rules/{id}/history viewer  {"rule_id", "versions": [...]}
//   POST   /api/v1/explain            viewer  which rules apply to a check
//                                     (changes nothing)
//   GET    /api/v1/config             viewer  {"rules": [...]} by name, ETag
//                                             "<revision>"
//   PUT    /api/v1/config[?dry_run=true]
//                                     editor  replaces every rule in one
//                                             transaction; returns the diff
//   GET    /api/v1/tokens             admin   {"tokens": [...]} no secrets
//   POST   /api/v1/tokens             admin   201 {"id", "name", "role",
//                                             "token", "created_at"}
//   DELETE /api/v1/tokens/{id}        admin   204, revoked at once
//   GET    /api/v1/audit?since=&limit=
//                                     viewer  {"entries": [...], "next"}
//   GET    /api/v1/agent-keys         admin   the CurveZMQ agent keys
//   POST   /api/v1/agent-keys         admin   201, allows an agent's key
//   DELETE /api/v1/agent-keys/{id}    admin   204, the agent is cut off
//   GET    /api/v1/usage              viewer  decisions per step (usage_api.h)
//   GET    /api/v1/usage/rules        viewer  every rule's totals and series
//   GET    /api/v1/usage/top          viewer  a rule's heaviest clients
//   GET    /api/v1/agents             viewer  the agents and their state
//   GET    /api/v1/controllers        viewer  the controllers (several on one
//                                              database) and their heartbeats
//
// Sessions (docs/dashboard.md): a request without an Authorization header
// may authenticate with the session cookie (SessionStore) instead; its
// token is checked on every request, so revoking it ends the session. A
// request that changes anything with a cookie session (any method but GET
// and HEAD, and POST /api/v1/session itself) must carry the header
// "X-Sluice-CSRF: 1" and, when it sends Origin, an Origin that is this
// server's own: else 403 "csrf". A form or image on another site can send
// neither.
//
// Roles: viewer reads; editor also changes rules and the config; admin also
// manages tokens and agent keys (audited with target kind "agent_key").
//
// Bodies are described where they are built: admin_api_rules.cc,
// admin_api_config.cc, admin_api_tokens.cc, admin_api_audit.cc. Errors carry
// {"error": {"code", "message", "field"}} (and "errors": [{"field",
// "message"}, ...] when a config document has several problems):
//   400 bad JSON, a malformed query or If-Match
//   401 no/unknown/revoked token (with WWW-Authenticate)
//   403 the token's role may not do this
//   404 unknown route or object;  405 wrong method (with Allow)
//   409 duplicate name, or revoking the last admin token
//   412 If-Match does not name the current version
//   413 a body over kMaxBodyBytes (the server refuses it while reading)
//   422 invalid rule, token or config (field named)
//   503 PostgreSQL unreachable, the commit outcome unknown, or starting
//   500 a bug.
// While PostgreSQL is unreachable, GET /api/v1/rules, /rules/{id} and
// /config answer from the committed rule set in memory (header
// "X-Sluice-Source: memory"); every write gets 503.
//
// Thread-safe: Handle() may be called from many threads at once; changes
// are committed and reported to the catalog one at a time.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/status.h"
#include "controller/api/auth.h"
#include "controller/api/session_store.h"
#include "controller/catalog/catalog_sync.h"
#include "controller/catalog/rule_catalog.h"
#include "controller/metrics/controller_metrics.h"
#include "controller/store/audit_log.h"
#include "controller/store/config_store.h"
#include "controller/store/rule_store.h"
#include "controller/store/token_store.h"
#include "platform/http/http_message.h"
#include "platform/mutex.h"

namespace sluice {

// One readiness check: its name ("database") and outcome.
struct ReadinessCheck {
  std::string name;
  Status status;
};

// One method and path template the API serves ("/api/v1/rules/{id}").
struct RouteInfo {
  std::string method;
  std::string path;
};

class AgentKeysApi;  // controller/api/agent_keys_api.h includes this header
class UsageApi;      // controller/api/usage_api.h includes this header

class AdminApi {
 public:
  static constexpr size_t kMaxBodyBytes = 1 << 20;  // 1 MiB

  struct Deps {
    RuleStore* store = nullptr;
    ConfigStore* config = nullptr;
    TokenStore* tokens = nullptr;
    AuditLog* audit = nullptr;
    CatalogSync* catalog = nullptr;
    // The committed rule set in memory: what reads fall back to while
    // PostgreSQL is unreachable. May be null (no fallback).
    RuleCatalog* memory = nullptr;
    Authenticator* auth = nullptr;
    AgentKeysApi* agent_keys = nullptr;    // CurveZMQ agent keys
    UsageApi* usage = nullptr;             // usage analytics, agent list
    ControllerMetrics* metrics = nullptr;  // may be null
    // Dashboard sessions; null: cookies are ignored and the session routes
    // answer 404 "not_found".
    SessionStore* sessions = nullptr;
    // Served over HTTPS: session cookies are marked Secure.
    bool https = false;
    // Serve the dashboard's files (web-ui/) at "/"; off, "/" is a short
    // page that points to the REST API.
    bool web_ui = true;
    // The checks /readyz reports; all must pass for 200.
    std::function<std::vector<ReadinessCheck>()> readiness;
    // Several controllers: this controller's membership for /readyz (a
    // JSON object), and the controllers table for GET /api/v1/controllers
    // (a JSON object with "controllers"). Empty: omitted, and the route
    // answers 404.
    std::function<std::string()> cluster;
    std::function<std::string()> controllers;
  };
  explicit AdminApi(Deps deps);

  // Every method + path template served (/metrics is another server's).
  static std::vector<RouteInfo> Routes();

  // /api/v1 answers 503 until serving is set (the controller sets it once
  // migrations ran, tokens and rules are loaded).
  void SetServing(bool serving) { serving_.store(serving); }

  // Whether a request may send its body, judged from its method, path and
  // header fields alone (`head` without a body), before the server reads
  // any byte of the body: nothing when it may (the server then reads the
  // body and calls Handle()), else the response that refuses it (401
  // without a valid token, 403, 404, 405, 503 while starting), the same
  // Handle() would give, counted in the metrics the same way. Reads no
  // database and never blocks (the server calls it on an I/O thread).
  // Never throws.
  std::optional<HttpResponse> Authorize(const HttpRequest& head);

  // The answer to a whole request (it authorizes again: a token revoked
  // meanwhile is refused). Never throws; a failure inside is a 500 with a
  // message.
  HttpResponse Handle(const HttpRequest& request);

  // {"error": {"code": ..., "message": ..., "field": ...}}.
  static HttpResponse Error(int status, const std::string& code,
                            const std::string& message,
                            const std::string& field = "");
  // The HTTP status and error code for a failed Status.
  static HttpResponse FromStatus(const Status& status);

 private:
  // What a handler gets: the request, who sent it, and the {id} of the path
  // (0 when the route has none).
  struct Call {
    const HttpRequest& request;
    const Principal& principal;
    int64_t id;
  };
  using Handler = HttpResponse (AdminApi::*)(const Call&);
  struct Route {
    const char* method;
    const char* path;  // template; "{id}" matches a positive integer
    bool needs_token;
    Role role;  // the least role allowed, when needs_token
    Handler handler;
  };
  static const std::vector<Route>& Table();

  // Where the router sends a request: its route, who sent it and the
  // {id}; or, when route is null, the response that refuses it (401, 403,
  // 404, 405, 503). route_name labels the metrics ("other": no route).
  // Reads no database.
  struct Resolution {
    const Route* route = nullptr;
    Principal principal;
    int64_t id = 0;
    std::string route_name = "other";
    HttpResponse refusal;
  };
  Resolution Resolve(const HttpRequest& request);

  // admin_api.cc
  HttpResponse RootPage(const Call& call);
  // admin_api_session.cc
  HttpResponse CreateSession(const Call& call);
  HttpResponse GetSession(const Call& call);
  HttpResponse EndSession(const Call& call);
  // Who sent a request: its bearer token, else its session cookie
  // (*by_cookie set). InvalidArgument/NotFound with the 401 message.
  StatusOr<Principal> Authenticate(const HttpRequest& request, bool* by_cookie);
  // For a request under /api/v1: nothing when it may go on (*principal set,
  // unless it is the sign-in), else the 401 or 403 that refuses it.
  std::optional<HttpResponse> AuthenticateApi(const HttpRequest& request,
                                              std::string_view path,
                                              Principal* principal);
  // Nothing when a request may change state with a cookie session, else
  // the 403 "csrf" that refuses it.
  std::optional<HttpResponse> CheckCsrf(const HttpRequest& request) const;
  HttpResponse Health(const Call& call);
  HttpResponse Readiness(const Call& call);
  // admin_api_rules.cc
  HttpResponse ListRules(const Call& call);
  HttpResponse CreateRule(const Call& call) EXCLUDES(write_mu_);
  HttpResponse GetRule(const Call& call);
  HttpResponse UpdateRule(const Call& call) EXCLUDES(write_mu_);
  HttpResponse DeleteRule(const Call& call) EXCLUDES(write_mu_);
  HttpResponse RuleHistory(const Call& call);
  // The committed rules from PostgreSQL; while it is unreachable, the
  // copy in memory, with *from_memory set.
  StatusOr<RuleStore::Listing> ListRulesOrMemory(bool* from_memory);
  // admin_api_explain.cc
  HttpResponse Explain(const Call& call);
  // admin_api_config.cc
  HttpResponse GetConfig(const Call& call);
  HttpResponse PutConfig(const Call& call) EXCLUDES(write_mu_);
  // admin_api_tokens.cc
  HttpResponse ListTokens(const Call& call);
  HttpResponse CreateToken(const Call& call) EXCLUDES(write_mu_);
  HttpResponse RevokeToken(const Call& call) EXCLUDES(write_mu_);
  // admin_api_audit.cc
  HttpResponse ListAudit(const Call& call);
  // admin_api_agent_keys.cc
  HttpResponse ListAgentKeys(const Call& call);
  HttpResponse CreateAgentKey(const Call& call);
  HttpResponse RevokeAgentKey(const Call& call);
  // admin_api_usage.cc
  HttpResponse UsageSeries(const Call& call);
  HttpResponse UsageRules(const Call& call);
  HttpResponse UsageTop(const Call& call);
  HttpResponse ListAgents(const Call& call);
  HttpResponse ListControllers(const Call& call);

  Deps deps_;
  std::atomic<bool> serving_{false};
  // Held across a commit and its report to the catalog (or the
  // authenticator), so they see changes in commit order. It orders
  // writes; it guards no member.
  Mutex write_mu_;
};

}  // namespace sluice
