// RuleStore: the rules table in PostgreSQL (migrations/0001 and 0002), one
// rule per transaction. ConfigStore (controller/store/config_store.h) changes
// the whole set at once.
//
// Every change runs in one transaction that also
//   - appends the rule's new version to rule_versions (History()),
//   - appends an audit_log row naming `actor`, with before and after,
//   - bumps rules_state.revision, the version of the whole rule set that
//     agents see, and returns it so the caller can update the RuleCatalog
//     in order.
// Update and Delete lock the row and check `expected` against its version
// inside that transaction: a stale one changes nothing and returns
// VersionCondition::Stale() (Aborted).
//
// Errors: NotFound for an unknown id; AlreadyExists (field "name") when
// another rule has the name; InvalidArgument (naming the field) for a rule
// that fails ValidateRule or a CHECK constraint; Unavailable when
// PostgreSQL is unreachable or the commit's outcome is unknown (the
// connection is reopened on the next call, see controller/store/database.h).
//
// Thread-safe. All calls share the Database's single connection, one at a
// time (enough for the admin API; a pool can come later behind Database).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/rule.h"
#include "common/status.h"
#include "controller/store/audit_log.h"
#include "controller/store/database.h"
#include "controller/store/version_condition.h"

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
  // One entry of a rule's history.
  struct Version {
    int64_t version = 0;
    std::string action;  // "create", "update", "delete", "baseline"
    std::string at;      // RFC 3339 UTC
    std::string actor;   // token name
    Rule rule;           // the rule at this version (as deleted, for
                         // "delete"); rule.version == version
  };

  // Every rule and the revision they make up, read in one snapshot.
  StatusOr<Listing> List();
  StatusOr<Rule> Get(int64_t id);
  // The current revision.
  StatusOr<int64_t> Revision();
  // Every version of rule `id`, oldest first; the history outlives the
  // rule. NotFound when the id never existed.
  StatusOr<std::vector<Version>> History(int64_t id);

  // Stores a new rule (its id and version are ignored); the result has the
  // assigned id and version 1.
  StatusOr<Change> Create(const Rule& rule, const Actor& actor = Actor());
  // Replaces rule `id` with `rule` (whose id and version are ignored); the
  // version goes up by one.
  StatusOr<Change> Update(
      int64_t id, const Rule& rule, const Actor& actor = Actor(),
      const VersionCondition& expected = VersionCondition());
  // Deletes rule `id`; returns the new revision.
  StatusOr<int64_t> Delete(
      int64_t id, const Actor& actor = Actor(),
      const VersionCondition& expected = VersionCondition());

 private:
  Database* const db_;
};

}  // namespace sluice
