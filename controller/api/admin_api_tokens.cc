// AdminApi: /api/v1/tokens (admin only).
//
//   token   {"id", "name", "role", "created_at", "created_by",
//            "revoked_at" (null while valid)}; never the secret or its hash
//   GET     {"tokens": [token, ...]} by id, revoked ones included
//   POST    body {"name": "ci-deploy", "role": "admin|editor|viewer"}
//           201 token + {"token": "<secret>"}: the only time the secret is
//           shown; Location: /api/v1/tokens/{id}
//   DELETE  /api/v1/tokens/{id}: 204; the token stops working at once
//           (409 for the last valid admin token)
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>

#include "controller/api/admin_api.h"
#include "controller/api/api_support.h"
#include "platform/log.h"

namespace sluice {
namespace {

using nlohmann::json;

const std::string kTokenExample =
    "{\"name\": \"ci-deploy\", \"role\": \"editor\"} (role is admin, editor "
    "or viewer)";

// Reads {"name", "role"}; sets *error (422 naming the field) on failure.
bool ParseTokenBody(const json& body, std::string* name, Role* role,
                    HttpResponse* error) {
  if (!body.is_object()) {
    *error = AdminApi::Error(422, "invalid_argument",
                             std::string("the body is a JSON ") +
                                 body.type_name() + "; send " + kTokenExample);
    return false;
  }
  for (auto it = body.begin(); it != body.end(); ++it) {
    if (it.key() != "name" && it.key() != "role") {
      *error = AdminApi::Error(
          422, "invalid_argument",
          "unknown field '" + it.key() + "'; send " + kTokenExample, it.key());
      return false;
    }
  }
  auto name_it = body.find("name");
  if (name_it == body.end() || !name_it->is_string()) {
    *error = AdminApi::Error(
        422, "invalid_argument",
        "name is required, a string; send " + kTokenExample, "name");
    return false;
  }
  *name = name_it->get<std::string>();
  Status valid = ValidateTokenName(*name);
  if (!valid.ok()) {
    *error = AdminApi::FromStatus(valid);
    return false;
  }
  auto role_it = body.find("role");
  if (role_it == body.end() || !role_it->is_string() ||
      !ParseRole(role_it->get<std::string>(), role)) {
    *error = AdminApi::Error(
        422, "invalid_argument",
        "role is required: \"admin\", \"editor\" or \"viewer\"", "role");
    return false;
  }
  return true;
}

}  // namespace

HttpResponse AdminApi::ListTokens(const Call&) {
  StatusOr<std::vector<TokenInfo>> tokens = deps_.tokens->List();
  if (!tokens.ok()) return FromStatus(tokens.status());
  json list = json::array();
  for (const TokenInfo& token : *tokens) list.push_back(TokenToJson(token));
  return api::Json(200, json{{"tokens", list}});
}

HttpResponse AdminApi::CreateToken(const Call& call) {
  json body;
  HttpResponse error;
  if (!api::ParseJsonBody(call.request, kTokenExample, &body, &error)) {
    return error;
  }
  std::string name;
  Role role = Role::kViewer;
  if (!ParseTokenBody(body, &name, &role, &error)) return error;
  MutexLock lock(&write_mu_);
  StatusOr<TokenStore::Created> created = deps_.tokens->Create(
      name, role, Actor{call.principal.id, call.principal.name});
  if (!created.ok()) return FromStatus(created.status());
  Status reloaded = deps_.auth->Reload();
  if (!reloaded.ok()) {
    LogWarn("api", "token '" + name +
                       "' was created but the token list could not be "
                       "reloaded (" +
                       reloaded.message() +
                       "); it works once PostgreSQL answers again");
  }
  json reply = TokenToJson(created->info);
  reply["token"] = created->secret;
  HttpResponse response = api::Json(201, reply);
  response.headers.emplace_back(
      "Location", "/api/v1/tokens/" + std::to_string(created->info.id));
  response.headers.emplace_back("Cache-Control", "no-store");
  return response;
}

HttpResponse AdminApi::RevokeToken(const Call& call) {
  MutexLock lock(&write_mu_);
  StatusOr<TokenInfo> revoked = deps_.tokens->Revoke(
      call.id, Actor{call.principal.id, call.principal.name});
  if (!revoked.ok()) return FromStatus(revoked.status());
  // At once, whether or not the reload below reaches the database.
  deps_.auth->Forget(call.id);
  Status reloaded = deps_.auth->Reload();
  if (!reloaded.ok()) {
    LogWarn("api", "token " + std::to_string(call.id) +
                       " is revoked; reloading the token list failed (" +
                       reloaded.message() + ") and is retried in background");
  }
  HttpResponse response;
  response.status = 204;
  response.content_type.clear();
  return response;
}

}  // namespace sluice
