// GET /api/v1/audit's filters: actor, kind, target, since and until, in SQL,
// combined with AND, paged correctly, with 400s that name the parameter.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "tests/controller/api_fixture.h"

namespace sluice {
namespace {

using nlohmann::json;
using testing::HttpResult;
using testing::RuleNamed;

class AuditFilterTest : public testing::ApiTest {
 protected:
  // Every page of `query` (pages of `limit`), following next; the number
  // of pages in *pages.
  std::vector<json> All(const std::string& query, int limit, int* pages) {
    std::vector<json> entries;
    std::string since;
    *pages = 0;
    for (;;) {
      HttpResult page =
          admin_->Get("/api/v1/audit?limit=" + std::to_string(limit) + query +
                      (since.empty() ? "" : "&since=" + since));
      EXPECT_EQ(page.status, 200) << query << ": " << page.body;
      if (page.status != 200 || ++*pages > 50) break;
      for (const json& entry : page.json["entries"]) entries.push_back(entry);
      if (page.json["next"].is_null()) break;
      since = page.json["next"].get<std::string>();
    }
    return entries;
  }

  // alice (editor) creates rules a0..a4 and updates a0; bob (admin)
  // creates b0, deletes a1 and creates a token "carol".
  void Seed() {
    alice_ = Client(NewToken("alice", "editor"));
    bob_ = Client(NewToken("bob", "admin"));
    for (int i = 0; i < 5; ++i) {
      HttpResult made = alice_->Post("/api/v1/rules",
                                     RuleNamed("a" + std::to_string(i)).dump());
      ASSERT_EQ(made.status, 201);
      ids_.push_back(made.json["id"].get<int64_t>());
    }
    ASSERT_EQ(alice_
                  ->Put("/api/v1/rules/" + std::to_string(ids_[0]),
                        RuleNamed("a0", 7).dump())
                  .status,
              200);
    ASSERT_EQ(bob_->Post("/api/v1/rules", RuleNamed("b0").dump()).status, 201);
    ASSERT_EQ(bob_->Delete("/api/v1/rules/" + std::to_string(ids_[1])).status,
              204);
    ASSERT_EQ(bob_->Post("/api/v1/tokens",
                         json{{"name", "carol"}, {"role", "viewer"}}.dump())
                  .status,
              201);
  }

