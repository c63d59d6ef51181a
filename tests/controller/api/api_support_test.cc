// Query strings, ids and JSON bodies for the admin API handlers (pure).
#include "controller/api/api_support.h"

#include <gtest/gtest.h>

namespace sluice {
namespace {

TEST(ApiSupportTest, ParsesAndDecodesQueries) {
  auto params = api::ParseQuery("since=2026-01-01T00:00:00%2B02:00&limit=5",
                                {"since", "limit"});
  ASSERT_TRUE(params.ok()) << params.status().ToString();
  EXPECT_EQ(params->at("since"), "2026-01-01T00:00:00+02:00");
  EXPECT_EQ(params->at("limit"), "5");
  auto plus = api::ParseQuery("since=a+b&", {"since"});
  ASSERT_TRUE(plus.ok());
  EXPECT_EQ(plus->at("since"), "a+b");
  auto flag = api::ParseQuery("dry_run", {"dry_run"});
  ASSERT_TRUE(flag.ok());
  EXPECT_EQ(flag->at("dry_run"), "");
  EXPECT_TRUE(api::ParseQuery("", {}).ok());
}

TEST(ApiSupportTest, RefusesBadQueries) {
  struct Case {
    const char* query;
    const char* field;
  };
  for (const Case& c :
       {Case{"x=1", "x"}, Case{"since=%zz", "since"}, Case{"since=%2", "since"},
        Case{"limit=1&limit=2", "limit"}}) {
    auto parsed = api::ParseQuery(c.query, {"since", "limit"});
    EXPECT_FALSE(parsed.ok()) << c.query;
    EXPECT_EQ(parsed.status().field(), c.field) << c.query;
  }
}

TEST(ApiSupportTest, Ids) {
  EXPECT_EQ(api::ParseId("42"), 42);
  for (const char* bad : {"", "0", "-1", "+1", "1a", "1234567890123456789"}) {
    EXPECT_LE(api::ParseId(bad), 0) << bad;
  }
}

TEST(ApiSupportTest, ParsesJsonBodies) {
  HttpRequest request;
  request.body = R"({"name": "a", "limits": [1, 2.5, -3, null, true]})";
  nlohmann::json body;
  HttpResponse error;
  ASSERT_TRUE(api::ParseJsonBody(request, "a rule", &body, &error));
  EXPECT_EQ(body, nlohmann::json::parse(request.body));
}

// Malformed bodies are refused with the parser's account of what is wrong
// and where, without an exception (the parse must not rely on one).
TEST(ApiSupportTest, RefusesMalformedJsonBodiesSayingWhere) {
  for (const char* text : {"", "{", "{\"name\": }", "not json", "[1,]",
                           "{\"a\": 1} trailing", "\"\xff\""}) {
    HttpRequest request;
    request.body = text;
    nlohmann::json body = 7;
    HttpResponse error;
    EXPECT_FALSE(api::ParseJsonBody(request, "a rule", &body, &error)) << text;
    EXPECT_EQ(error.status, 400) << text;
    EXPECT_TRUE(body.is_null()) << text;
    const nlohmann::json reply = nlohmann::json::parse(error.body);
    EXPECT_EQ(reply["error"]["code"], "invalid_json") << error.body;
    const std::string message = reply["error"]["message"];
    EXPECT_NE(message.find("the body is not valid JSON ([json.exception."
                           "parse_error.101] parse error at line 1, column "),
              std::string::npos)
        << message;
    EXPECT_NE(message.find("; send a rule"), std::string::npos) << message;
  }
}

}  // namespace
}  // namespace sluice
