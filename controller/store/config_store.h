// ConfigStore: replaces the whole rule set at once (PUT /api/v1/config).
//
// Replace() runs in one transaction: it locks the rules table against other
// writers, checks `expected` against the rule-set revision, plans the change
// by name (controller/store/config_diff.h), and applies it: deletes, updates,
// creates, each with its rule version and audit row
// (controller/store/rule_rows.h), then one revision bump, so agents see the new
// set in one step. With dry_run, or when the plan changes nothing, nothing is
// written and the revision stays.
//
// Errors as RuleStore's (controller/store/rule_store.h). A rule the database
// refuses is InvalidArgument whose message names the rule; the whole
// replacement is then rolled back.
//
// Thread-safe (through the Database).
#pragma once

#include <cstdint>
#include <vector>

#include "common/rule.h"
#include "common/status.h"
#include "controller/store/audit_log.h"
#include "controller/store/config_diff.h"
#include "controller/store/database.h"
#include "controller/store/version_condition.h"

namespace sluice {

class ConfigStore {
 public:
  // `db` must outlive this.
  explicit ConfigStore(Database* db) : db_(db) {}

  struct Result {
    ConfigDiff diff;
    bool committed = false;   // changes were written (not dry run, not empty)
    int64_t revision = 0;     // the rule-set revision after (or as it is)
    std::vector<Rule> rules;  // the rule set after, by id (when committed)
  };

  // `desired` must be valid rules with unique names (ParseConfigDocument).
  StatusOr<Result> Replace(
      const std::vector<Rule>& desired, const Actor& actor, bool dry_run,
      const VersionCondition& expected = VersionCondition());

 private:
  Database* const db_;
};

}  // namespace sluice
