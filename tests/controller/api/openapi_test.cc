// docs/openapi.yaml, the REST API's specification, against the server:
//   - the routes it documents are exactly AdminApi::Routes(), no more, no
//     less;
//   - it is well formed: every $ref resolves, every error response is the
//     shared Error body, the API needs the bearer scheme and the health
//     routes none, and its examples match their schemas;
//   - a live controller (in-process, fresh database) answers every
//     documented route and method, sent with its documented example, with a
//     documented 2xx status, the documented headers and a body matching the
//     documented schema (and, where If-Match is documented, a stale one
//     with 412); without a token with a documented 401; to a viewer with 403
//     exactly where 403 is documented; with another method with 405 and an
//     Allow header naming the documented methods.
// So neither the route table nor the document can drift from what is served.
//
// The YAML is read with tests/controller/api/openapi_to_json.py
// (/usr/bin/python3 and PyYAML, Debian package python3-yaml) and checked with a
// small validator of the OpenAPI 3.0 schema subset the document uses.
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "controller/api/admin_api.h"
#include "controller/controller.h"
#include "tests/controller/http_test_client.h"
#include "tests/support/free_port.h"
#include "tests/support/test_database.h"

namespace sluice {
namespace {

using nlohmann::json;
using testing::HttpResult;
using testing::PickFreePort;

constexpr char kToken[] = "openapi-test-admin-token";
constexpr char kHttpMethods[][8] = {"get", "put", "post", "delete", "patch"};

std::string SpecPath() {
  return std::string(SLUICE_SOURCE_DIR) + "/docs/openapi.yaml";
}

// Runs `command` through the shell; its stdout, and its exit status in
// *status (-1 if it could not be started).
std::string RunCommand(const std::string& command, int* status) {
  std::string output;
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) {
    *status = -1;
    return output;
  }
  std::array<char, 4096> buffer;
  size_t n;
  while ((n = fread(buffer.data(), 1, buffer.size(), pipe)) > 0) {
    output.append(buffer.data(), n);
  }
  *status = pclose(pipe);
  return output;
}

// docs/openapi.yaml as JSON; null (after a test failure) when it cannot be
// read.
json LoadSpec() {
  const std::string source = SLUICE_SOURCE_DIR;
  if (source.find('\'') != std::string::npos) {
    ADD_FAILURE()
        << "the source directory " << source
        << " contains a quote; the test cannot quote it for the shell";
    return nullptr;
  }
  const std::string command = "/usr/bin/python3 '" + source +
                              "/tests/controller/api/openapi_to_json.py' '" +
                              SpecPath() + "' 2>&1";
  int status = 0;
  std::string output = RunCommand(command, &status);
  if (status != 0) {
    ADD_FAILURE()
        << "could not read " << SpecPath() << " as YAML (exit " << status
        << "): " << output
        << "\nIt must be valid YAML; the reader needs /usr/bin/python3 "
           "with PyYAML (apt-get install python3-yaml).";
    return nullptr;
  }
  json spec = json::parse(output, nullptr, false);
  if (spec.is_discarded() || !spec.is_object()) {
    ADD_FAILURE() << "openapi_to_json.py printed no JSON object: " << output;
    return nullptr;
  }
  return spec;
}

std::string Upper(std::string text) {
  for (char& c : text) c = static_cast<char>(std::toupper(c));
  return text;
}

// One documented operation.
struct Operation {
  std::string method;  // "GET"
  std::string path;    // "/api/v1/rules/{id}"
  json op;             // the operation object
  std::string Name() const { return method + " " + path; }
};

std::vector<Operation> Operations(const json& spec) {
  std::vector<Operation> ops;
  if (!spec.contains("paths") || !spec["paths"].is_object()) return ops;
  for (auto& [path, item] : spec["paths"].items()) {
    if (!item.is_object()) continue;
    for (const char* method : kHttpMethods) {
      if (item.contains(method))
        ops.push_back({Upper(method), path, item[method]});
    }
  }
  return ops;
}

// ---------------------------------------------------------------------------
// $ref and the schema validator.

// Follows a local "#/a/b" reference; nullptr when it does not resolve.
const json* Resolve(const json& spec, const std::string& ref) {
  if (ref.rfind("#/", 0) != 0) return nullptr;
  const json* node = &spec;
  std::stringstream parts(ref.substr(2));
  std::string part;
  while (std::getline(parts, part, '/')) {
    if (!node->is_object() || !node->contains(part)) return nullptr;
    node = &(*node)[part];
  }
  return node;
}

// `node` with $ref followed (repeatedly); null json when it does not resolve.
const json& Deref(const json& spec, const json& node) {
  static const json kNull = nullptr;
  const json* current = &node;
  for (int i = 0; i < 16 && current->is_object() && current->contains("$ref");
       ++i) {
    current = Resolve(spec, (*current)["$ref"].get<std::string>());
    if (current == nullptr) return kNull;
  }
  return *current;
}

bool HasType(const json& value, const std::string& type) {
  if (type == "object") return value.is_object();
  if (type == "array") return value.is_array();
  if (type == "string") return value.is_string();
  if (type == "integer") return value.is_number_integer();
  if (type == "number") return value.is_number();
  if (type == "boolean") return value.is_boolean();
  return false;
}

// Checks `value` against the OpenAPI 3.0 schema `schema` (the subset used
// in docs/openapi.yaml: $ref, allOf, type, nullable, enum, required,
// properties, additionalProperties, maxProperties, items, minimum, maximum,
// minLength, maxLength, pattern). Appends problems, each naming where.
void Validate(const json& spec, const json& schema_in, const json& value,
              const std::string& where, std::vector<std::string>* problems) {
  const json& schema = Deref(spec, schema_in);
  if (!schema.is_object()) {
    problems->push_back(where + ": the schema does not resolve");
    return;
  }
  if (value.is_null()) {
    if (schema.value("nullable", false)) return;
    if (!schema.contains("type") && !schema.contains("allOf")) return;
    problems->push_back(where + ": null, but the schema is not nullable");
    return;
  }
  if (schema.contains("allOf")) {
    for (const json& part : schema["allOf"]) {
      Validate(spec, part, value, where, problems);
    }
  }
  if (schema.contains("type")) {
    const std::string type = schema["type"].get<std::string>();
    if (!HasType(value, type)) {
      problems->push_back(where + ": expected " + type + ", got " +
                          value.dump());
      return;
    }
  }
  if (schema.contains("enum")) {
    const json& choices = schema["enum"];
    if (std::find(choices.begin(), choices.end(), value) == choices.end()) {
      problems->push_back(where + ": " + value.dump() + " is not one of " +
                          choices.dump());
    }
  }
  if (value.is_number()) {
    if (schema.contains("minimum") && value < schema["minimum"]) {
      problems->push_back(where + ": " + value.dump() + " is below minimum " +
                          schema["minimum"].dump());
    }
    if (schema.contains("maximum") && value > schema["maximum"]) {
      problems->push_back(where + ": " + value.dump() + " is above maximum " +
                          schema["maximum"].dump());
    }
  }
  if (value.is_string()) {
    const std::string& text = value.get_ref<const std::string&>();
    if (schema.contains("minLength") &&
        text.size() < schema["minLength"].get<size_t>()) {
      problems->push_back(where + ": shorter than minLength");
    }
    if (schema.contains("maxLength") &&
        text.size() > schema["maxLength"].get<size_t>()) {
      problems->push_back(where + ": longer than maxLength");
    }
    if (schema.contains("pattern") &&
        !std::regex_search(text,
                           std::regex(schema["pattern"].get<std::string>()))) {
      problems->push_back(where + ": " + value.dump() + " does not match " +
                          schema["pattern"].get<std::string>());
    }
  }
  if (value.is_object()) {
    if (schema.contains("maxProperties") &&
        value.size() > schema["maxProperties"].get<size_t>()) {
      problems->push_back(where + ": more than maxProperties members");
    }
    for (const json& name : schema.value("required", json::array())) {
      if (!value.contains(name.get<std::string>())) {
        problems->push_back(where + ": required member " + name.dump() +
                            " is missing");
      }
    }
    const json properties = schema.value("properties", json::object());
    for (auto& [key, member] : value.items()) {
      const std::string at = where + "." + key;
      if (properties.contains(key)) {
        Validate(spec, properties[key], member, at, problems);
      } else if (schema.contains("additionalProperties")) {
        const json& extra = schema["additionalProperties"];
        if (extra.is_boolean()) {
          if (!extra.get<bool>()) {
            problems->push_back(at +
                                ": not in the schema (additionalProperties "
                                "is false)");
          }
        } else {
          Validate(spec, extra, member, at, problems);
        }
      }
    }
  }
  if (value.is_array() && schema.contains("items")) {
    for (size_t i = 0; i < value.size(); ++i) {
      Validate(spec, schema["items"], value[i],
               where + "[" + std::to_string(i) + "]", problems);
    }
  }
}

std::string Join(const std::vector<std::string>& lines) {
  std::string out;
  for (const std::string& line : lines) out += "\n  " + line;
  return out;
}

// Every "$ref" string anywhere under `node`, with where it was found.
void CollectRefs(const json& node, const std::string& where,
                 std::vector<std::pair<std::string, std::string>>* refs) {
  if (node.is_object()) {
    for (auto& [key, child] : node.items()) {
      if (key == "$ref" && child.is_string()) {
        refs->emplace_back(where, child.get<std::string>());
      } else {
        CollectRefs(child, where + "/" + key, refs);
      }
    }
  } else if (node.is_array()) {
    for (size_t i = 0; i < node.size(); ++i) {
      CollectRefs(node[i], where + "/" + std::to_string(i), refs);
    }
  }
}

// Every member under `node` whose value is null, but for examples and
// defaults. In a YAML flow mapping, "{description: a, b}" silently makes a
// key "b" with a null value; this catches such slips.
void CollectNulls(const json& node, const std::string& where,
                  std::vector<std::string>* nulls) {
  if (node.is_object()) {
    for (auto& [key, child] : node.items()) {
      if (key == "example" || key == "default" || key == "value") continue;
      if (child.is_null()) nulls->push_back(where + "/" + key);
      CollectNulls(child, where + "/" + key, nulls);
    }
  } else if (node.is_array()) {
    for (size_t i = 0; i < node.size(); ++i) {
      CollectNulls(node[i], where + "/" + std::to_string(i), nulls);
    }
  }
}

// The documented response for `status` of an operation (refs followed), or
// null.
json DocumentedResponse(const json& spec, const Operation& operation,
                        int status) {
  const json responses = operation.op.value("responses", json::object());
  const std::string key = std::to_string(status);
  if (!responses.contains(key)) return nullptr;
  return Deref(spec, responses[key]);
}

// The JSON schema of a response or request body, or null when it has none.
json JsonSchemaOf(const json& spec, const json& with_content) {
  if (!with_content.is_object() || !with_content.contains("content")) {
    return nullptr;
  }
  const json& content = with_content["content"];
  if (!content.contains("application/json")) return nullptr;
  return Deref(spec, content["application/json"].value("schema", json()));
}

bool NeedsToken(const json& spec, const Operation& operation) {
  json security = operation.op.contains("security")
                      ? operation.op["security"]
                      : spec.value("security", json::array());
  return !security.empty();
}

// ---------------------------------------------------------------------------
// The document alone.

class OpenApiSpecTest : public ::testing::Test {
 protected:
  void SetUp() override {
    spec_ = LoadSpec();
    ASSERT_TRUE(spec_.is_object());
  }
  json spec_;
};

TEST_F(OpenApiSpecTest, EveryServedRouteIsDocumentedAndNothingElse) {
  std::set<std::string> served;
  for (const RouteInfo& route : AdminApi::Routes()) {
    served.insert(Upper(route.method) + " " + route.path);
  }
  ASSERT_FALSE(served.empty()) << "AdminApi::Routes() is empty";
  std::set<std::string> documented;
  for (const Operation& op : Operations(spec_)) documented.insert(op.Name());

  std::vector<std::string> undocumented;
  std::set_difference(served.begin(), served.end(), documented.begin(),
                      documented.end(), std::back_inserter(undocumented));
  std::vector<std::string> not_served;
  std::set_difference(documented.begin(), documented.end(), served.begin(),
                      served.end(), std::back_inserter(not_served));
  EXPECT_TRUE(undocumented.empty())
      << "served by AdminApi::Routes() but missing from docs/openapi.yaml "
         "(add them under paths:):"
      << Join(undocumented);
  EXPECT_TRUE(not_served.empty())
      << "documented in docs/openapi.yaml but not in AdminApi::Routes() "
         "(serve them, or remove them from the document):"
      << Join(not_served);
}

TEST_F(OpenApiSpecTest, IsOpenApi3WithResolvableRefs) {
  EXPECT_EQ(spec_.value("openapi", "").rfind("3.0.", 0), 0u)
      << "openapi: must be 3.0.x, got " << spec_.value("openapi", "");
  std::vector<std::pair<std::string, std::string>> refs;
  CollectRefs(spec_, "", &refs);
  EXPECT_GT(refs.size(), 10u);
  for (const auto& [where, ref] : refs) {
    EXPECT_NE(Resolve(spec_, ref), nullptr)
        << "$ref " << ref << " at " << where << " does not resolve";
  }
  std::vector<std::string> nulls;
  CollectNulls(spec_, "", &nulls);
  EXPECT_TRUE(nulls.empty())
      << "members without a value (in a {flow: mapping}, quote text that "
         "holds a comma or a colon):"
      << Join(nulls);
}

TEST_F(OpenApiSpecTest, ErrorsUseTheSharedErrorBody) {
  const json* error = Resolve(spec_, "#/components/schemas/Error");
  ASSERT_NE(error, nullptr) << "components/schemas/Error is missing";
  const std::set<std::string> error_fields = {"code", "message", "field"};
  std::set<std::string> required;
  for (const json& name : (*error)["properties"]["error"]["required"]) {
    required.insert(name.get<std::string>());
  }
  EXPECT_EQ(required, error_fields);

  for (const Operation& operation : Operations(spec_)) {
    ASSERT_TRUE(operation.op.contains("responses")) << operation.Name();
    for (auto& [code, response_ref] : operation.op["responses"].items()) {
      const int status = std::atoi(code.c_str());
      if (status < 400) continue;
      // /readyz's 503 is its readiness report, not an error.
      if (operation.path == "/readyz" && status == 503) continue;
      const json& response = Deref(spec_, response_ref);
      const json& content = response.value("content", json::object());
      ASSERT_TRUE(content.contains("application/json"))
          << operation.Name() << " " << code << " has no JSON body";
      EXPECT_EQ(content["application/json"]["schema"].value("$ref", ""),
                "#/components/schemas/Error")
          << operation.Name() << " " << code
          << " must use the shared Error schema";
    }
  }
}

TEST_F(OpenApiSpecTest, TheApiNeedsABearerTokenAndHealthChecksDoNot) {
  const json scheme =
      spec_["components"]["securitySchemes"].value("bearer", json::object());
  EXPECT_EQ(scheme.value("type", ""), "http");
  EXPECT_EQ(scheme.value("scheme", ""), "bearer");
  for (const Operation& operation : Operations(spec_)) {
    const bool api = operation.path.rfind("/api/v1/", 0) == 0;
    // Signing in is how a browser gets its session: it takes the token in
    // its body.
    const bool signing_in =
        operation.op.value("operationId", "") == "createSession";
    EXPECT_EQ(NeedsToken(spec_, operation), api && !signing_in)
        << operation.Name();
    if (api) {
      EXPECT_TRUE(operation.op["responses"].contains("401"))
          << operation.Name() << " must document 401";
      EXPECT_TRUE(operation.op["responses"].contains("503"))
          << operation.Name() << " must document 503";
    }
    EXPECT_TRUE(operation.op["responses"].contains("405"))
        << operation.Name() << " must document 405";
  }
}

TEST_F(OpenApiSpecTest, ExamplesMatchTheirSchemas) {
  int checked = 0;
  std::vector<std::string> problems;
  for (auto& [name, schema] : spec_["components"]["schemas"].items()) {
    if (schema.contains("example")) {
      Validate(spec_, schema, schema["example"], "schemas/" + name + " example",
               &problems);
      ++checked;
    }
  }
  for (const Operation& operation : Operations(spec_)) {
    std::vector<json> bodies;
    if (operation.op.contains("requestBody")) {
      bodies.push_back(Deref(spec_, operation.op["requestBody"]));
    }
    for (auto& [code, response] : operation.op["responses"].items()) {
      bodies.push_back(Deref(spec_, response));
    }
    for (const json& body : bodies) {
      const json content = body.value("content", json::object());
      if (!content.contains("application/json")) continue;
      const json& media = content["application/json"];
      if (!media.contains("example")) continue;
      Validate(spec_, media["schema"], media["example"],
               operation.Name() + " example", &problems);
      ++checked;
    }
  }
  EXPECT_GT(checked, 5);
  EXPECT_TRUE(problems.empty()) << Join(problems);
}

// The validator itself must be able to fail.
TEST_F(OpenApiSpecTest, TheValidatorRefusesWrongRules) {
  const json rule_schema = {{"$ref", "#/components/schemas/Rule"}};
  const json good = {{"id", 1},
                     {"version", 1},
                     {"name", "a"},
                     {"domain", "api"},
                     {"match", json::object()},
                     {"limit", 1},
                     {"period", "1s"},
                     {"burst", 1},
                     {"mode", "enforce"},
                     {"failure_mode", "local"},
                     {"enabled", true}};
  std::vector<std::string> problems;
  Validate(spec_, rule_schema, good, "rule", &problems);
  EXPECT_TRUE(problems.empty()) << Join(problems);
  const std::vector<std::pair<std::string, json>> wrong = {
      {"limit", 0},       {"limit", 9007199254740993ULL},
      {"period", "1x"},   {"name", "has space"},
      {"mode", "block"},  {"enabled", "yes"},
      {"colour", "blue"}, {"match", {{"client_id", "has space"}}},
  };
  for (const auto& [field, value] : wrong) {
    json rule = good;
    rule[field] = value;
    problems.clear();
    Validate(spec_, rule_schema, rule, "rule", &problems);
    EXPECT_FALSE(problems.empty()) << field << " = " << value.dump();
  }
  json missing = good;
  missing.erase("burst");
  problems.clear();
  Validate(spec_, rule_schema, missing, "rule", &problems);
  EXPECT_FALSE(problems.empty());
}

// ---------------------------------------------------------------------------
// The document against a live controller.

// One request: method, path (with any query), optional body and headers.
struct Request {
  std::string method;
  std::string target;  // "/api/v1/config?dry_run=true"
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
};

// Documented query parameters to try: each boolean as "true", each
// documented example value, each default.
std::vector<std::string> QueryVariants(const json& spec, const json& item,
                                       const Operation& operation) {
  std::vector<std::string> variants;
  std::vector<json> parameters;
  for (const json* list : {&item, &operation.op}) {
    for (const json& p : list->value("parameters", json::array())) {
      parameters.push_back(Deref(spec, p));
    }
  }
  for (const json& p : parameters) {
    // A required one is in every request already (RequiredQuery).
    if (p.value("in", "") != "query" || p.value("required", false)) continue;
    const std::string name = p.value("name", "");
    const json schema = Deref(spec, p.value("schema", json::object()));
    if (schema.value("type", "") == "boolean")
      variants.push_back(name + "=true");
    const json examples = p.value("examples", json::object());
    for (auto& [unused, example] : examples.items()) {
      const json& value = example["value"];
      variants.push_back(
          name + "=" +
          (value.is_string() ? value.get<std::string>() : value.dump()));
    }
    if (schema.contains("default") && !schema["default"].is_boolean()) {
      variants.push_back(name + "=" + schema["default"].dump());
    }
  }
  return variants;
}

// The required query parameters of `operation`, each with its first
// documented example ("rule=1"), joined with '&'; "" when there are none.
std::string RequiredQuery(const json& spec, const Operation& operation) {
  std::string query;
  for (const json& ref : operation.op.value("parameters", json::array())) {
    const json p = Deref(spec, ref);
    if (p.value("in", "") != "query" || !p.value("required", false)) continue;
    const json examples = p.value("examples", json::object());
    EXPECT_FALSE(examples.empty())
        << operation.Name() << ": the required query parameter "
        << p.value("name", "") << " needs an example (the live test sends it)";
    if (examples.empty()) continue;
    const json& value = examples.begin().value()["value"];
    if (!query.empty()) query += "&";
    query += p.value("name", "") + "=" +
             (value.is_string() ? value.get<std::string>() : value.dump());
  }
  return query;
}

bool TakesIfMatch(const json& spec, const Operation& operation) {
  for (const json& p : operation.op.value("parameters", json::array())) {
    const json& parameter = Deref(spec, p);
    if (parameter.value("in", "") == "header" &&
        parameter.value("name", "") == "If-Match") {
      return true;
    }
  }
  return false;
}

class OpenApiLiveTest : public ::testing::Test {
 protected:
  void SetUp() override {
    spec_ = LoadSpec();
    ASSERT_TRUE(spec_.is_object());
    test_db_ = std::make_unique<testing::TestDatabase>();
    ControllerOptions options;
    options.db = test_db_->conninfo();
    options.http = "127.0.0.1:" + std::to_string(PickFreePort());
    options.agents = "tcp://127.0.0.1:" + std::to_string(PickFreePort());
    options.admin_token = kToken;
    options.token_out = &token_out_;
    controller_ = std::make_unique<Controller>(options);
    Status started = controller_->Start();
    ASSERT_TRUE(started.ok()) << started.ToString();
    Status ready = controller_->WaitUntilReady(10000);
    ASSERT_TRUE(ready.ok()) << ready.ToString();
    client_ = std::make_unique<web::http::client::http_client>(
        web::uri("http://" + options.http));
  }
  void TearDown() override {
    client_.reset();
    if (controller_ != nullptr) controller_->Stop();
    controller_.reset();
    test_db_.reset();
  }

