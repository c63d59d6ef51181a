// AdminApi: POST /api/v1/explain (viewer): which rules apply to a check,
// answered from the rule set agents are served (the catalog in memory),
// with the same matching as RL.CHECK (common/rule_index.h). Changes
// nothing.
//
//   body  {"domain": "api", "descriptor": {"route": "/search",
//          "client_id": "42"}}
//   200   {"revision": N, "rules": [{"rule": rule, "bucket": {"client_id":
//          "42"}}, ...], "most_restrictive": <rule id> | null}
//
// `bucket` holds the descriptor's values for the rule's wildcard keys (the
// bucket the check would use). `most_restrictive` is the enforce rule whose
// full bucket holds the fewest tokens (burst, then the lower rate, then
// match order): the rule RL.CHECK would report for a first check; null
// when only shadow rules (or none) apply.
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "common/descriptor.h"
#include "common/rule_index.h"
#include "common/rule_json.h"
#include "controller/api/admin_api.h"
#include "controller/api/api_support.h"

namespace sluice {
namespace {

using nlohmann::json;

const std::string kExplainExample =
    "{\"domain\": \"api\", \"descriptor\": {\"route\": \"/search\", "
    "\"client_id\": \"42\"}}";

// The domain and key/value pairs of the body; sets *error (422 naming the
// field) when it is not of that shape.
bool ParseExplainBody(const json& body, std::string* domain,
                      std::vector<std::pair<std::string, std::string>>* pairs,
                      HttpResponse* error) {
  auto bad = [&](const std::string& what, const std::string& field) {
    *error = AdminApi::Error(422, "invalid_argument",
                             what + "; send " + kExplainExample, field);
    return false;
  };
  if (!body.is_object()) return bad("the body is not a JSON object", "");
  for (auto it = body.begin(); it != body.end(); ++it) {
    if (it.key() != "domain" && it.key() != "descriptor") {
      return bad("unknown field '" + it.key() + "'", it.key());
    }
  }
  auto d = body.find("domain");
  if (d == body.end() || !d->is_string() || d->get<std::string>().empty()) {
    return bad("domain is required, a non-empty string", "domain");
  }
  *domain = d->get<std::string>();
  auto desc = body.find("descriptor");
  if (desc == body.end() || !desc->is_object()) {
    return bad("descriptor is required, an object of key: value strings",
               "descriptor");
  }
  for (auto it = desc->begin(); it != desc->end(); ++it) {
    if (!it->is_string()) {
      return bad("descriptor." + it.key() + " is not a string",
                 "descriptor." + it.key());
    }
    pairs->emplace_back(it.key(), it->get<std::string>());
  }
  return true;
}

// Whether `a` is more restrictive than `b` for a first check.
bool MoreRestrictive(const Rule& a, const Rule& b) {
  if (a.burst != b.burst) return a.burst < b.burst;
  return a.RatePerNano() < b.RatePerNano();
}

}  // namespace

HttpResponse AdminApi::Explain(const Call& call) {
  json body;
  HttpResponse error;
  if (!api::ParseJsonBody(call.request, kExplainExample, &body, &error)) {
    return error;
  }
  std::string domain;
  std::vector<std::pair<std::string, std::string>> pairs;
  if (!ParseExplainBody(body, &domain, &pairs, &error)) return error;
  if (deps_.memory == nullptr) {
    return Error(503, "unavailable", "the rule set is not loaded yet; retry");
  }
  RuleCatalog::Snapshot snapshot = deps_.memory->Get();
  std::shared_ptr<const RuleIndex> index =
      RuleIndex::Build(std::move(snapshot.rules), snapshot.version);
  Descriptor descriptor;
  for (const auto& [key, value] : pairs) descriptor.emplace_back(key, value);
  std::vector<const Rule*> matched;
  index->Match(domain, descriptor, &matched);
  json rules = json::array();
  const Rule* strictest = nullptr;
  for (const Rule* rule : matched) {
    json bucket = json::object();
    for (const auto& [key, value] : rule->match) {
      if (value != kWildcard) continue;
      const std::string_view* got = FindDescriptorValue(descriptor, key);
      if (got != nullptr) bucket[key] = std::string(*got);
    }
    rules.push_back(json{{"rule", RuleToJson(*rule)}, {"bucket", bucket}});
    if (rule->mode == RuleMode::kEnforce &&
        (strictest == nullptr || MoreRestrictive(*rule, *strictest))) {
      strictest = rule;
    }
  }
  return api::Json(
      200, json{{"revision", snapshot.version},
                {"rules", rules},
                {"most_restrictive",
                 strictest == nullptr ? json(nullptr) : json(strictest->id)}});
}

}  // namespace sluice
