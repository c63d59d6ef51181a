// AdminApi: /api/v1/config, the whole rule set as one document
// (controller/api/config_document.h), in JSON or YAML
// (controller/api/config_yaml.h).
//
//   GET   {"rules": [rule without id and version, ...]} by name;
//         ETag: "<revision>". YAML when Accept prefers it.
//   PUT   body: the same document, YAML when Content-Type says so (a
//         malformed one is 400 invalid_yaml with "line" and "column").
//         ?dry_run=true changes nothing. If-Match
//         "<revision>" makes it conditional on the rule set not having
//         changed. 200 {"dry_run", "revision", "created", "updated",
//         "deleted", "unchanged"} (rule names, sorted); ETag: "<revision>".
//         An invalid document is 422 and changes nothing; the error lists
//         every problem: {"error": {"code": "invalid_argument", "message",
//         "field" (the first), "errors": [{"field": "rules[3].limit",
//         "message"}, ...]}}.
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "controller/api/admin_api.h"
#include "controller/api/api_support.h"
#include "controller/api/config_document.h"
#include "controller/api/config_yaml.h"
#include "controller/api/if_match.h"

namespace sluice {
namespace {

using nlohmann::json;

const std::string kConfigExample =
    "a config document such as {\"rules\": [{\"name\": \"search\", "
    "\"domain\": \"api\", \"limit\": 100, \"period\": \"1s\"}]}";

HttpResponse Invalid(const std::vector<ConfigProblem>& problems) {
  json errors = json::array();
  for (const ConfigProblem& problem : problems) {
    errors.push_back(
        json{{"field", problem.field}, {"message", problem.message}});
  }
  const ConfigProblem& first = problems.front();
  std::string message =
      "the config has " + std::to_string(problems.size()) +
      (problems.size() == 1 ? " problem" : " problems") +
      " (all listed in errors) and nothing was changed; the first: " +
      (first.field.empty() ? "" : first.field + ": ") + first.message;
  return api::Json(422, json{{"error",
                              {{"code", "invalid_argument"},
                               {"message", message},
                               {"field", first.field},
                               {"errors", errors}}}});
}

const std::string kYamlExample =
    "a config document such as\nrules:\n  - name: search\n    domain: api\n"
    "    limit: 100\n    period: 1s\n";

// Reads a YAML body into *out, or sets *error (413, or 400 invalid_yaml
// with the line and column of the problem) and returns false.
bool ParseYamlBody(const HttpRequest& request, json* out, HttpResponse* error) {
  if (request.body.size() > AdminApi::kMaxBodyBytes) {
    *error = AdminApi::Error(413, "body_too_large",
                             "the request body is over the limit of " +
                                 std::to_string(AdminApi::kMaxBodyBytes) +
                                 " bytes (1 MiB); send a smaller document");
    return false;
  }
  YamlProblem problem;
  if (ParseConfigYaml(request.body, out, &problem)) return true;
  std::string where = "line " + std::to_string(problem.line) + ", column " +
                      std::to_string(problem.column);
  *error = api::Json(
      400, json{{"error",
                 {{"code", "invalid_yaml"},
                  {"message", "the body is not valid YAML: " + where + ": " +
                                  problem.message + "; send " + kYamlExample},
                  {"field", ""},
                  {"line", problem.line},
                  {"column", problem.column}}}});
  return false;
}

json Names(const std::vector<std::string>& names) {
  json list = json::array();
  for (const std::string& name : names) list.push_back(name);
  return list;
}

}  // namespace

HttpResponse AdminApi::GetConfig(const Call& call) {
  bool from_memory = false;
  StatusOr<RuleStore::Listing> listing = ListRulesOrMemory(&from_memory);
  if (!listing.ok()) return FromStatus(listing.status());
  json doc = ConfigDocumentJson(std::move(listing->rules));
  HttpResponse response;
  if (AcceptsYamlFirst(call.request.accept)) {
    response.content_type = "application/yaml";
    response.body = ConfigYaml(doc);
  } else {
    response = api::Json(200, doc);
  }
  response.headers.emplace_back("Vary", "Accept");
  response.headers.emplace_back("ETag", IfMatch::ETag(listing->revision));
  if (from_memory) response.headers.emplace_back("X-Sluice-Source", "memory");
  return response;
}

HttpResponse AdminApi::PutConfig(const Call& call) {
  StatusOr<std::map<std::string, std::string>> query =
      api::ParseQuery(call.request.query, {"dry_run"});
  if (!query.ok()) return api::BadQuery(query.status());
  bool dry_run = false;
  if (auto it = query->find("dry_run"); it != query->end()) {
    if (it->second == "true" || it->second == "1" || it->second.empty()) {
      dry_run = true;
    } else if (it->second != "false" && it->second != "0") {
      return api::BadQuery(Status::InvalidArgument(
          "dry_run must be true or false, got '" + it->second + "'",
          "dry_run"));
    }
  }
  StatusOr<VersionCondition> if_match = IfMatch::Parse(call.request.if_match);
  if (!if_match.ok()) return api::BadHeader(if_match.status());
  json body;
  HttpResponse error;
  bool parsed =
      IsYamlContentType(call.request.content_type)
          ? ParseYamlBody(call.request, &body, &error)
          : api::ParseJsonBody(call.request, kConfigExample, &body, &error);
  if (!parsed) return error;
  std::vector<Rule> rules;
  std::vector<ConfigProblem> problems = ParseConfigDocument(body, &rules);
  if (!problems.empty()) return Invalid(problems);

  MutexLock lock(&write_mu_);
  StatusOr<ConfigStore::Result> result = deps_.config->Replace(
      rules, Actor{call.principal.id, call.principal.name}, dry_run, *if_match);
  if (!result.ok()) return FromStatus(result.status());
  if (result->committed) {
    deps_.catalog->Replaced(result->revision, std::move(result->rules));
  }
  HttpResponse response =
      api::Json(200, json{{"dry_run", dry_run},
                          {"revision", result->revision},
                          {"created", Names(result->diff.created)},
                          {"updated", Names(result->diff.updated)},
                          {"deleted", Names(result->diff.deleted)},
                          {"unchanged", Names(result->diff.unchanged)}});
  response.headers.emplace_back("ETag", IfMatch::ETag(result->revision));
  return response;
}

}  // namespace sluice