  // Sends `request` with `token` ("" for none).
  HttpResult Send(const Request& request, const std::string& token = kToken) {
    web::http::http_request http(web::http::method(request.method));
    http.set_request_uri(web::uri(request.target));
    if (!token.empty()) {
      http.headers().add("Authorization", "Bearer " + token);
    }
    for (const auto& [name, value] : request.headers) {
      http.headers().add(name, value);
    }
    if (!request.body.empty()) http.set_body(request.body, "application/json");
    web::http::http_response response = client_->request(http).get();
    HttpResult result;
    result.status = response.status_code();
    result.headers = response.headers();
    result.body = response.extract_utf8string(true).get();
    result.json = json::parse(result.body, nullptr, false);
    if (result.json.is_discarded()) result.json = nullptr;
    return result;
  }

  // The documented example request body of `operation`, or "".
  std::string ExampleBody(const Operation& operation) {
    if (!operation.op.contains("requestBody")) return "";
    const json body = Deref(spec_, operation.op["requestBody"]);
    const json& media = body["content"]["application/json"];
    // Signing in needs a real token where the document shows a placeholder.
    if (operation.op.value("operationId", "") == "createSession") {
      return json{{"token", kToken}}.dump();
    }
    EXPECT_TRUE(media.contains("example"))
        << operation.Name()
        << ": a request body needs an example (the live test sends it)";
    return media.value("example", json::object()).dump();
  }

