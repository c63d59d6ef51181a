// AdminApi: the route table, the router (authentication, roles, 404/405),
// errors, and the routes that need no token. The resource handlers live in
// admin_api_rules.cc, admin_api_config.cc, admin_api_tokens.cc and
// admin_api_audit.cc.
#include "controller/api/admin_api.h"

#include <exception>
#include <nlohmann/json.hpp>
#include <optional>
#include <string_view>

#include "controller/api/api_support.h"
#include "controller/web/web_ui.h"
#include "platform/log.h"

namespace sluice {
namespace {

using nlohmann::json;

constexpr std::string_view kApiPrefix = "/api/v1";

// The path split at '/', without empty segments.
std::vector<std::string_view> Segments(std::string_view path) {
  std::vector<std::string_view> out;
  size_t start = 0;
  while (start <= path.size()) {
    size_t end = path.find('/', start);
    if (end == std::string_view::npos) end = path.size();
    if (end > start) out.push_back(path.substr(start, end - start));
    start = end + 1;
  }
  return out;
}

// Whether `path` fits `pattern`; sets *id from an "{id}" segment (0 when
// that segment is not a positive integer, which the caller turns into 404).
bool Matches(std::string_view pattern, std::string_view path, int64_t* id,
             std::string* bad_id) {
  std::vector<std::string_view> want = Segments(pattern);
  std::vector<std::string_view> got = Segments(path);
  if (want.size() != got.size()) return false;
  int64_t found = 0;
  std::string bad;
  for (size_t i = 0; i < want.size(); ++i) {
    if (want[i] == "{id}") {
      found = api::ParseId(got[i]);
      if (found <= 0) bad = std::string(got[i]);
    } else if (want[i] != got[i]) {
      return false;
    }
  }
  *id = found;
  *bad_id = bad;
  return true;
}

bool StartsWith(std::string_view text, std::string_view prefix) {
  return text.substr(0, prefix.size()) == prefix;
}

std::string RouteList() {
  std::string list;
  for (const RouteInfo& route : AdminApi::Routes()) {
    if (!list.empty()) list += ", ";
    list += route.method + " " + route.path;
  }
  return list;
}

HttpResponse NotFound(const std::string& path) {
  return AdminApi::Error(
      404, "not_found",
      "no such route " + path + "; the routes are " + RouteList());
}

}  // namespace

const std::vector<AdminApi::Route>& AdminApi::Table() {
  static const std::vector<Route> kTable = {
      {"GET", "/", false, Role::kViewer, &AdminApi::RootPage},
      {"GET", "/healthz", false, Role::kViewer, &AdminApi::Health},
      {"GET", "/readyz", false, Role::kViewer, &AdminApi::Readiness},
      {"POST", "/api/v1/session", false, Role::kViewer,
       &AdminApi::CreateSession},
      {"GET", "/api/v1/session", true, Role::kViewer, &AdminApi::GetSession},
      {"DELETE", "/api/v1/session", true, Role::kViewer, &AdminApi::EndSession},
      {"GET", "/api/v1/rules", true, Role::kViewer, &AdminApi::ListRules},
      {"POST", "/api/v1/rules", true, Role::kEditor, &AdminApi::CreateRule},
      {"GET", "/api/v1/rules/{id}", true, Role::kViewer, &AdminApi::GetRule},
      {"PUT", "/api/v1/rules/{id}", true, Role::kEditor, &AdminApi::UpdateRule},
      {"DELETE", "/api/v1/rules/{id}", true, Role::kEditor,
       &AdminApi::DeleteRule},
      {"GET", "/api/v1/rules/{id}/history", true, Role::kViewer,
       &AdminApi::RuleHistory},
      {"POST", "/api/v1/explain", true, Role::kViewer, &AdminApi::Explain},
      {"GET", "/api/v1/config", true, Role::kViewer, &AdminApi::GetConfig},
      {"PUT", "/api/v1/config", true, Role::kEditor, &AdminApi::PutConfig},
      {"GET", "/api/v1/tokens", true, Role::kAdmin, &AdminApi::ListTokens},
      {"POST", "/api/v1/tokens", true, Role::kAdmin, &AdminApi::CreateToken},
      {"DELETE", "/api/v1/tokens/{id}", true, Role::kAdmin,
       &AdminApi::RevokeToken},
      {"GET", "/api/v1/audit", true, Role::kViewer, &AdminApi::ListAudit},
      {"GET", "/api/v1/agent-keys", true, Role::kAdmin,
       &AdminApi::ListAgentKeys},
      {"POST", "/api/v1/agent-keys", true, Role::kAdmin,
       &AdminApi::CreateAgentKey},
      {"DELETE", "/api/v1/agent-keys/{id}", true, Role::kAdmin,
       &AdminApi::RevokeAgentKey},
      {"GET", "/api/v1/usage", true, Role::kViewer, &AdminApi::UsageSeries},
      {"GET", "/api/v1/usage/rules", true, Role::kViewer,
       &AdminApi::UsageRules},
      {"GET", "/api/v1/usage/top", true, Role::kViewer, &AdminApi::UsageTop},
      {"GET", "/api/v1/agents", true, Role::kViewer, &AdminApi::ListAgents},
      {"GET", "/api/v1/controllers", true, Role::kViewer,
       &AdminApi::ListControllers},
  };
  return kTable;
}

std::vector<RouteInfo> AdminApi::Routes() {
  std::vector<RouteInfo> routes;
  for (const Route& route : Table()) {
    routes.push_back(RouteInfo{route.method, route.path});
  }
  return routes;
}

AdminApi::AdminApi(Deps deps) : deps_(std::move(deps)) {}

HttpResponse AdminApi::Error(int status, const std::string& code,
                             const std::string& message,
                             const std::string& field) {
  return api::Json(
      status, json{{"error",
                    {{"code", code}, {"message", message}, {"field", field}}}});
}

HttpResponse AdminApi::FromStatus(const Status& status) {
  switch (status.code()) {
    case Status::Code::kOk:
      return api::Json(200, json::object());
    case Status::Code::kInvalidArgument:
      return Error(422, "invalid_argument", status.message(), status.field());
    case Status::Code::kNotFound:
      return Error(404, "not_found", status.message(), status.field());
    case Status::Code::kAlreadyExists:
      return Error(409, "already_exists", status.message(), status.field());
    case Status::Code::kAborted:
      return Error(412, "precondition_failed", status.message(), "If-Match");
    case Status::Code::kFailedPrecondition:
      return Error(409, "failed_precondition", status.message(),
                   status.field());
    case Status::Code::kUnavailable:
      return Error(503, "unavailable", status.message(), status.field());
    case Status::Code::kResourceExhausted:
      return Error(429, "resource_exhausted", status.message(), status.field());
    case Status::Code::kInternal:
      break;
  }
  return Error(500, "internal", status.message(), status.field());
}

HttpResponse AdminApi::Handle(const HttpRequest& request) {
  std::string route = "other";
  HttpResponse response;
  if (deps_.web_ui) {
    if (std::optional<HttpResponse> asset = ServeWebAsset(request)) {
      if (deps_.metrics != nullptr) {
        deps_.metrics->RecordRequest("web", asset->status);
      }
      return std::move(*asset);
    }
  }
  try {
    Resolution resolved = Resolve(request);
    route = resolved.route_name;
    response = resolved.route == nullptr
                   ? std::move(resolved.refusal)
                   : (this->*(resolved.route->handler))(
                         Call{request, resolved.principal, resolved.id});
  } catch (const json::exception& e) {
    LogError("api", request.method + " " + request.path +
                        " failed with a JSON error: " + e.what());
    response = Error(500, "internal",
                     std::string("internal error (JSON): ") + e.what() +
                         "; this is a bug in sluice-controller, please "
                         "report it with the request");
  } catch (const std::exception& e) {
    LogError("api",
             request.method + " " + request.path + " failed: " + e.what());
    response = Error(500, "internal",
                     std::string("internal error: ") + e.what() +
                         "; this is a bug in sluice-controller, please "
                         "report it with the request");
  }
  if (deps_.metrics != nullptr) {
    deps_.metrics->RecordRequest(route, response.status);
  }
  return response;
}

std::optional<HttpResponse> AdminApi::Authorize(const HttpRequest& head) {
  std::string route = "other";
  HttpResponse refusal;
  // A dashboard file is answered at once (from memory; GET has no body).
  if (deps_.web_ui) {
    if (std::optional<HttpResponse> asset = ServeWebAsset(head)) {
      if (deps_.metrics != nullptr) {
        deps_.metrics->RecordRequest("web", asset->status);
      }
      return asset;
    }
  }
  try {
    Resolution resolved = Resolve(head);
    if (resolved.route != nullptr) return std::nullopt;
    route = resolved.route_name;
    refusal = std::move(resolved.refusal);
  } catch (const std::exception& e) {
    LogError("api", head.method + " " + head.path +
                        " could not be authorized: " + e.what());
    refusal = Error(500, "internal",
                    std::string("internal error: ") + e.what() +
                        "; this is a bug in sluice-controller, please "
                        "report it with the request");
  }
  if (deps_.metrics != nullptr) {
    deps_.metrics->RecordRequest(route, refusal.status);
  }
  return refusal;
}

std::optional<HttpResponse> AdminApi::AuthenticateApi(
    const HttpRequest& request, std::string_view path, Principal* principal) {
  const bool signing_in =
      request.method == "POST" && path == std::string(kApiPrefix) + "/session";
  if (signing_in) {
    // A browser's cross-site request cannot carry Authorization.
    if (request.authorization.empty()) return CheckCsrf(request);
    return std::nullopt;
  }
  bool by_cookie = false;
  StatusOr<Principal> found = Authenticate(request, &by_cookie);
  if (!found.ok()) {
    HttpResponse refusal = Error(401, "unauthorized", found.status().message());
    refusal.headers.emplace_back("WWW-Authenticate", "Bearer realm=\"sluice\"");
    return refusal;
  }
  *principal = std::move(found).value();
  if (by_cookie && request.method != "GET" && request.method != "HEAD") {
    return CheckCsrf(request);
  }
  return std::nullopt;
}

AdminApi::Resolution AdminApi::Resolve(const HttpRequest& request) {
  Resolution out;
  std::string_view path = request.path;
  if (path.empty()) path = "/";
  if (path.size() > 1 && path.back() == '/') path.remove_suffix(1);
  const bool under_api =
      path == kApiPrefix || StartsWith(path, std::string(kApiPrefix) + "/");

  // Everything under /api/v1 needs a token, unknown routes included (they
  // reveal nothing to a caller without one).
  if (under_api) {
    if (!serving_.load()) {
      out.refusal =
          Error(503, "unavailable",
                "the controller is starting (applying migrations and "
                "loading rules from PostgreSQL); see /readyz and retry "
                "shortly");
      return out;
    }
    if (std::optional<HttpResponse> refused =
            AuthenticateApi(request, path, &out.principal)) {
      out.refusal = std::move(*refused);
      return out;
    }
  }

  const Route* chosen = nullptr;
  std::string allow;
  std::string bad_id;
  for (const Route& candidate : Table()) {
    int64_t candidate_id = 0;
    std::string candidate_bad;
    if (!Matches(candidate.path, path, &candidate_id, &candidate_bad)) {
      continue;
    }
    out.route_name = candidate.path;
    if (!allow.empty()) allow += ", ";
    allow += candidate.method;
    if (request.method == candidate.method) {
      chosen = &candidate;
      out.id = candidate_id;
      bad_id = candidate_bad;
    }
  }
  if (allow.empty()) {
    out.refusal = NotFound(request.path);
    return out;
  }
  if (chosen == nullptr) {
    out.refusal = Error(405, "method_not_allowed",
                        request.method + " is not supported on " +
                            request.path + "; allowed: " + allow);
    out.refusal.headers.emplace_back("Allow", allow);
    return out;
  }
  if (chosen->needs_token && !RoleAllows(out.principal.role, chosen->role)) {
    out.refusal = Error(403, "forbidden",
                        "the token '" + out.principal.name + "' has the role " +
                            std::string(RoleName(out.principal.role)) +
                            ", but " + request.method + " " + chosen->path +
                            " needs " + std::string(RoleName(chosen->role)) +
                            " or higher; use a token with that role (an admin "
                            "creates one with POST /api/v1/tokens)");
    return out;
  }
  if (!bad_id.empty()) {
    out.refusal =
        Error(404, "not_found",
              "'" + bad_id +
                  "' is not an id; ids are positive integers, as returned "
                  "when the object was created");
    return out;
  }
  out.route = chosen;
  return out;
}

HttpResponse AdminApi::RootPage(const Call&) {
  HttpResponse page;
  page.content_type = "text/html; charset=utf-8";
  page.body =
      "<!doctype html>\n<html><head><meta charset=\"utf-8\">"
      "<title>Sluice controller</title></head><body>\n"
      "<h1>Sluice controller</h1>\n"
      "<p>This server does not serve the web dashboard; use the REST "
      "API:</p>\n"
      "<ul><li><a href=\"/api/v1/rules\">/api/v1/rules</a> (needs "
      "<code>Authorization: Bearer &lt;token&gt;</code>)</li>\n"
      "<li><a href=\"/healthz\">/healthz</a> and "
      "<a href=\"/readyz\">/readyz</a></li></ul>\n"
      "</body></html>\n";
  return page;
}

HttpResponse AdminApi::Health(const Call&) {
  return api::Json(200, json{{"status", "ok"}});
}

HttpResponse AdminApi::Readiness(const Call&) {
  std::vector<ReadinessCheck> checks;
  if (deps_.readiness) checks = deps_.readiness();
  bool ready = true;
  json report = json::object();
  for (const ReadinessCheck& check : checks) {
    if (check.status.ok()) {
      report[check.name] = "ok";
    } else {
      ready = false;
      report[check.name] = check.status.message();
    }
  }
  json body{{"status", ready ? "ready" : "not ready"}, {"checks", report}};
  if (deps_.cluster) body["cluster"] = json::parse(deps_.cluster());
  return api::Json(ready ? 200 : 503, body);
}

HttpResponse AdminApi::ListControllers(const Call&) {
  if (!deps_.controllers) {
    return Error(404, "not_found", "this controller keeps no membership");
  }
  return api::Json(200, json::parse(deps_.controllers()));
}

}  // namespace sluice
