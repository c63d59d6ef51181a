// AdminApi: /api/v1/session, the dashboard's sign-in (docs/dashboard.md),
// and how a request is authenticated by bearer token or session cookie.
//
//   POST    body {"token": "<API token>"}: 204 and
//           Set-Cookie: sluice_session=<id>; Path=/; HttpOnly;
//           SameSite=Strict; Max-Age=<lifetime>[; Secure over HTTPS]
//           (401 for an unknown or revoked token, 422 for a bad body)
//   GET     {"name": <token name>, "role": "viewer|editor|admin"}
//   DELETE  204; the session ends and the cookie is cleared
#include <nlohmann/json.hpp>
#include <string>

#include "controller/api/admin_api.h"
#include "controller/api/api_support.h"

namespace sluice {
namespace {

using nlohmann::json;

const std::string kSessionExample = "{\"token\": \"<an API token>\"}";

std::string Cookie(const std::string& value, int64_t max_age, bool secure) {
  std::string cookie =
      std::string(SessionStore::kCookieName) + "=" + value +
      "; Path=/; HttpOnly; SameSite=Strict; Max-Age=" + std::to_string(max_age);
  if (secure) cookie += "; Secure";
  return cookie;
}

HttpResponse NoContent() {
  HttpResponse response;
  response.status = 204;
  response.headers.emplace_back("Cache-Control", "no-store");
  return response;
}

HttpResponse NoSessions() {
  return AdminApi::Error(404, "not_found",
                         "this controller serves no dashboard sessions; use "
                         "'Authorization: Bearer <token>'");
}

}  // namespace

StatusOr<Principal> AdminApi::Authenticate(const HttpRequest& request,
                                           bool* by_cookie) {
  *by_cookie = false;
  const std::string session = SessionStore::FromCookieHeader(request.cookie);
  if (!request.authorization.empty() || session.empty() ||
      deps_.sessions == nullptr) {
    return deps_.auth->Authenticate(request.authorization);
  }
  *by_cookie = true;
  std::optional<int64_t> token_id = deps_.sessions->Find(session);
  if (!token_id.has_value()) {
    return Status::InvalidArgument(
        "the dashboard session has ended (signed out, expired, or its "
        "token revoked); sign in again with an API token");
  }
  StatusOr<Principal> principal = deps_.auth->Lookup(*token_id);
  if (!principal.ok()) deps_.sessions->EndAllOf(*token_id);
  return principal;
}

std::optional<HttpResponse> AdminApi::CheckCsrf(
    const HttpRequest& request) const {
  if (request.csrf != "1") {
    return Error(403, "csrf",
                 "a request that changes something with a dashboard session "
                 "must send the header 'X-Sluice-CSRF: 1' (the dashboard "
                 "does; a page on another site cannot)",
                 "X-Sluice-CSRF");
  }
  if (!request.origin.empty()) {
    const std::string own =
        std::string(deps_.https ? "https://" : "http://") + request.host;
    if (request.origin != own) {
      return Error(403, "csrf",
                   "the request comes from the page of another origin (" +
                       request.origin + "); only " + own +
                       " may change things with a dashboard session",
                   "Origin");
    }
  }
  return std::nullopt;
}

HttpResponse AdminApi::CreateSession(const Call& call) {
  if (deps_.sessions == nullptr) return NoSessions();
  json body;
  HttpResponse error;
  if (!api::ParseJsonBody(call.request, kSessionExample, &body, &error)) {
    return error;
  }
  if (!body.is_object() || !body.contains("token") ||
      !body["token"].is_string() || body.size() != 1) {
    return Error(422, "invalid_argument",
                 "the body must be exactly " + kSessionExample, "token");
  }
  StatusOr<Principal> principal =
      deps_.auth->Authenticate("Bearer " + body["token"].get<std::string>());
  if (!principal.ok()) {
    return Error(401, "unauthorized",
                 "unknown or revoked API token; paste a valid token (the "
                 "first admin token is printed once at the controller's "
                 "first start, or set with SLUICE_ADMIN_TOKEN)",
                 "token");
  }
  StatusOr<std::string> session = deps_.sessions->Create(principal.value().id);
  if (!session.ok()) return FromStatus(session.status());
  HttpResponse response = NoContent();
  response.headers.emplace_back(
      "Set-Cookie",
      Cookie(session.value(), deps_.sessions->lifetime_seconds(), deps_.https));
  return response;
}

HttpResponse AdminApi::GetSession(const Call& call) {
  if (deps_.sessions == nullptr) return NoSessions();
  HttpResponse response = api::Json(
      200, json{{"name", call.principal.name},
                {"role", std::string(RoleName(call.principal.role))}});
  response.headers.emplace_back("Cache-Control", "no-store");
  return response;
}

HttpResponse AdminApi::EndSession(const Call& call) {
  if (deps_.sessions == nullptr) return NoSessions();
  const std::string session =
      SessionStore::FromCookieHeader(call.request.cookie);
  if (!session.empty()) deps_.sessions->End(session);
  HttpResponse response = NoContent();
  response.headers.emplace_back("Set-Cookie", Cookie("", 0, deps_.https));
  return response;
}

}  // namespace sluice