  // `operation.path` with "{id}" replaced by the id of the resource the
  // POST on its collection created (ids_ by collection path).
  std::string ConcretePath(const Operation& operation) {
    std::string path = operation.path;
    const size_t at = path.find("/{id}");
    if (at == std::string::npos) return path;
    const std::string collection = path.substr(0, at);
    auto it = ids_.find(collection);
    EXPECT_NE(it, ids_.end())
        << operation.Name() << ": no id for " << collection
        << " (the test takes it from the documented POST " << collection << ")";
    return path.replace(at + 1, 4, it == ids_.end() ? "1" : it->second);
  }

  Request Documented(const Operation& operation) {
    std::string target = ConcretePath(operation);
    const std::string query = RequiredQuery(spec_, operation);
    if (!query.empty()) target += "?" + query;
    return Request{operation.method, target, ExampleBody(operation), {}};
  }

  // Sends `request` for `operation` as an admin and checks the answer is
  // a documented `expected_class` (2 for 2xx, 4 for 4xx) status, with the
  // documented headers and body.
  HttpResult Probe(const Operation& operation, const Request& request,
                   int expected_class) {
    HttpResult result = Send(request);
    const std::string what =
        operation.Name() + " (" + request.method + " " + request.target + ")";
    EXPECT_NE(result.status, 404) << what << ": " << result.body;
    EXPECT_NE(result.status, 405) << what << ": " << result.body;
    EXPECT_EQ(result.status / 100, expected_class)
        << what << " answered " << result.status << ": " << result.body;
    CheckDocumented(operation, what, result);
    return result;
  }

