#include "controller/catalog/rule_catalog.h"

#include <gtest/gtest.h>

#include <atomic>

#include "tests/common/test_rule.h"

namespace sluice {
namespace {

using testing_rules::MakeRule;

// Listeners hear every change the catalog applies, and only those: the
// lease server wakes on them to push a change to its agents at once.
TEST(RuleCatalogTest, ListenersHearEachAppliedChangeAndNoIgnoredOne) {
  RuleCatalog catalog;
  int heard = 0;
  const int id = catalog.AddListener([&] { ++heard; });
  catalog.Replace(2, {MakeRule(1, "api", {})});
  EXPECT_EQ(heard, 1);
  catalog.Upsert(3, MakeRule(2, "api", {}));
  EXPECT_EQ(heard, 2);
  catalog.Upsert(3, MakeRule(2, "api", {}));  // not newer: ignored
  catalog.Remove(2, 1);                       // older: ignored
  catalog.Replace(1, {});                     // older: ignored
  EXPECT_EQ(heard, 2);
  catalog.Remove(4, 1);
  EXPECT_EQ(heard, 3);
  EXPECT_EQ(catalog.version(), 4);
  EXPECT_EQ(catalog.Get().rules.size(), 1u);
  catalog.RemoveListener(id);
  catalog.Upsert(5, MakeRule(3, "api", {}));
  EXPECT_EQ(heard, 3);
}

TEST(RuleCatalogTest, EachListenerIsCalledAndRemovedOnItsOwn) {
  RuleCatalog catalog;
  std::atomic<int> a{0}, b{0};
  const int first = catalog.AddListener([&] { ++a; });
  catalog.AddListener([&] { ++b; });
  catalog.Upsert(1, MakeRule(1, "api", {}));
  catalog.RemoveListener(first);
  catalog.RemoveListener(12345);  // unknown: nothing happens
  catalog.Upsert(2, MakeRule(1, "api", {}));
  EXPECT_EQ(a.load(), 1);
  EXPECT_EQ(b.load(), 2);
}

}  // namespace
}  // namespace sluice
