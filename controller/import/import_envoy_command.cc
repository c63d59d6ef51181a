#include "controller/import/import_envoy_command.h"

#include <cpprest/http_client.h>

#include <cstdlib>
#include <nlohmann/json.hpp>
#include <set>

#include "common/envoy_import.h"
#include "controller/api/config_document.h"
#include "controller/import/yaml_json.h"

namespace sluice {
namespace {

using nlohmann::json;

const char kUsage[] =
    "usage: sluice-controller import-envoy [--api URL] [--token TOKEN] "
    "[--apply] FILE...\n"
    "  Converts envoyproxy/ratelimit YAML configuration into Sluice rules.\n"
    "  Without --api: prints the config document. With --api (or "
    "SLUICE_API):\n"
    "  prints the dry-run plan against the controller; --apply applies it.\n"
    "  --token (or SLUICE_TOKEN): an editor token.\n";

struct Args {
  std::string api;
  std::string token;
  bool apply = false;
  std::vector<std::string> files;
};

int ParseArgs(const std::vector<std::string>& argv, Args* args,
              std::ostream& err) {
  if (const char* api = std::getenv("SLUICE_API")) args->api = api;
  if (const char* token = std::getenv("SLUICE_TOKEN")) args->token = token;
  for (size_t i = 0; i < argv.size(); ++i) {
    const std::string& a = argv[i];
    if (a == "--apply") {
      args->apply = true;
    } else if (a == "--api" || a == "--token") {
      if (i + 1 >= argv.size()) {
        err << "import-envoy: " << a << " needs a value\n" << kUsage;
        return 2;
      }
      (a == "--api" ? args->api : args->token) = argv[++i];
    } else if (a == "-h" || a == "--help") {
      err << kUsage;
      return 2;
    } else if (!a.empty() && a[0] == '-') {
      err << "import-envoy: unknown flag " << a << "\n" << kUsage;
      return 2;
    } else {
      args->files.push_back(a);
    }
  }
  if (args->files.empty()) {
    err << "import-envoy: no FILE given\n" << kUsage;
    return 2;
  }
  if (args->apply && args->api.empty()) {
    err << "import-envoy: --apply needs --api URL (or SLUICE_API)\n";
    return 2;
  }
  return 0;
}

void PrintNotes(const EnvoyImport& import, std::ostream& os) {
  if (!import.notes.empty()) {
    os << "converted, but not exactly (" << import.notes.size() << "):\n";
    for (const auto& n : import.notes) {
      os << "  " << n.where << ": " << n.message << "\n";
    }
  }
  if (!import.skipped.empty()) {
    os << "not converted (" << import.skipped.size() << "):\n";
    for (const auto& n : import.skipped) {
      os << "  " << n.where << ": " << n.message << "\n";
    }
  }
  os << "matching differs: envoy matches a request descriptor of exactly "
        "the rule's entries, in order; a Sluice rule applies to every check "
        "that carries its keys (docs/integrations.md)\n";
}

struct Reply {
  int status = 0;
  json body;
  std::string etag;
  std::string error;  // transport failure
};

Reply Call(const Args& args, const std::string& method, const std::string& path,
           const std::string& if_match, const json* body) {
  Reply reply;
  try {
    web::http::client::http_client_config config;
    config.set_timeout(std::chrono::seconds(30));
    web::http::client::http_client client(args.api, config);
    web::http::http_request request(method);
    request.set_request_uri(path);
    if (!args.token.empty()) {
      request.headers().add("Authorization", "Bearer " + args.token);
    }
    if (!if_match.empty()) request.headers().add("If-Match", if_match);
    if (body != nullptr) request.set_body(body->dump(), "application/json");
    web::http::http_response response = client.request(request).get();
    reply.status = response.status_code();
    auto etag = response.headers().find("ETag");
    if (etag != response.headers().end()) reply.etag = etag->second;
    reply.body = json::parse(response.extract_utf8string(true).get(), nullptr,
                             /*allow_exceptions=*/false);
  } catch (const std::exception& e) {
    reply.error = e.what();
  }
  return reply;
}

// "HTTP 422: <message>" from the API's error shape.
std::string Failure(const std::string& what, const Reply& r) {
  if (!r.error.empty()) return what + ": " + r.error;
  std::string message = r.body.is_object() && r.body.contains("error")
                            ? r.body["error"].value("message", r.body.dump())
                            : r.body.dump();
  return what + ": HTTP " + std::to_string(r.status) + ": " + message;
}

std::string RuleName(const json& rule) { return rule.value("name", ""); }

void PrintPlan(const json& plan, const json& current, const json& desired,
               std::ostream& out) {
  auto by_name = [](const json& doc, const std::string& name) {
    for (const json& r : doc["rules"]) {
      if (RuleName(r) == name) return r;
    }
    return json();
  };
  for (const json& name : plan["created"]) {
    json rule = by_name(desired, name.get<std::string>());
    out << "  + " << name.get<std::string>() << "  " << rule.dump() << "\n";
  }
  for (const json& name : plan["updated"]) {
    json before = by_name(current, name.get<std::string>());
    json after = by_name(desired, name.get<std::string>());
    out << "  ~ " << name.get<std::string>() << ":";
    for (auto it = after.begin(); it != after.end(); ++it) {
      json old = before.contains(it.key()) ? before[it.key()] : json();
      if (old != it.value()) {
        out << " " << it.key() << " " << old.dump() << " -> "
            << it.value().dump() << ";";
      }
    }
    out << "\n";
  }
  for (const json& name : plan["deleted"]) {
    out << "  - " << name.get<std::string>() << "\n";
  }
  out << "  = " << plan["unchanged"].size() << " unchanged\n";
}

int WithApi(const Args& args, const EnvoyImport& import, std::ostream& out,
            std::ostream& err) {
  Reply current = Call(args, "GET", "/api/v1/config", "", nullptr);
  if (current.status != 200 || !current.body.contains("rules")) {
    err << "import-envoy: " << Failure("GET /api/v1/config", current) << "\n";
    return 1;
  }
  // The files are the truth for their domains; other domains are kept.
  json desired = {{"rules", json::array()}};
  for (const json& rule : current.body["rules"]) {
    if (import.domains.count(rule.value("domain", "")) == 0) {
      desired["rules"].push_back(rule);
    }
  }
  for (const json& rule : import.rules) desired["rules"].push_back(rule);
  Reply plan =
      Call(args, "PUT", "/api/v1/config?dry_run=true", current.etag, &desired);
  if (plan.status != 200) {
    err << "import-envoy: " << Failure("dry run", plan) << "\n";
    return 1;
  }
  out << "plan against revision " << plan.body.value("revision", 0)
      << " (rules of other domains than the files' are kept):\n";
  PrintPlan(plan.body, current.body, desired, out);
  if (!args.apply) {
    out << "nothing applied: run again with --apply to apply this plan\n";
    return 0;
  }
  Reply applied = Call(args, "PUT", "/api/v1/config", plan.etag, &desired);
  if (applied.status != 200) {
    err << "import-envoy: " << Failure("apply", applied) << "\n";
    return 1;
  }
  out << "applied: revision " << applied.body.value("revision", 0) << "\n";
  return 0;
}

}  // namespace

int ImportEnvoyCommand(const std::vector<std::string>& argv, std::ostream& out,
                       std::ostream& err) {
  Args args;
  if (int usage = ParseArgs(argv, &args, err); usage != 0) return usage;
  EnvoyImport import;
  for (const std::string& file : args.files) {
    StatusOr<json> config = LoadYamlFileAsJson(file);
    if (!config.ok()) {
      err << "import-envoy: " << config.status().message() << "\n";
      return 1;
    }
    ConvertEnvoyConfig(*config, file, &import);
  }
  if (!import.errors.empty()) {
    err << "import-envoy: not envoy ratelimit configuration, nothing done:\n";
    for (const auto& e : import.errors) {
      err << "  " << e.where << ": " << e.message << "\n";
    }
    return 1;
  }
  json document = EnvoyImportDocument(import);
  std::vector<Rule> rules;
  std::vector<ConfigProblem> problems = ParseConfigDocument(document, &rules);
  if (!problems.empty()) {
    err << "import-envoy: the converted document is not valid:\n";
    for (const auto& p : problems) {
      err << "  " << p.field << ": " << p.message << "\n";
    }
    return 1;
  }
  out << "envoy import: " << import.rules.size() << " rules from "
      << args.files.size() << " files\n";
  if (args.api.empty()) {
    PrintNotes(import, err);
    out << document.dump(2) << "\n";
    return 0;
  }
  PrintNotes(import, out);
  return WithApi(args, import, out, err);
}

}  // namespace sluice
