// import-envoy on the configuration examples of envoyproxy/ratelimit's
// README (tests/fixtures/envoy-ratelimit): each YAML file, read by the
// YAML edge and converted by common/envoy_import.h, gives exactly the
// rules and notes of its .expected.json, and every rule is valid for
// PUT /api/v1/config.
//
// After a deliberate change of the conversion, SLUICE_UPDATE_FIXTURES=1
// rewrites the .expected.json files; review their diff before committing.
#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "common/envoy_import.h"
#include "controller/api/config_document.h"
#include "controller/import/yaml_json.h"

namespace sluice {
namespace {

using nlohmann::json;

const std::string kDir =
    std::string(SLUICE_SOURCE_DIR) + "/tests/fixtures/envoy-ratelimit/";

json Lines(const std::vector<EnvoyImportNote>& notes) {
  json out = json::array();
  for (const auto& n : notes) out.push_back(n.where + ": " + n.message);
  return out;
}

json Convert(const std::string& name) {
  StatusOr<json> yaml = LoadYamlFileAsJson(kDir + name + ".yaml");
  EXPECT_TRUE(yaml.ok()) << yaml.status().message();
  if (!yaml.ok()) return json();
  EnvoyImport import;
  ConvertEnvoyConfig(*yaml, name + ".yaml", &import);
  EXPECT_TRUE(import.errors.empty()) << Lines(import.errors).dump(2);
  std::vector<Rule> rules;
  std::vector<ConfigProblem> problems =
      ParseConfigDocument(EnvoyImportDocument(import), &rules);
  EXPECT_TRUE(problems.empty()) << problems.front().message;
  return json{{"rules", import.rules},
              {"notes", Lines(import.notes)},
              {"skipped", Lines(import.skipped)}};
}

class EnvoyFixturesTest : public ::testing::TestWithParam<std::string> {};

TEST_P(EnvoyFixturesTest, ConvertsAsExpected) {
  const std::string name = GetParam();
  json actual = Convert(name);
  const std::string expected_path = kDir + name + ".expected.json";
  if (std::getenv("SLUICE_UPDATE_FIXTURES") != nullptr) {
    std::ofstream(expected_path) << actual.dump(2) << "\n";
    GTEST_SKIP() << "rewrote " << expected_path;
  }
  std::ifstream in(expected_path);
  ASSERT_TRUE(in) << "missing " << expected_path;
  std::stringstream text;
  text << in.rdbuf();
  EXPECT_EQ(actual, json::parse(text.str())) << actual.dump(2);
}

INSTANTIATE_TEST_SUITE_P(ReadmeExamples, EnvoyFixturesTest,
                         ::testing::Values("example1", "example2", "example3",
                                           "example4a", "example4b", "example5",
                                           "example6", "example7", "example8",
                                           "example9"));

TEST(YamlJsonTest, ScalarsStayTextAndBadYamlSaysWhere) {
  YAML::Node node = YAML::Load("a: 007\nb: [x, ~]\nc:\n");
  EXPECT_EQ(YamlToJson(node),
            json::parse(R"({"a": "007", "b": ["x", null], "c": null})"));
  const std::string path = ::testing::TempDir() + "/bad.yaml";
  std::ofstream(path) << "domain: x\ndescriptors: [\n";
  StatusOr<json> bad = LoadYamlFileAsJson(path);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find(path + ":"), std::string::npos)
      << bad.status().message();
  EXPECT_FALSE(LoadYamlFileAsJson(path + ".missing").ok());
}

}  // namespace
}  // namespace sluice
