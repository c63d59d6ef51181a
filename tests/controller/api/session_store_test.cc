// SessionStore on a ManualClock: lifetime, sign-out, revocation, the cap,
// and the cookie header parser.
#include "controller/api/session_store.h"

#include <gtest/gtest.h>

#include <set>
#include <string>

namespace sluice {
namespace {

TEST(SessionStoreTest, ASessionLastsItsLifetimeAndNoLonger) {
  ManualClock clock(1000);
  SessionStore store(&clock, /*rows=*/nullptr, /*lifetime_seconds=*/60);
  StatusOr<std::string> id = store.Create(7);
  ASSERT_TRUE(id.ok());
  EXPECT_GE(id.value().size(), 40u);
  EXPECT_EQ(store.Find(id.value()), 7);
  clock.Advance(60 * kNanosPerSecond - 1);
  EXPECT_EQ(store.Find(id.value()), 7);
  clock.Advance(1);
  EXPECT_FALSE(store.Find(id.value()).has_value());
}

TEST(SessionStoreTest, EndAndEndAllOf) {
  ManualClock clock;
  SessionStore store(&clock);
  std::string a = store.Create(1).value();
  std::string b = store.Create(1).value();
  std::string c = store.Create(2).value();
  EXPECT_NE(a, b);
  store.End(a);
  EXPECT_FALSE(store.Find(a).has_value());
  EXPECT_EQ(store.Find(b), 1);
  store.EndAllOf(1);
  EXPECT_FALSE(store.Find(b).has_value());
  EXPECT_EQ(store.Find(c), 2);
  EXPECT_FALSE(store.Find("").has_value());
  EXPECT_FALSE(store.Find("made-up").has_value());
}

TEST(SessionStoreTest, IdsAreUniqueAndTheStoreIsCapped) {
  ManualClock clock;
  SessionStore store(&clock);
  std::set<std::string> ids;
  std::string first;
  for (size_t i = 0; i < SessionStore::kMaxSessions + 5; ++i) {
    clock.Advance(1);  // the first one ends first
    std::string id = store.Create(static_cast<int64_t>(i)).value();
    if (i == 0) first = id;
    ids.insert(id);
  }
  EXPECT_EQ(ids.size(), SessionStore::kMaxSessions + 5);
  EXPECT_EQ(store.size(), SessionStore::kMaxSessions);
  EXPECT_FALSE(store.Find(first).has_value());
}

TEST(SessionStoreTest, FromCookieHeader) {
  EXPECT_EQ(SessionStore::FromCookieHeader("sluice_session=abc"), "abc");
  EXPECT_EQ(SessionStore::FromCookieHeader("a=1; sluice_session=x-y_z; b=2"),
            "x-y_z");
  EXPECT_EQ(SessionStore::FromCookieHeader("a=1;sluice_session=q"), "q");
  EXPECT_EQ(SessionStore::FromCookieHeader("xsluice_session=abc"), "");
  EXPECT_EQ(SessionStore::FromCookieHeader("sluice_sessionx=abc"), "");
  EXPECT_EQ(SessionStore::FromCookieHeader(""), "");
}

}  // namespace
}  // namespace sluice
