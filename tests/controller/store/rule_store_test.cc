// RuleStore against a real PostgreSQL (SLUICE_TEST_DB).
#include "controller/store/rule_store.h"

#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <pqxx/pqxx>
#include <string>
#include <thread>
#include <vector>

#include "tests/controller/db_fixture.h"
#include "tests/support/free_port.h"

namespace sluice {
namespace {

using testing::ValidRule;

class RuleStoreTest : public testing::MigratedDatabaseTest {
 protected:
  void SetUp() override {
    MigratedDatabaseTest::SetUp();
    store_ = std::make_unique<RuleStore>(db_.get());
  }
  int64_t Revision() {
    StatusOr<int64_t> revision = store_->Revision();
    EXPECT_TRUE(revision.ok()) << revision.status().ToString();
    return revision.ok() ? *revision : -1;
  }
  std::unique_ptr<RuleStore> store_;
};

TEST_F(RuleStoreTest, CreateAssignsIdAndVersionAndBumpsRevision) {
  int64_t before = Revision();
  Rule rule = ValidRule("search");
  rule.id = 77;      // ignored
  rule.version = 5;  // ignored
  rule.mode = RuleMode::kShadow;
  rule.failure_mode = FailureMode::kClosed;
  rule.enabled = false;
  StatusOr<RuleStore::Change> created = store_->Create(rule);
  ASSERT_TRUE(created.ok()) << created.status().ToString();
  EXPECT_GT(created->rule.id, 0);
  EXPECT_NE(created->rule.id, 77);
  EXPECT_EQ(created->rule.version, 1);
  EXPECT_EQ(created->revision, before + 1);
  EXPECT_EQ(Revision(), before + 1);

  StatusOr<Rule> read = store_->Get(created->rule.id);
  ASSERT_TRUE(read.ok()) << read.status().ToString();
  Rule expected = rule;
  expected.id = created->rule.id;
  expected.version = 1;
  EXPECT_EQ(*read, expected);
  EXPECT_EQ(created->rule, expected);
}

TEST_F(RuleStoreTest, ListReturnsRulesByIdWithTheirRevision) {
  StatusOr<RuleStore::Listing> empty = store_->List();
  ASSERT_TRUE(empty.ok()) << empty.status().ToString();
  EXPECT_TRUE(empty->rules.empty());
  ASSERT_TRUE(store_->Create(ValidRule("b")).ok());
  StatusOr<RuleStore::Change> second = store_->Create(ValidRule("a"));
  ASSERT_TRUE(second.ok());
  StatusOr<RuleStore::Listing> listing = store_->List();
  ASSERT_TRUE(listing.ok()) << listing.status().ToString();
  ASSERT_EQ(listing->rules.size(), 2u);
  EXPECT_EQ(listing->rules[0].name, "b");
  EXPECT_EQ(listing->rules[1].name, "a");
  EXPECT_LT(listing->rules[0].id, listing->rules[1].id);
  EXPECT_EQ(listing->revision, second->revision);
  // Match pairs come back sorted by key.
  EXPECT_EQ(listing->rules[0].match,
            (std::vector<std::pair<std::string, std::string>>{
                {"client_id", "*"}, {"route", "/search"}}));
}

TEST_F(RuleStoreTest, UpdateReplacesTheRuleAndBumpsItsVersion) {
  StatusOr<RuleStore::Change> created = store_->Create(ValidRule("search"));
  ASSERT_TRUE(created.ok());
  Rule changed = ValidRule("search-renamed");
  changed.limit = 5;
  changed.burst = 7;
  changed.period_ms = 60000;
  changed.match = {{"tenant", "acme"}};
  StatusOr<RuleStore::Change> updated =
      store_->Update(created->rule.id, changed);
  ASSERT_TRUE(updated.ok()) << updated.status().ToString();
  EXPECT_EQ(updated->rule.id, created->rule.id);
  EXPECT_EQ(updated->rule.version, 2);
  EXPECT_EQ(updated->revision, created->revision + 1);
  StatusOr<Rule> read = store_->Get(created->rule.id);
  ASSERT_TRUE(read.ok());
  EXPECT_EQ(read->name, "search-renamed");
  EXPECT_EQ(read->limit, 5);
  EXPECT_EQ(read->burst, 7);
  EXPECT_EQ(read->period_ms, 60000);
  EXPECT_EQ(read->match, changed.match);
  EXPECT_EQ(read->version, 2);

  StatusOr<RuleStore::Change> again = store_->Update(created->rule.id, changed);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->rule.version, 3);
}

TEST_F(RuleStoreTest, DeleteRemovesTheRuleAndBumpsRevision) {
  StatusOr<RuleStore::Change> created = store_->Create(ValidRule("search"));
  ASSERT_TRUE(created.ok());
  StatusOr<int64_t> revision = store_->Delete(created->rule.id);
  ASSERT_TRUE(revision.ok()) << revision.status().ToString();
  EXPECT_EQ(*revision, created->revision + 1);
  EXPECT_EQ(store_->Get(created->rule.id).status().code(),
            Status::Code::kNotFound);
  EXPECT_EQ(store_->Delete(created->rule.id).status().code(),
            Status::Code::kNotFound);
  // Nothing changed, so the revision did not move.
  EXPECT_EQ(Revision(), *revision);
}

TEST_F(RuleStoreTest, UnknownIdsAreNotFound) {
  EXPECT_EQ(store_->Get(12345).status().code(), Status::Code::kNotFound);
  int64_t before = Revision();
  StatusOr<RuleStore::Change> updated =
      store_->Update(12345, ValidRule("nope"));
  EXPECT_EQ(updated.status().code(), Status::Code::kNotFound);
  EXPECT_EQ(Revision(), before);
}

TEST_F(RuleStoreTest, DuplicateNamesAreAlreadyExistsOnName) {
  ASSERT_TRUE(store_->Create(ValidRule("taken")).ok());
  StatusOr<RuleStore::Change> other = store_->Create(ValidRule("other"));
  ASSERT_TRUE(other.ok());
  int64_t before = Revision();

  StatusOr<RuleStore::Change> duplicate = store_->Create(ValidRule("taken"));
  ASSERT_FALSE(duplicate.ok());
  EXPECT_EQ(duplicate.status().code(), Status::Code::kAlreadyExists);
  EXPECT_EQ(duplicate.status().field(), "name");
  EXPECT_NE(duplicate.status().message().find("taken"), std::string::npos);

  StatusOr<RuleStore::Change> renamed =
      store_->Update(other->rule.id, ValidRule("taken"));
  ASSERT_FALSE(renamed.ok());
  EXPECT_EQ(renamed.status().code(), Status::Code::kAlreadyExists);
  EXPECT_EQ(renamed.status().field(), "name");
  // A refused change leaves the revision where it was.
  EXPECT_EQ(Revision(), before);
  // The connection is still usable after the aborted transaction.
  EXPECT_TRUE(store_->Create(ValidRule("third")).ok());
}

TEST_F(RuleStoreTest, InvalidRulesAreRefusedBeforeTheDatabase) {
  Rule rule = ValidRule("bad");
  rule.limit = 0;
  StatusOr<RuleStore::Change> created = store_->Create(rule);
  ASSERT_FALSE(created.ok());
  EXPECT_EQ(created.status().code(), Status::Code::kInvalidArgument);
  EXPECT_EQ(created.status().field(), "limit");
}

TEST_F(RuleStoreTest, ALostConnectionIsUnavailableThenReopened) {
  ASSERT_TRUE(store_->Create(ValidRule("before")).ok());
  const int64_t connections = db_->connection_count();
  {
    // Kill the store's session from outside, as a server restart would.
    pqxx::connection admin(test_db_->conninfo());
    pqxx::nontransaction tx(admin);
    tx.exec(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE "
        "datname = current_database() AND pid <> pg_backend_pid()");
  }
  StatusOr<RuleStore::Listing> during = store_->List();
  ASSERT_FALSE(during.ok());
  EXPECT_EQ(during.status().code(), Status::Code::kUnavailable)
      << during.status().ToString();
  StatusOr<RuleStore::Listing> after = store_->List();
  ASSERT_TRUE(after.ok()) << after.status().ToString();
  EXPECT_EQ(after->rules.size(), 1u);
  EXPECT_EQ(db_->connection_count(), connections + 1);
}

TEST_F(RuleStoreTest, ExpectedVersionIsCheckedUnderTheRowLock) {
  StatusOr<RuleStore::Change> created = store_->Create(ValidRule("search"));
  ASSERT_TRUE(created.ok());
  const int64_t id = created->rule.id;
  const VersionCondition expected = VersionCondition::OneOf({1}, "version 1");
  // Two writers on their own connections, both expecting version 1,
  // held at the row lock until both are waiting on it.
  pqxx::connection holder(test_db_->conninfo());
  pqxx::work hold(holder);
  hold.exec_params("SELECT 1 FROM rules WHERE id = $1 FOR UPDATE", id);
  std::vector<std::unique_ptr<Database>> dbs;
  std::vector<Status> results(2);
  std::vector<std::thread> writers;
  for (int i = 0; i < 2; ++i) {
    dbs.push_back(std::make_unique<Database>(test_db_->conninfo()));
    Database* db = dbs.back().get();
    writers.emplace_back([&, db, i] {
      Rule rule = ValidRule("search");
      rule.limit = 10 + i;
      results[i] =
          RuleStore(db)
              .Update(id, rule, Actor{0, "w" + std::to_string(i)}, expected)
              .status();
    });
  }
  pqxx::connection watcher(test_db_->conninfo());
  for (int i = 0; i < 500; ++i) {
    pqxx::nontransaction tx(watcher);
    if (tx.exec1("SELECT count(*) FROM pg_locks WHERE NOT granted")[0]
            .as<int>() >= 2) {
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  hold.commit();
  for (std::thread& writer : writers) writer.join();
  int ok = 0;
  int stale = 0;
  for (const Status& result : results) {
    ok += result.ok() ? 1 : 0;
    stale += result.code() == Status::Code::kAborted ? 1 : 0;
  }
  EXPECT_EQ(ok, 1) << results[0].ToString() << " / " << results[1].ToString();
  EXPECT_EQ(stale, 1);
  StatusOr<Rule> now = store_->Get(id);
  ASSERT_TRUE(now.ok());
  EXPECT_EQ(now->version, 2);
  StatusOr<std::vector<RuleStore::Version>> history = store_->History(id);
  ASSERT_TRUE(history.ok());
  EXPECT_EQ(history->size(), 2u);
}

TEST(RuleStoreUnreachableTest, EveryCallIsUnavailable) {
  Database db("host=127.0.0.1 port=" + std::to_string(testing::PickFreePort()) +
              " user=postgres dbname=postgres connect_timeout=2");
  RuleStore store(&db);
  EXPECT_EQ(store.List().status().code(), Status::Code::kUnavailable);
  EXPECT_EQ(store.Get(1).status().code(), Status::Code::kUnavailable);
  EXPECT_EQ(store.Create(ValidRule("x")).status().code(),
            Status::Code::kUnavailable);
  EXPECT_EQ(store.Update(1, ValidRule("x")).status().code(),
            Status::Code::kUnavailable);
  EXPECT_EQ(store.Delete(1).status().code(), Status::Code::kUnavailable);
  EXPECT_EQ(db.Ping().code(), Status::Code::kUnavailable);
}

}  // namespace
}  // namespace sluice
