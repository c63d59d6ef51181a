// ConfigStore: replaces the whole rule set at once (PUT /api/v1/config).
//
// Replace() runs in one transaction: it locks the rules table against other
// writers, checks `if_match` against the rule-set revision, plans the change
// by name (controller/config_diff.h), and applies it: deletes, updates,
// creates, each with its rule version and audit row (controller/rule_rows.h),
// then one revision bump, so agents see the new set in one step. With
// dry_run, or when the plan changes nothing, nothing is written and the
// revision stays.
//
// Errors as RuleStore's (controller/rule_store.h). A rule the database
// refuses is InvalidArgument whose message names the rule; the whole
// replacement is then rolled back.
//
// Thread-safe (through the Database).
#pragma once

#include <cstdint>
#include <vector>

#include "common/rule.h"
#include "common/status.h"
#include "controller/audit_log.h"
#include "controller/config_diff.h"
#include "controller/database.h"
#include "controller/if_match.h"

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
  StatusOr<Result> Replace(const std::vector<Rule>& desired, const Actor& actor,
                           bool dry_run, const IfMatch& if_match = IfMatch());

 private:
  Database* const db_;
};

}  // namespace sluice
