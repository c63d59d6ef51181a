// MembershipStore::Beat on a real, migrated PostgreSQL database: one call
// of controller_beat() (migrations/0015_controller_beat.sql) per round.
// Several member ids stand for several controllers on one database; their
// silence is made by moving heartbeat_at back, never by sleeping.
#include "controller/cluster/membership_store.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <memory>
#include <pqxx/pqxx>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include "tests/controller/db_fixture.h"

namespace sluice {
namespace {

constexpr int64_t kDeadMs = 3000;
constexpr int64_t kForgetMs = 10000;

MemberInfo Member(const std::string& id, const std::string& endpoint = "") {
  return {id, endpoint.empty() ? "tcp://" + id + ":7070" : endpoint,
          "http-" + id, "v-" + id};
}

std::vector<std::string> Ids(const std::vector<ControllerMember>& members) {
  std::vector<std::string> ids;
  for (const ControllerMember& m : members) ids.push_back(m.id);
  return ids;
}

std::vector<std::string> RowIds(const BeatResult& beat) {
  std::vector<std::string> ids;
  for (const MemberRow& row : beat.rows) ids.push_back(row.id);
  std::sort(ids.begin(), ids.end());
  return ids;
}

class MembershipStoreTest : public testing::MigratedDatabaseTest {
 protected:
  void SetUp() override {
    MigratedDatabaseTest::SetUp();
    store_ = std::make_unique<MembershipStore>(db_.get());
  }

  BeatResult Beat(const MemberInfo& self, bool replace_same_endpoint = false) {
    StatusOr<BeatResult> beat =
        store_->Beat(self, kDeadMs, kForgetMs, replace_same_endpoint);
    EXPECT_TRUE(beat.ok()) << beat.status().ToString();
    return beat.ok() ? std::move(beat).value() : BeatResult{};
  }

  std::string Sql(const std::string& sql) { return test_db_->Sql(sql); }

  // `id` last beat `ms` ago.
  void Silence(const std::string& id, int64_t ms) {
    Sql("UPDATE controllers SET heartbeat_at = clock_timestamp() - " +
        std::to_string(ms) + " * interval '1 millisecond' WHERE id = '" + id +
        "'");
  }