  // `result` is a documented status of `operation`, with the documented
  // required headers, headers matching their schemas, and a body of the
  // documented type matching the documented schema.
  void CheckDocumented(const Operation& operation, const std::string& what,
                       const HttpResult& result) {
    const json response = DocumentedResponse(spec_, operation, result.status);
    if (response.is_null()) {
      ADD_FAILURE() << what << " answered " << result.status
                    << ", which docs/openapi.yaml does not list for it: "
                    << result.body;
      return;
    }
    std::vector<std::string> problems;
    const json headers = response.value("headers", json::object());
    for (auto& [name, header_ref] : headers.items()) {
      const json& header = Deref(spec_, header_ref);
      const std::string value = result.Header(name);
      if (value.empty()) {
        if (header.value("required", false)) {
          problems.push_back("the required header " + name + " is missing");
        }
        continue;
      }
      Validate(spec_, header.value("schema", json::object()), json(value),
               "header " + name, &problems);
    }
    const json content = response.value("content", json::object());
    if (content.empty()) {
      if (!result.body.empty()) {
        problems.push_back("no body is documented, but it sent one");
      }
    } else {
      const std::string content_type = result.Header("Content-Type");
      bool documented_type = false;
      for (auto& [media_type, unused] : content.items()) {
        if (content_type.rfind(media_type, 0) == 0) documented_type = true;
      }
      if (!documented_type) {
        problems.push_back("Content-Type '" + content_type +
                           "' is not documented: " + content.dump());
      }
      const json schema = JsonSchemaOf(spec_, response);
      if (!schema.is_null()) {
        if (result.json.is_null()) {
          problems.push_back("the body is not JSON");
        } else {
          Validate(spec_, schema, result.json, "body", &problems);
        }
      }
    }
    EXPECT_TRUE(problems.empty())
        << what << " " << result.status
        << " does not match docs/openapi.yaml:" << Join(problems)
        << "\nbody: " << result.body;
  }

