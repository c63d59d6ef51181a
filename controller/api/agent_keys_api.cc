#include "controller/api/agent_keys_api.h"

#include <nlohmann/json.hpp>
#include <string>

#include "controller/api/api_support.h"
#include "platform/log.h"

namespace sluice {
namespace {

using nlohmann::json;

const std::string kExample =
    "{\"name\": \"web-7\", \"public_key\": \"<the public= line of the "
    "agent's key file: 40 Z85 characters>\"}";

// Reads {"name", "public_key"}; sets *error (422 naming the field).
bool ParseBody(const json& body, std::string* name, std::string* public_key,
               HttpResponse* error) {
  if (!body.is_object()) {
    *error = AdminApi::Error(422, "invalid_argument",
                             std::string("the body is a JSON ") +
                                 body.type_name() + "; send " + kExample);
    return false;
  }
  for (auto it = body.begin(); it != body.end(); ++it) {
    if (it.key() != "name" && it.key() != "public_key") {
      *error = AdminApi::Error(
          422, "invalid_argument",
          "unknown field '" + it.key() + "'; send " + kExample, it.key());
      return false;
    }
  }
  for (const char* field : {"name", "public_key"}) {
    auto it = body.find(field);
    if (it == body.end() || !it->is_string()) {
      *error = AdminApi::Error(
          422, "invalid_argument",
          std::string(field) + " is required, a string; send " + kExample,
          field);
      return false;
    }
  }
  *name = body.at("name").get<std::string>();
  *public_key = body.at("public_key").get<std::string>();
  Status valid = ValidateAgentKeyName(*name);
  if (valid.ok()) valid = ValidateAgentPublicKey(*public_key);
  if (!valid.ok()) {
    *error = AdminApi::FromStatus(valid);
    return false;
  }
  return true;
}

}  // namespace

HttpResponse AgentKeysApi::List(const HttpRequest&) {
  StatusOr<std::vector<AgentKey>> keys = store_->List();
  if (!keys.ok()) return AdminApi::FromStatus(keys.status());
  json list = json::array();
  for (const AgentKey& key : *keys) list.push_back(AgentKeyToJson(key));
  return api::Json(200, json{{"agent_keys", list}});
}

HttpResponse AgentKeysApi::Create(const HttpRequest& request,
                                  const Actor& actor) {
  json body;
  HttpResponse error;
  if (!api::ParseJsonBody(request, kExample, &body, &error)) return error;
  std::string name;
  std::string public_key;
  if (!ParseBody(body, &name, &public_key, &error)) return error;
  MutexLock lock(&write_mu_);
  StatusOr<AgentKey> added = store_->Add(name, public_key, actor);
  if (!added.ok()) return AdminApi::FromStatus(added.status());
  allowed_->Allow(AllowedAgentKey{added->id, added->name, added->public_key});
  LogInfo("api", "agent key " + std::to_string(added->id) + " ('" +
                     added->name + "', " + added->public_key + ") allowed by " +
                     actor.name);
  HttpResponse response = api::Json(201, AgentKeyToJson(*added));
  response.headers.emplace_back(
      "Location", "/api/v1/agent-keys/" + std::to_string(added->id));
  return response;
}

HttpResponse AgentKeysApi::Revoke(int64_t id, const Actor& actor) {
  MutexLock lock(&write_mu_);
  StatusOr<AgentKey> revoked = store_->Revoke(id, actor);
  if (!revoked.ok()) return AdminApi::FromStatus(revoked.status());
  allowed_->Revoke(id);
  LogInfo("api", "agent key " + std::to_string(id) + " ('" + revoked->name +
                     "', " + revoked->public_key + ") revoked by " +
                     actor.name + "; agents using it are cut off");
  HttpResponse response;
  response.status = 204;
  response.content_type.clear();
  return response;
}

}  // namespace sluice