  std::unique_ptr<testing::HttpTestClient> alice_, bob_;
  std::vector<int64_t> ids_;
};

TEST_F(AuditFilterTest, ActorKindAndTargetCombineWithAndAndPage) {
  Seed();
  int pages = 0;
  std::vector<json> by_alice = All("&actor=alice", 2, &pages);
  ASSERT_EQ(by_alice.size(), 6u);  // 5 creations, 1 update
  // Three full pages, each with a next; the fourth is empty, next null.
  EXPECT_EQ(pages, 4);
  for (size_t i = 0; i < by_alice.size(); ++i) {
    EXPECT_EQ(by_alice[i]["actor"], "alice");
    if (i > 0) {
      EXPECT_GT(by_alice[i]["id"], by_alice[i - 1]["id"]);
    }
  }
  // A page of 4 when only 2 of the first 4 log entries match: the filter
  // is applied before the limit, not on the page in hand.
  std::vector<json> bob_rules = All("&actor=bob&kind=rule", 4, &pages);
  ASSERT_EQ(bob_rules.size(), 2u);
  EXPECT_EQ(pages, 1);
  EXPECT_EQ(bob_rules[0]["action"], "rule.create");
  EXPECT_EQ(bob_rules[1]["action"], "rule.delete");

  std::vector<json> tokens = All("&kind=tokens", 100, &pages);
  ASSERT_EQ(tokens.size(), 4u);  // bootstrap, alice, bob, carol
  for (const json& entry : tokens) EXPECT_EQ(entry["target"]["kind"], "token");
  EXPECT_EQ(All("&kind=agent-keys", 100, &pages).size(), 0u);

  // target: by name, or by id (a1 was created, then deleted).
  std::vector<json> a1 = All("&target=a1", 100, &pages);
  ASSERT_EQ(a1.size(), 2u);
  std::vector<json> by_id =
      All("&kind=rule&target=" + std::to_string(ids_[1]), 100, &pages);
  EXPECT_EQ(by_id, a1);
  std::vector<json> a0 = All("&actor=alice&kind=rule&target=a0", 1, &pages);
  ASSERT_EQ(a0.size(), 2u);
  EXPECT_EQ(pages, 3);
  EXPECT_EQ(a0[1]["after"]["limit"], 7);
  EXPECT_TRUE(All("&actor=alice&target=b0", 100, &pages).empty());
  EXPECT_TRUE(All("&actor=nobody", 100, &pages).empty());
}

TEST_F(AuditFilterTest, SinceAndUntilBoundTheTime) {
  Create(RuleNamed("early"));
  const std::string cut =
      Sql("SELECT to_char(clock_timestamp() AT TIME ZONE 'UTC', "
          "'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')");
  Create(RuleNamed("late"));
  int pages = 0;
  std::vector<json> before = All("&kind=rule&until=" + cut, 100, &pages);
  ASSERT_EQ(before.size(), 1u);
  EXPECT_EQ(before[0]["target"]["name"], "early");
  std::vector<json> after = All("&kind=rule&since=" + cut, 100, &pages);
  ASSERT_EQ(after.size(), 1u);
  EXPECT_EQ(after[0]["target"]["name"], "late");
  EXPECT_TRUE(All("&since=" + cut + "&until=" + cut, 100, &pages).empty());
  EXPECT_EQ(All("&until=2999-01-01T00:00:00Z", 100, &pages).size(), 3u);
}

TEST_F(AuditFilterTest, BadValuesAre400NamingTheParameter) {
  struct Case {
    const char* query;
    const char* field;
    const char* says;
  };
  const std::string long_name(257, 'x');
  const std::vector<Case> cases = {
      {"?kind=rulez", "kind", "rule, token or agent_key"},
      {"?kind=", "kind", "rule, token or agent_key"},
      {"?actor=", "actor", "from 1 to 256 bytes"},
      {"?until=tomorrow", "until", "RFC 3339"},
      {"?until=2026-02-30T00:00:00Z", "until", "not a valid time"},
      {"?since=2026-13-01T00:00:00Z&until=2026-01-01T00:00:00Z", "since",
       "not a valid time"},
      {"?target=", "target", "from 1 to 256 bytes"},
  };
  for (const Case& c : cases) {
    HttpResult bad = admin_->Get(std::string("/api/v1/audit") + c.query);
    EXPECT_EQ(bad.status, 400) << c.query << ": " << bad.body;
    EXPECT_EQ(bad.ErrorCode(), "invalid_query") << c.query;
    EXPECT_EQ(bad.ErrorField(), c.field) << c.query << ": " << bad.body;
    EXPECT_NE(bad.ErrorPart("message").find(c.says), std::string::npos)
        << c.query << ": " << bad.body;
  }
  HttpResult too_long = admin_->Get("/api/v1/audit?actor=" + long_name);
  EXPECT_EQ(too_long.status, 400);
  EXPECT_EQ(too_long.ErrorField(), "actor");
}

TEST_F(AuditFilterTest, EachFilteredColumnHasAnIndexEndingInId) {
  // A filtered page is a range scan of (column, id) that stops after
  // limit rows (migrations/0013_audit_filters.sql).
  for (const char* column :
       {"actor", "target_kind", "target_name", "target_id"}) {
    EXPECT_EQ(Count(std::string("SELECT count(*) FROM pg_indexes WHERE "
                                "tablename = 'audit_log' AND indexdef LIKE "
                                "'%(") +
                    column + ", id)%'"),
              1)
        << column;
  }
}

}  // namespace
}  // namespace sluice
