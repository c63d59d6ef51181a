// RuleStore: the rules table in PostgreSQL (migrations/0001_init.sql).
//
// Every change runs in one transaction that also bumps rules_state.revision,
// the version of the whole rule set that agents see, and returns the new
// revision so the caller can update the RuleCatalog in order.
//
// Errors: NotFound for an unknown id; AlreadyExists (field "name") when
// another rule has the name; InvalidArgument (naming the field) for a rule
// that fails ValidateRule or a CHECK constraint; Unavailable when
// PostgreSQL is unreachable (the connection is reopened on the next call,
// see controller/database.h).
//
// Thread-safe. All calls share the Database's single connection, one at a
// time (enough for the admin API; a pool can come later behind Database).
#pragma once

#include <cstdint>
#include <vector>

#include "common/rule.h"
#include "common/status.h"
#include "controller/database.h"

namespace sluice {

class RuleStore {
 public:
  // `db` must outlive the store.
  explicit RuleStore(Database* db) : db_(db) {}

  struct Listing {
    int64_t revision = 0;
    std::vector<Rule> rules;  // sorted by id
  };
  struct Change {
    int64_t revision = 0;  // rules_state.revision after the change
    Rule rule;             // as stored, with id and version
  };

  // Every rule and the revision they make up, read in one snapshot.
  StatusOr<Listing> List();
  StatusOr<Rule> Get(int64_t id);
  // The current revision.
  StatusOr<int64_t> Revision();

  // Stores a new rule (its id and version are ignored); the result has the
  // assigned id and version 1.
  StatusOr<Change> Create(const Rule& rule);
  // Replaces rule `id` with `rule` (whose id and version are ignored); the
  // version goes up by one.
  StatusOr<Change> Update(int64_t id, const Rule& rule);
  // Deletes rule `id`; returns the new revision.
  StatusOr<int64_t> Delete(int64_t id);

 private:
  Database* const db_;
};

}  // namespace sluice