  std::ostringstream token_out_;
  json spec_;
  std::unique_ptr<testing::TestDatabase> test_db_;
  std::unique_ptr<Controller> controller_;
  std::unique_ptr<web::http::client::http_client> client_;
  std::map<std::string, std::string> ids_;  // collection path -> an id
};

// Creation first (the ids feed the {id} routes), then reads, replacements,
// deletions. Each documented example must succeed on the server as the
// previous steps left it; so must each documented query parameter (a
// boolean set to true, each example, each default). Where If-Match is
// documented, a stale one must get a documented 4xx (412) first.
TEST_F(OpenApiLiveTest, EveryDocumentedRouteAnswersAsDocumented) {
  std::vector<Operation> ops = Operations(spec_);
  ASSERT_FALSE(ops.empty());
  const std::vector<std::string> order = {"POST", "GET", "PUT", "DELETE"};
  auto rank = [&](const Operation& op) {
    return std::find(order.begin(), order.end(), op.method) - order.begin();
  };
  std::stable_sort(ops.begin(), ops.end(),
                   [&](const Operation& a, const Operation& b) {
                     return rank(a) < rank(b);
                   });
  int stale_checked = 0;
  int queries_checked = 0;
  for (const Operation& operation : ops) {
    SCOPED_TRACE(operation.Name());
    const Request documented = Documented(operation);
    if (TakesIfMatch(spec_, operation)) {
      Request stale = documented;
      stale.headers.emplace_back("If-Match", "\"987654321\"");
      HttpResult refused = Probe(operation, stale, 4);
      EXPECT_EQ(refused.status, 412) << refused.body;
      ++stale_checked;
    }
    for (const std::string& query :
         QueryVariants(spec_, spec_["paths"][operation.path], operation)) {
      Request variant = documented;
      variant.target +=
          (variant.target.find('?') == std::string::npos ? "?" : "&") + query;
      Probe(operation, variant, 2);
      ++queries_checked;
    }
    HttpResult result = Probe(operation, documented, 2);
    if (operation.method == "POST" && result.json.is_object() &&
        result.json.contains("id")) {
      ids_[operation.path] = result.json["id"].dump();
    }
  }
  // The document has conditional writes and query parameters; the test
  // must have tried them.
  EXPECT_GE(stale_checked, 3);
  EXPECT_GE(queries_checked, 3);
}

TEST_F(OpenApiLiveTest, WithoutATokenTheApiAnswersTheDocumented401) {
  // Ids need not exist: authentication comes first.
  ids_["/api/v1/rules"] = "1";
  ids_["/api/v1/tokens"] = "1";
  ids_["/api/v1/agent-keys"] = "1";
  for (const Operation& operation : Operations(spec_)) {
    SCOPED_TRACE(operation.Name());
    HttpResult result = Send(Documented(operation), "");
    const std::string what = operation.Name() + " without a token";
    if (NeedsToken(spec_, operation)) {
      EXPECT_EQ(result.status, 401) << what << ": " << result.body;
      EXPECT_EQ(result.ErrorCode(), "unauthorized") << result.body;
    } else if (operation.op.value("operationId", "") == "createSession") {
      // No bearer token and no X-Sluice-CSRF: what a cross-site form sends.
      EXPECT_EQ(result.status, 403) << what << ": " << result.body;
      EXPECT_EQ(result.ErrorCode(), "csrf") << result.body;
    } else {
      EXPECT_EQ(result.status, 200) << what << ": " << result.body;
    }
    CheckDocumented(operation, what, result);
  }
}

// The roles as documented: a viewer gets 403 exactly where 403 is listed
// (every route that needs editor or admin), and never elsewhere.
TEST_F(OpenApiLiveTest, AViewerGetsExactlyTheDocumented403s) {
  HttpResult created =
      Send(Request{"POST",
                   "/api/v1/tokens",
                   R"({"name": "openapi-viewer", "role": "viewer"})",
                   {}});
  ASSERT_EQ(created.status, 201) << created.body;
  const std::string viewer = created.json["token"].get<std::string>();
  ids_["/api/v1/rules"] = "1";
  ids_["/api/v1/tokens"] = created.json["id"].dump();
  ids_["/api/v1/agent-keys"] = "1";
  int forbidden = 0;
  for (const Operation& operation : Operations(spec_)) {
    if (!NeedsToken(spec_, operation)) continue;
    SCOPED_TRACE(operation.Name());
    HttpResult result = Send(Documented(operation), viewer);
    const bool documented = operation.op["responses"].contains("403");
    if (documented) {
      EXPECT_EQ(result.status, 403)
          << operation.Name() << " as a viewer: " << result.body;
      EXPECT_EQ(result.ErrorCode(), "forbidden") << result.body;
      ++forbidden;
    } else {
      EXPECT_NE(result.status, 403)
          << operation.Name()
          << " refuses a viewer, but docs/openapi.yaml lists no 403: "
          << result.body;
    }
    CheckDocumented(operation, operation.Name() + " as a viewer", result);
  }
  EXPECT_GT(forbidden, 5);
}

TEST_F(OpenApiLiveTest, OtherMethodsAre405WithTheDocumentedAllow) {
  ids_["/api/v1/rules"] = "1";
  ids_["/api/v1/tokens"] = "1";
  ids_["/api/v1/agent-keys"] = "1";
  std::map<std::string, std::set<std::string>> methods_by_path;
  std::map<std::string, Operation> any_op_by_path;
  for (const Operation& operation : Operations(spec_)) {
    methods_by_path[operation.path].insert(operation.method);
    any_op_by_path.emplace(operation.path, operation);
  }
  int checked = 0;
  for (const auto& [path, documented] : methods_by_path) {
    const Operation& sample = any_op_by_path.at(path);
    const std::string concrete = ConcretePath(sample);
    for (const char* lower : kHttpMethods) {
      const std::string method = Upper(lower);
      if (documented.count(method) > 0) continue;
      SCOPED_TRACE(method + " " + path);
      HttpResult result = Send(Request{method, concrete, "{}", {}});
      EXPECT_EQ(result.status, 405)
          << method << " " << concrete << ": " << result.body;
      EXPECT_EQ(result.ErrorCode(), "method_not_allowed") << result.body;
      std::set<std::string> allowed;
      std::stringstream allow(result.Header("Allow"));
      std::string item;
      while (std::getline(allow, item, ',')) {
        item.erase(0, item.find_first_not_of(' '));
        item.erase(item.find_last_not_of(' ') + 1);
        if (!item.empty()) allowed.insert(item);
      }
      EXPECT_EQ(allowed, documented)
          << "Allow of " << path << " is '" << result.Header("Allow")
          << "'; docs/openapi.yaml documents another set";
      CheckDocumented(sample, method + " " + path, result);
      ++checked;
    }
  }
  EXPECT_GT(checked, 10);
}

}  // namespace
}  // namespace sluice
