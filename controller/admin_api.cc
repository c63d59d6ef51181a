#include "controller/admin_api.h"

#include <cstdlib>
#include <exception>
#include <nlohmann/json.hpp>
#include <string_view>

#include "common/rule_json.h"
#include "platform/log.h"

namespace sluice {
namespace {

using nlohmann::json;

constexpr std::string_view kRulesPath = "/api/v1/rules";
constexpr std::string_view kApiPrefix = "/api/v1";

std::string Dump(const json& value) {
  // Replace rather than throw on invalid UTF-8 (it can only come from a
  // path or header echoed in a message).
  return value.dump(-1, ' ', false, json::error_handler_t::replace);
}

HttpResponse Json(int status, const json& value) {
  HttpResponse response;
  response.status = status;
  response.body = Dump(value);
  return response;
}

HttpResponse MethodNotAllowed(const HttpRequest& request,
                              const std::string& allow) {
  HttpResponse response =
      AdminApi::Error(405, "method_not_allowed",
                      request.method + " is not supported on " + request.path +
                          "; allowed: " + allow);
  response.headers.emplace_back("Allow", allow);
  return response;
}

HttpResponse NotFound(const std::string& path) {
  return AdminApi::Error(
      404, "not_found",
      "no such route " + path +
          "; the API is GET/POST /api/v1/rules and GET/PUT/DELETE "
          "/api/v1/rules/{id}, plus /healthz and /readyz");
}

bool StartsWith(std::string_view text, std::string_view prefix) {
  return text.substr(0, prefix.size()) == prefix;
}

// A positive decimal id without sign or leading junk, or 0.
int64_t ParseId(std::string_view text) {
  if (text.empty() || text.size() > 18) return 0;
  int64_t id = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return 0;
    id = id * 10 + (c - '0');
  }
  return id;
}

// Parses a request body into a Rule. Sets *error and returns false on
// failure (400 for bad JSON, 422 for an invalid rule).
bool ParseRuleBody(const HttpRequest& request, Rule* rule,
                   HttpResponse* error) {
  if (request.body_too_large || request.body.size() > AdminApi::kMaxBodyBytes) {
    *error = AdminApi::Error(
        400, "body_too_large",
        "the request body is larger than 1 MiB; a rule is a few hundred bytes");
    return false;
  }
  json body;
  try {
    body = json::parse(request.body);
  } catch (const json::parse_error& e) {
    *error = AdminApi::Error(
        400, "invalid_json",
        std::string("the body is not valid JSON (") + e.what() +
            "); send a rule object such as {\"name\": \"search\", "
            "\"domain\": \"api\", \"limit\": 100, \"period\": \"1s\"}");
    return false;
  }
  if (!body.is_object()) {
    *error = AdminApi::Error(
        422, "invalid_argument",
        std::string("the body is a JSON ") + body.type_name() +
            "; send a rule object such as {\"name\": \"search\", "
            "\"domain\": \"api\", \"limit\": 100, \"period\": \"1s\"}");
    return false;
  }
  StatusOr<Rule> parsed = RuleFromJson(body);
  if (!parsed.ok()) {
    *error = AdminApi::FromStatus(parsed.status());
    return false;
  }
  *rule = std::move(parsed).value();
  return true;
}

}  // namespace

AdminApi::AdminApi(Deps deps) : deps_(std::move(deps)) {}

HttpResponse AdminApi::Error(int status, const std::string& code,
                             const std::string& message,
                             const std::string& field) {
  return Json(status,
              json{{"error",
                    {{"code", code}, {"message", message}, {"field", field}}}});
}

