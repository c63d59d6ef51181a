// `sluice-controller import-envoy` against a real controller: the dry run
// prints the plan and changes nothing; --apply applies exactly it, replacing
// the rules of the files' domains and keeping every other domain's.
#include <gtest/gtest.h>
#include <stdio.h>
#include <sys/wait.h>

#include <nlohmann/json.hpp>

#include "tests/integration/stack.h"

namespace sluice::testing {
namespace {

struct CommandRun {
  int status = -1;
  std::string output;  // stdout and stderr
};

CommandRun ImportEnvoy(const std::string& args) {
  const std::string command = BuiltBinary("controller/sluice-controller") +
                              " import-envoy " + args + " 2>&1";
  CommandRun run;
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) return run;
  char buffer[4096];
  size_t n;
  while ((n = fread(buffer, 1, sizeof(buffer), pipe)) > 0) {
    run.output.append(buffer, n);
  }
  int status = pclose(pipe);
  run.status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return run;
}

std::string Fixture(const std::string& name) {
  return std::string(SLUICE_SOURCE_DIR) + "/tests/fixtures/envoy-ratelimit/" +
         name;
}

std::vector<std::string> RuleNames(Stack& stack) {
  HttpResult config = stack.Http("GET", "/api/v1/config");
  std::vector<std::string> names;
  const nlohmann::json doc = nlohmann::json::parse(config.body);
  for (const auto& rule : doc.at("rules")) {
    names.push_back(rule["name"].get<std::string>());
  }
  return names;
}

TEST(ImportEnvoyTest, DryRunShowsThePlanAndApplyAppliesIt) {
  Stack stack;
  stack.StartController();
  // One rule of another domain (kept), one of an imported domain (deleted),
  // one the import changes.
  for (const char* rule :
       {R"({"name": "other-domain", "domain": "api",
            "match": {"client_id": "*"}, "limit": 5, "period": "1s"})",
        R"({"name": "messaging.stale", "domain": "messaging",
            "match": {"stale": "*"}, "limit": 1, "period": "1s"})",
        R"({"name": "messaging.to_number", "domain": "messaging",
            "match": {"to_number": "*"}, "limit": 50, "period": "1d"})"}) {
    ASSERT_EQ(stack.Http("POST", "/api/v1/rules", rule).status, 201);
  }
  const std::string api = "--api " + stack.http_base() + " --token " +
                          std::string(Stack::kToken) + " ";
  const std::vector<std::string> before = RuleNames(stack);

  CommandRun plan = ImportEnvoy(api + Fixture("example2.yaml") + " " +
                                Fixture("example1.yaml"));
  ASSERT_EQ(plan.status, 0) << plan.output;
  EXPECT_NE(plan.output.find("+ messaging.message_type_marketing.to_number"),
            std::string::npos)
      << plan.output;
  EXPECT_NE(plan.output.find("+ mongo_cps.database_users"), std::string::npos);
  EXPECT_NE(plan.output.find("~ messaging.to_number: burst 50 -> 100; limit "
                             "50 -> 100;"),
            std::string::npos)
      << plan.output;
  EXPECT_NE(plan.output.find("- messaging.stale"), std::string::npos);
  EXPECT_EQ(plan.output.find("- other-domain"), std::string::npos);
  EXPECT_NE(plan.output.find("without a value"), std::string::npos);
  EXPECT_NE(plan.output.find("nothing applied"), std::string::npos);
  EXPECT_EQ(RuleNames(stack), before);  // the dry run changed nothing

  CommandRun applied = ImportEnvoy(api + "--apply " + Fixture("example2.yaml") +
                                   " " + Fixture("example1.yaml"));
  ASSERT_EQ(applied.status, 0) << applied.output;
  EXPECT_NE(applied.output.find("applied: revision"), std::string::npos);
  EXPECT_EQ(RuleNames(stack),
            (std::vector<std::string>{
                "messaging.message_type_marketing.to_number",
                "messaging.to_number", "mongo_cps.database_default",
                "mongo_cps.database_users", "other-domain"}));

  // Again: nothing to do.
  CommandRun again = ImportEnvoy(api + Fixture("example2.yaml") + " " +
                                 Fixture("example1.yaml"));
  EXPECT_NE(again.output.find("= 5 unchanged"), std::string::npos)
      << again.output;
}

TEST(ImportEnvoyTest, WithoutApiPrintsTheDocumentAndBadInputIsRefused) {
  CommandRun printed = ImportEnvoy(Fixture("example3.yaml"));
  ASSERT_EQ(printed.status, 0) << printed.output;
  EXPECT_NE(
      printed.output.find("\"name\": \"edge_proxy_per_ip.remote_address\""),
      std::string::npos)
      << printed.output;
  EXPECT_NE(printed.output.find("requests_per_unit 0"), std::string::npos);

  CommandRun missing = ImportEnvoy("/nonexistent/ratelimit.yaml");
  EXPECT_EQ(missing.status, 1);
  EXPECT_NE(missing.output.find("cannot read /nonexistent/ratelimit.yaml"),
            std::string::npos)
      << missing.output;
  EXPECT_EQ(ImportEnvoy("").status, 2);
  EXPECT_EQ(ImportEnvoy("--apply " + Fixture("example1.yaml")).status, 2);
}

}  // namespace
}  // namespace sluice::testing
