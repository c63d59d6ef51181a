// Rule rows inside a caller's transaction: reading rules (locked for a
// change), and the three writes, each of which also appends the rule's new
// version to rule_versions and a row to the audit log, so a change, its
// history and its audit commit or roll back together.
//
// Shared by RuleStore (one rule per transaction) and ConfigStore (the whole
// set in one). Functions throw what pqxx throws (the caller's
// Database::Run maps it), except the expected refusals, returned as Status:
// AlreadyExists (field "name") for a taken name, InvalidArgument for a
// CHECK violation. After a returned refusal the transaction is aborted;
// the caller must return without using it again.
//
// Stateless; thread-safe.
#pragma once

#include <cstdint>
#include <optional>
#include <pqxx/pqxx>
#include <string>
#include <vector>

#include "common/rule.h"
#include "common/status.h"
#include "controller/store/audit_log.h"

namespace sluice::rule_rows {

// The columns FromRow() reads, for "SELECT <kColumns> FROM rules".
extern const char* const kColumns;

// A row of kColumns to a Rule. Internal for a value the controller cannot
// use (a hand-edited row).
StatusOr<Rule> FromRow(const pqxx::row& row);

// The rule `id`, locked FOR UPDATE until the transaction ends; nullopt when
// there is none.
Status Lock(pqxx::work& tx, int64_t id, std::optional<Rule>* out);
// Every rule by id, with the table locked against other writers (readers
// go on) until the transaction ends.
Status LockAll(pqxx::work& tx, std::vector<Rule>* out);

// Stores `rule` (its id and version ignored) as version 1.
StatusOr<Rule> Insert(pqxx::work& tx, const Rule& rule, const Actor& actor);
// Replaces `before` (as locked) with `desired`'s content; version + 1.
StatusOr<Rule> Update(pqxx::work& tx, const Rule& before, const Rule& desired,
                      const Actor& actor);
// Deletes `before` (as locked); its history gets a "delete" version.
Status Delete(pqxx::work& tx, const Rule& before, const Actor& actor);

// Bumps rules_state.revision (call once per transaction that changed
// rules, after the changes) and returns the new revision.
int64_t BumpRevision(pqxx::work& tx);

}  // namespace sluice::rule_rows