  std::unique_ptr<MembershipStore> store_;
};

TEST_F(MembershipStoreTest, AJoinStoresANewSetWithVersionPlusOneAndOnlyThen) {
  BeatResult first = Beat(Member("a"));
  EXPECT_EQ(first.previous.version, 0);
  EXPECT_TRUE(first.previous.members.empty());
  EXPECT_TRUE(first.replaced);
  EXPECT_EQ(first.stored.version, 1);
  ASSERT_EQ(first.stored.members.size(), 1u);
  EXPECT_EQ(first.stored.members[0].id, "a");
  EXPECT_EQ(first.stored.members[0].endpoint, "tcp://a:7070");
  const std::string changed_at = Sql("SELECT changed_at FROM controller_set");

  // Nothing changed: the same version, not written again.
  BeatResult again = Beat(Member("a"));
  EXPECT_FALSE(again.replaced);
  EXPECT_EQ(again.previous, first.stored);
  EXPECT_EQ(again.stored, first.stored);
  EXPECT_EQ(Sql("SELECT changed_at FROM controller_set"), changed_at);

  // b joins: version 2 names both.
  BeatResult joined = Beat(Member("b"));
  EXPECT_TRUE(joined.replaced);
  EXPECT_EQ(joined.previous, first.stored);
  EXPECT_EQ(joined.stored.version, 2);
  EXPECT_EQ(Ids(joined.stored.members), (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(Sql("SELECT version FROM controller_set"), "2");
  EXPECT_EQ(Sql("SELECT members = '[{\"id\": \"a\", \"endpoint\": "
                "\"tcp://a:7070\"}, {\"id\": \"b\", \"endpoint\": "
                "\"tcp://b:7070\"}]'::jsonb FROM controller_set"),
            "t");

  BeatResult from_a = Beat(Member("a"));
  EXPECT_FALSE(from_a.replaced);
  EXPECT_EQ(from_a.stored, joined.stored);
  EXPECT_EQ(Sql("SELECT version FROM controller_set"), "2");
}

TEST_F(MembershipStoreTest, DeadMembersLeaveTheSetAndSilentRowsAreDeleted) {
  Beat(Member("a"));
  Beat(Member("b"));
  Beat(Member("c"));
  Silence("b", kDeadMs + 1000);    // dead, still listed
  Silence("c", kForgetMs + 1000);  // forgotten
  BeatResult beat = Beat(Member("a"));
  EXPECT_TRUE(beat.replaced);
  EXPECT_EQ(Ids(beat.stored.members), (std::vector<std::string>{"a"}));
  EXPECT_EQ(RowIds(beat), (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(Sql("SELECT count(*) FROM controllers WHERE id = 'c'"), "0");
  EXPECT_EQ(Sql("SELECT count(*) FROM controllers WHERE id = 'b'"), "1");
}

TEST_F(MembershipStoreTest, ReplaceSameEndpointDeletesTheEarlierIncarnation) {
  Beat(Member("old", "tcp://here:7070"));
  Beat(Member("other", "tcp://there:7070"));
  // Not asked: both incarnations stay (and are live).
  BeatResult kept = Beat(Member("new", "tcp://here:7070"));
  EXPECT_EQ(Ids(kept.stored.members),
            (std::vector<std::string>{"new", "old", "other"}));
  BeatResult replaced =
      Beat(Member("new", "tcp://here:7070"), /*replace_same_endpoint=*/true);
  EXPECT_TRUE(replaced.replaced);
  EXPECT_EQ(Ids(replaced.stored.members),
            (std::vector<std::string>{"new", "other"}));
  EXPECT_EQ(RowIds(replaced), (std::vector<std::string>{"new", "other"}));
}

TEST_F(MembershipStoreTest, MembersAreInByteOrderWhateverTheCollation) {
  // A linguistic collation sorts "a" before "B"; bytes do the opposite.
  ASSERT_EQ(Sql("SELECT count(*) FROM pg_collation WHERE collname = "
                "'und-x-icu'"),
            "1")
      << "this test needs a PostgreSQL built with ICU";
  Sql("ALTER TABLE controllers ALTER COLUMN id TYPE text COLLATE "
      "\"und-x-icu\"");
  Beat(Member("a"));
  BeatResult beat = Beat(Member("B"));
  EXPECT_EQ(Ids(beat.stored.members), (std::vector<std::string>{"B", "a"}));
  EXPECT_TRUE(ValidateControllerSet(beat.stored).ok());
  // Stored so too: the next beat finds no change.
  EXPECT_FALSE(Beat(Member("a")).replaced);
}

TEST_F(MembershipStoreTest, ReadsTheRulesRevision) {
  EXPECT_EQ(Beat(Member("a")).rules_revision, 1);
  Sql("UPDATE rules_state SET revision = 42");
  EXPECT_EQ(Beat(Member("a")).rules_revision, 42);
}

TEST_F(MembershipStoreTest, RowsCarryTheMembersDetailsAndAges) {
  Beat(Member("a"));
  const std::string started =
      Sql("SELECT started_at FROM controllers WHERE id = 'a'");
  Beat(Member("b"));
  Silence("b", 2000);
  // A known id renews endpoint and http, not version or started_at.
  MemberInfo moved = Member("a", "tcp://moved:7070");
  moved.http = "http-moved";
  moved.version = "v-ignored";
  BeatResult beat = Beat(moved);
  ASSERT_EQ(beat.rows.size(), 2u);
  const MemberRow& a = beat.rows[0].id == "a" ? beat.rows[0] : beat.rows[1];
  const MemberRow& b = beat.rows[0].id == "a" ? beat.rows[1] : beat.rows[0];
  EXPECT_EQ(a.endpoint, "tcp://moved:7070");
  EXPECT_EQ(a.http, "http-moved");
  EXPECT_EQ(a.version, "v-a");
  EXPECT_EQ(b.endpoint, "tcp://b:7070");
  EXPECT_EQ(b.http, "http-b");
  EXPECT_EQ(b.version, "v-b");
  const std::regex iso(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z)");
  EXPECT_TRUE(std::regex_match(a.started_at, iso)) << a.started_at;
  EXPECT_EQ(Sql("SELECT to_char(started_at AT TIME ZONE 'UTC', "
                "'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"') FROM controllers WHERE "
                "id = 'a'"),
            a.started_at);
  EXPECT_EQ(Sql("SELECT started_at FROM controllers WHERE id = 'a'"), started);
  EXPECT_GE(a.heartbeat_age_ms, 0);
  EXPECT_LT(a.heartbeat_age_ms, 1000);
  EXPECT_GE(b.heartbeat_age_ms, 2000);
  EXPECT_LT(b.heartbeat_age_ms, 3000);
  EXPECT_EQ(beat.stored.members[0].endpoint, "tcp://moved:7070");
}

TEST_F(MembershipStoreTest, OnlyIdAndEndpointOfTheStoredMembersCompare) {
  Beat(Member("a"));
  Sql("UPDATE controller_set SET members = '[{\"id\": \"a\", \"endpoint\": "
      "\"tcp://a:7070\", \"note\": 1}]'");
  BeatResult beat = Beat(Member("a"));
  EXPECT_FALSE(beat.replaced);
  EXPECT_EQ(beat.stored.version, 1);
  EXPECT_EQ(Ids(beat.stored.members), (std::vector<std::string>{"a"}));
}

TEST_F(MembershipStoreTest, AMissingSetRowIsInternalAndUndoesTheBeat) {
  Sql("DELETE FROM controller_set");
  StatusOr<BeatResult> beat =
      store_->Beat(Member("a"), kDeadMs, kForgetMs, false);
  ASSERT_FALSE(beat.ok());
  EXPECT_EQ(beat.status().code(), Status::Code::kInternal);
  EXPECT_NE(beat.status().message().find("controller_set row is missing"),
            std::string::npos)
      << beat.status().ToString();
  EXPECT_EQ(Sql("SELECT count(*) FROM controllers"), "0");
}

TEST_F(MembershipStoreTest, MalformedStoredMembersAreInternal) {
  Beat(Member("a"));
  Sql("UPDATE controller_set SET members = '[{\"id\": 7}]'");
  StatusOr<BeatResult> beat =
      store_->Beat(Member("b"), kDeadMs, kForgetMs, false);
  ASSERT_FALSE(beat.ok());
  EXPECT_EQ(beat.status().code(), Status::Code::kInternal);
  EXPECT_NE(beat.status().message().find("without string id and endpoint"),
            std::string::npos)
      << beat.status().ToString();
  EXPECT_EQ(Sql("SELECT count(*) FROM controllers WHERE id = 'b'"), "0");
}

TEST_F(MembershipStoreTest, ASetStoredMeanwhileIsAdoptedUnderTheLock) {
  // Another controller holds the row's lock and stores what this beat
  // would: the beat waits, reads it again and keeps it.
  pqxx::connection other(test_db_->conninfo());
  pqxx::work tx(other);
  tx.exec(
      "UPDATE controller_set SET version = 7, members = '[{\"id\": \"a\", "
      "\"endpoint\": \"tcp://a:7070\"}]'");
  StatusOr<BeatResult> beat = Status::Internal("not run");
  std::thread beating(
      [&] { beat = store_->Beat(Member("a"), kDeadMs, kForgetMs, false); });
  bool waiting = false;
  for (int i = 0; i < 1000 && !waiting; ++i) {
    waiting = Sql("SELECT count(*) FROM pg_stat_activity WHERE "
                  "wait_event_type = 'Lock' AND query LIKE "
                  "'%controller_beat%'") == "1";
    if (!waiting) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_TRUE(waiting);
  tx.commit();
  beating.join();
  ASSERT_TRUE(beat.ok()) << beat.status().ToString();
  EXPECT_EQ(beat->previous.version, 0);
  EXPECT_FALSE(beat->replaced);
  EXPECT_EQ(beat->stored.version, 7);
  EXPECT_EQ(Ids(beat->stored.members), (std::vector<std::string>{"a"}));
  EXPECT_EQ(Sql("SELECT version FROM controller_set"), "7");
}

}  // namespace
}  // namespace sluice
