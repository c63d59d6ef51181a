// AdminApi: /api/v1/rules, /api/v1/rules/{id} and its history.
//
//   rule      {"id", "version", "name", "domain", "match", "limit",
//              "period", "burst", "mode", "failure_mode", "enabled"}
//             (common/rule_json.h); ETag: "<version>"
//   list      {"revision": N, "rules": [rule, ...]} by id
//   history   {"rule_id": N, "versions": [{"version", "action", "at",
//              "actor", "rule"}, ...]} oldest first; action is create,
//              update, delete or baseline (a rule older than history)
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>

#include "common/rule_json.h"
#include "controller/api/admin_api.h"
#include "controller/api/api_support.h"
#include "controller/api/if_match.h"

namespace sluice {
namespace {

using nlohmann::json;

const std::string kRuleExample =
    "a rule object such as {\"name\": \"search\", \"domain\": \"api\", "
    "\"limit\": 100, \"period\": \"1s\"}";

// Parses a request body into a Rule. Sets *error and returns false on
// failure (400 for bad JSON, 422 for an invalid rule).
bool ParseRuleBody(const HttpRequest& request, Rule* rule,
                   HttpResponse* error) {
  json body;
  if (!api::ParseJsonBody(request, kRuleExample, &body, error)) return false;
  if (!body.is_object()) {
    *error = AdminApi::Error(422, "invalid_argument",
                             std::string("the body is a JSON ") +
                                 body.type_name() + "; send " + kRuleExample);
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

HttpResponse WithRule(int status, const Rule& rule) {
  HttpResponse response = api::Json(status, RuleToJson(rule));
  response.headers.emplace_back("ETag", IfMatch::ETag(rule.version));
  return response;
}

Actor ActorOf(const Principal& principal) {
  return Actor{principal.id, principal.name};
}

}  // namespace

StatusOr<RuleStore::Listing> AdminApi::ListRulesOrMemory(bool* from_memory) {
  StatusOr<RuleStore::Listing> listing = deps_.store->List();
  *from_memory = false;
  if (!listing.ok() && listing.status().code() == Status::Code::kUnavailable &&
      deps_.memory != nullptr) {
    RuleCatalog::Snapshot snapshot = deps_.memory->Get();
    listing = RuleStore::Listing{snapshot.version, std::move(snapshot.rules)};
    *from_memory = true;
  }
  return listing;
}

HttpResponse AdminApi::ListRules(const Call&) {
  bool from_memory = false;
  StatusOr<RuleStore::Listing> listing = ListRulesOrMemory(&from_memory);
  if (!listing.ok()) return FromStatus(listing.status());
  json rules = json::array();
  for (const Rule& rule : listing->rules) rules.push_back(RuleToJson(rule));
  HttpResponse response =
      api::Json(200, json{{"revision", listing->revision}, {"rules", rules}});
  if (from_memory) response.headers.emplace_back("X-Sluice-Source", "memory");
  return response;
}

HttpResponse AdminApi::CreateRule(const Call& call) {
  Rule rule;
  HttpResponse error;
  if (!ParseRuleBody(call.request, &rule, &error)) return error;
  // The server assigns id and version; values sent are ignored.
  rule.id = 0;
  rule.version = 0;
  MutexLock lock(&write_mu_);
  StatusOr<RuleStore::Change> change =
      deps_.store->Create(rule, ActorOf(call.principal));
  if (!change.ok()) return FromStatus(change.status());
  deps_.catalog->Upserted(change->revision, change->rule);
  HttpResponse response = WithRule(201, change->rule);
  response.headers.emplace_back(
      "Location", "/api/v1/rules/" + std::to_string(change->rule.id));
  return response;
}

HttpResponse AdminApi::GetRule(const Call& call) {
  StatusOr<Rule> rule = deps_.store->Get(call.id);
  if (!rule.ok() && rule.status().code() == Status::Code::kUnavailable &&
      deps_.memory != nullptr) {
    const RuleCatalog::Snapshot snapshot = deps_.memory->Get();
    for (const Rule& held : snapshot.rules) {
      if (held.id != call.id) continue;
      HttpResponse response = WithRule(200, held);
      response.headers.emplace_back("X-Sluice-Source", "memory");
      return response;
    }
  }
  if (!rule.ok()) return FromStatus(rule.status());
  return WithRule(200, *rule);
}

HttpResponse AdminApi::UpdateRule(const Call& call) {
  StatusOr<VersionCondition> if_match = IfMatch::Parse(call.request.if_match);
  if (!if_match.ok()) return api::BadHeader(if_match.status());
  Rule rule;
  HttpResponse error;
  if (!ParseRuleBody(call.request, &rule, &error)) return error;
  if (rule.id != 0 && rule.id != call.id) {
    return Error(422, "invalid_argument",
                 "the body's id " + std::to_string(rule.id) +
                     " is not the id in the path (" + std::to_string(call.id) +
                     "); leave id out or make them equal",
                 "id");
  }
  MutexLock lock(&write_mu_);
  StatusOr<RuleStore::Change> change =
      deps_.store->Update(call.id, rule, ActorOf(call.principal), *if_match);
  if (!change.ok()) return FromStatus(change.status());
  deps_.catalog->Upserted(change->revision, change->rule);
  return WithRule(200, change->rule);
}

HttpResponse AdminApi::DeleteRule(const Call& call) {
  StatusOr<VersionCondition> if_match = IfMatch::Parse(call.request.if_match);
  if (!if_match.ok()) return api::BadHeader(if_match.status());
  MutexLock lock(&write_mu_);
  StatusOr<int64_t> revision =
      deps_.store->Delete(call.id, ActorOf(call.principal), *if_match);
  if (!revision.ok()) return FromStatus(revision.status());
  deps_.catalog->Removed(*revision, call.id);
  HttpResponse response;
  response.status = 204;
  response.content_type.clear();
  return response;
}

HttpResponse AdminApi::RuleHistory(const Call& call) {
  StatusOr<std::vector<RuleStore::Version>> history =
      deps_.store->History(call.id);
  if (!history.ok()) return FromStatus(history.status());
  json versions = json::array();
  for (const RuleStore::Version& version : *history) {
    versions.push_back(json{{"version", version.version},
                            {"action", version.action},
                            {"at", version.at},
                            {"actor", version.actor},
                            {"rule", RuleToJson(version.rule)}});
  }
  return api::Json(200, json{{"rule_id", call.id}, {"versions", versions}});
}

}  // namespace sluice
