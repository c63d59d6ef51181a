// Dashboard sessions shared through PostgreSQL: two SessionStores on their
// own connections stand for two controllers on one database (ManualClocks
// stand for their memories' time; the database's clock decides expiry).
#include "controller/store/session_rows.h"

#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "controller/api/session_store.h"
#include "tests/controller/db_fixture.h"

namespace sluice {
namespace {

class SessionRowsTest : public testing::MigratedDatabaseTest {
 protected:
  void SetUp() override {
    MigratedDatabaseTest::SetUp();
    other_db_ = std::make_unique<Database>(test_db_->conninfo());
    rows_a_ = std::make_unique<SessionRows>(db_.get());
    rows_b_ = std::make_unique<SessionRows>(other_db_.get());
    a_ = std::make_unique<SessionStore>(&clock_a_, rows_a_.get());
    b_ = std::make_unique<SessionStore>(&clock_b_, rows_b_.get());
    token_ = Token("alice", 'a');
  }

  int64_t Token(const std::string& name, char fill) {
    return std::stoll(Sql(
        "INSERT INTO api_tokens (name, role, token_sha256) "
        "VALUES ('" +
        name + "', 'viewer', '" + std::string(64, fill) + "') RETURNING id"));
  }

  std::string Sql(const std::string& sql) { return test_db_->Sql(sql); }

  void Recheck() {
    clock_a_.Advance(SessionStore::kRecheckSeconds * kNanosPerSecond);
    clock_b_.Advance(SessionStore::kRecheckSeconds * kNanosPerSecond);
  }

  ManualClock clock_a_{1000};
  ManualClock clock_b_{5000};
  std::unique_ptr<Database> other_db_;
  std::unique_ptr<SessionRows> rows_a_, rows_b_;
  std::unique_ptr<SessionStore> a_, b_;
  int64_t token_ = 0;
};

TEST_F(SessionRowsTest, ASessionMadeOnOneControllerWorksOnAnother) {
  StatusOr<std::string> id = a_->Create(token_);
  ASSERT_TRUE(id.ok()) << id.status().ToString();
  EXPECT_EQ(b_->Find(id.value()), token_);
  EXPECT_EQ(a_->Find(id.value()), token_);
  EXPECT_FALSE(b_->Find(id.value() + "x").has_value());
  // Only the hash is stored.
  EXPECT_EQ(Sql("SELECT count(*) FROM dashboard_sessions WHERE id_sha256 = '" +
                id.value() + "'"),
            "0");
  EXPECT_EQ(Sql("SELECT count(*) FROM dashboard_sessions"), "1");
}

TEST_F(SessionRowsTest, ASessionOutlivesTheStoreThatMadeIt) {
  std::string id = a_->Create(token_).value();
  a_ = std::make_unique<SessionStore>(&clock_a_, rows_a_.get());  // restart
  EXPECT_EQ(a_->Find(id), token_);
}

TEST_F(SessionRowsTest, SignOutReachesOtherControllersWithinTheRecheck) {
  std::string id = a_->Create(token_).value();
  ASSERT_EQ(b_->Find(id), token_);
  a_->End(id);
  EXPECT_FALSE(a_->Find(id).has_value());
  EXPECT_EQ(b_->Find(id), token_);  // remembered, not yet looked up again
  Recheck();
  EXPECT_FALSE(b_->Find(id).has_value());
  EXPECT_EQ(Sql("SELECT count(*) FROM dashboard_sessions"), "0");
}

TEST_F(SessionRowsTest, EndAllOfEndsATokensSessionsEverywhere) {
  const int64_t bob = Token("bob", 'b');
  std::string one = a_->Create(token_).value();
  std::string two = b_->Create(token_).value();
  std::string other = a_->Create(bob).value();
  b_->EndAllOf(token_);
  Recheck();
  EXPECT_FALSE(a_->Find(one).has_value());
  EXPECT_FALSE(a_->Find(two).has_value());
  EXPECT_EQ(a_->Find(other), bob);
}

TEST_F(SessionRowsTest, TheDatabaseDecidesExpiry) {
  std::string id = a_->Create(token_).value();
  Sql("UPDATE dashboard_sessions SET expires_at = now() - interval '1 s', "
      "created_at = now() - interval '1 h'");
  EXPECT_FALSE(b_->Find(id).has_value());
  Recheck();
  EXPECT_FALSE(a_->Find(id).has_value());
  // Expired rows go as new sessions are made.
  a_->Create(token_).value();
  EXPECT_EQ(Sql("SELECT count(*) FROM dashboard_sessions"), "1");
}

TEST_F(SessionRowsTest, ADeletedTokenTakesItsSessionsAlong) {
  std::string id = a_->Create(token_).value();
  Sql("DELETE FROM api_tokens WHERE id = " + std::to_string(token_));
  Recheck();
  EXPECT_FALSE(a_->Find(id).has_value());
}

TEST_F(SessionRowsTest, WithoutTheDatabaseKnownSessionsWorkAndNewOnesFail) {
  std::string id = a_->Create(token_).value();
  Database gone("host=127.0.0.1 port=1 connect_timeout=2");
  SessionRows gone_rows(&gone);
  SessionStore away(&clock_a_, &gone_rows);
  StatusOr<std::string> refused = away.Create(token_);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), Status::Code::kUnavailable);
  EXPECT_NE(refused.status().message().find("sign in again"),
            std::string::npos);
  EXPECT_FALSE(away.Find(id).has_value());  // never seen, cannot look up
}

}  // namespace
}  // namespace sluice