HttpResponse AdminApi::FromStatus(const Status& status) {
  switch (status.code()) {
    case Status::Code::kOk:
      return Json(200, json::object());
    case Status::Code::kInvalidArgument:
      return Error(422, "invalid_argument", status.message(), status.field());
    case Status::Code::kNotFound:
      return Error(404, "not_found", status.message(), status.field());
    case Status::Code::kAlreadyExists:
      return Error(409, "already_exists", status.message(), status.field());
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
  try {
    response = Route(request, &route);
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

HttpResponse AdminApi::Route(const HttpRequest& request, std::string* route) {
  std::string_view path = request.path;
  if (path.size() > 1 && path.back() == '/') path.remove_suffix(1);
  const std::string& method = request.method;

  if (path == "/" || path.empty()) {
    *route = "/";
    if (method != "GET") return MethodNotAllowed(request, "GET");
    HttpResponse page;
    page.content_type = "text/html; charset=utf-8";
    page.body =
        "<!doctype html>\n<html><head><meta charset=\"utf-8\">"
        "<title>Sluice controller</title></head><body>\n"
        "<h1>Sluice controller</h1>\n"
        "<p>The web dashboard is not built yet; it comes in a later "
        "release. Meanwhile use the REST API:</p>\n"
        "<ul><li><a href=\"/api/v1/rules\">/api/v1/rules</a> (needs "
        "<code>Authorization: Bearer &lt;token&gt;</code>)</li>\n"
        "<li><a href=\"/healthz\">/healthz</a> and "
        "<a href=\"/readyz\">/readyz</a></li></ul>\n"
        "</body></html>\n";
    return page;
  }
  if (path == "/healthz") {
    *route = "/healthz";
    if (method != "GET") return MethodNotAllowed(request, "GET");
    return Json(200, json{{"status", "ok"}});
  }
  if (path == "/readyz") {
    *route = "/readyz";
    if (method != "GET") return MethodNotAllowed(request, "GET");
    return Readiness();
  }
  if (path != kApiPrefix && !StartsWith(path, std::string(kApiPrefix) + "/")) {
    return NotFound(request.path);
  }

  // Everything under /api/v1 needs a token, unknown routes included (they
  // reveal nothing to a caller without one).
  if (!serving_.load()) {
    return Error(503, "unavailable",
                 "the controller is starting (applying migrations and loading "
                 "rules from PostgreSQL); see /readyz and retry shortly");
  }
  StatusOr<Principal> principal =
      deps_.auth->Authenticate(request.authorization);
  if (!principal.ok()) {
    HttpResponse response =
        Error(401, "unauthorized", principal.status().message());
    response.headers.emplace_back("WWW-Authenticate",
                                  "Bearer realm=\"sluice\"");
    return response;
  }

  if (path == kRulesPath) {
    *route = std::string(kRulesPath);
    if (method == "GET") return ListRules();
    if (method == "POST") return CreateRule(request);
    return MethodNotAllowed(request, "GET, POST");
  }
  if (StartsWith(path, std::string(kRulesPath) + "/")) {
    std::string_view rest = path.substr(kRulesPath.size() + 1);
    if (rest.find('/') != std::string_view::npos) {
      return NotFound(request.path);
    }
    *route = std::string(kRulesPath) + "/{id}";
    int64_t id = ParseId(rest);
    if (id <= 0) {
      return Error(404, "not_found",
                   "'" + std::string(rest) +
                       "' is not a rule id; ids are positive integers, as "
                       "returned by POST /api/v1/rules");
    }
    if (method == "GET") return GetRule(id);
    if (method == "PUT") return UpdateRule(id, request);
    if (method == "DELETE") return DeleteRule(id);
    return MethodNotAllowed(request, "GET, PUT, DELETE");
  }
  return NotFound(request.path);
}

HttpResponse AdminApi::Readiness() {
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
  return Json(ready ? 200 : 503, json{{"status", ready ? "ready" : "not ready"},
                                      {"checks", report}});
}

HttpResponse AdminApi::ListRules() {
  StatusOr<RuleStore::Listing> listing = deps_.store->List();
  if (!listing.ok()) return FromStatus(listing.status());
  json rules = json::array();
  for (const Rule& rule : listing->rules) rules.push_back(RuleToJson(rule));
  return Json(200, json{{"revision", listing->revision}, {"rules", rules}});
}

HttpResponse AdminApi::CreateRule(const HttpRequest& request) {
  Rule rule;
  HttpResponse error;
  if (!ParseRuleBody(request, &rule, &error)) return error;
  // The server assigns id and version; values sent are ignored.
  rule.id = 0;
  rule.version = 0;
  std::lock_guard<std::mutex> lock(write_mu_);
  StatusOr<RuleStore::Change> change = deps_.store->Create(rule);
  if (!change.ok()) return FromStatus(change.status());
  deps_.catalog->Upserted(change->revision, change->rule);
  HttpResponse response = Json(201, RuleToJson(change->rule));
  response.headers.emplace_back(
      "Location",
      std::string(kRulesPath) + "/" + std::to_string(change->rule.id));
  return response;
}

HttpResponse AdminApi::GetRule(int64_t id) {
  StatusOr<Rule> rule = deps_.store->Get(id);
  if (!rule.ok()) return FromStatus(rule.status());
  return Json(200, RuleToJson(*rule));
}

HttpResponse AdminApi::UpdateRule(int64_t id, const HttpRequest& request) {
  Rule rule;
  HttpResponse error;
  if (!ParseRuleBody(request, &rule, &error)) return error;
  if (rule.id != 0 && rule.id != id) {
    return Error(422, "invalid_argument",
                 "the body's id " + std::to_string(rule.id) +
                     " is not the id in the path (" + std::to_string(id) +
                     "); leave id out or make them equal",
                 "id");
  }
  std::lock_guard<std::mutex> lock(write_mu_);
  StatusOr<RuleStore::Change> change = deps_.store->Update(id, rule);
  if (!change.ok()) return FromStatus(change.status());
  deps_.catalog->Upserted(change->revision, change->rule);
  return Json(200, RuleToJson(change->rule));
}

HttpResponse AdminApi::DeleteRule(int64_t id) {
  std::lock_guard<std::mutex> lock(write_mu_);
  StatusOr<int64_t> revision = deps_.store->Delete(id);
  if (!revision.ok()) return FromStatus(revision.status());
  deps_.catalog->Removed(*revision, id);
  HttpResponse response;
  response.status = 204;
  response.content_type.clear();
  return response;
}

}  // namespace sluice
