#include "controller/store/rule_store.h"

#include <optional>
#include <pqxx/pqxx>
#include <string>
#include <utility>

#include "common/rule_json.h"
#include "controller/store/rule_rows.h"

namespace sluice {
namespace {

Status NoSuchRule(int64_t id, const std::string& hint) {
  return Status::NotFound("no rule with id " + std::to_string(id) + "; " +
                          hint);
}

}  // namespace

StatusOr<RuleStore::Listing> RuleStore::List() {
  Listing listing;
  Status status = db_->Run([&](pqxx::connection& conn) {
    pqxx::transaction<pqxx::repeatable_read, pqxx::read_only> tx(conn,
                                                                 "list-rules");
    listing.revision =
        tx.exec1("SELECT revision FROM rules_state")[0].as<int64_t>();
    pqxx::result rows = tx.exec(std::string("SELECT ") + rule_rows::kColumns +
                                " FROM rules ORDER BY id");
    tx.commit();
    listing.rules.clear();
    listing.rules.reserve(rows.size());
    for (const pqxx::row& row : rows) {
      StatusOr<Rule> rule = rule_rows::FromRow(row);
      if (!rule.ok()) return rule.status();
      listing.rules.push_back(std::move(rule).value());
    }
    return Status::Ok();
  });
  if (!status.ok()) return status;
  return listing;
}

StatusOr<Rule> RuleStore::Get(int64_t id) {
  Rule rule;
  Status status = db_->Run([&](pqxx::connection& conn) {
    pqxx::read_transaction tx(conn, "get-rule");
    pqxx::result rows =
        tx.exec_params(std::string("SELECT ") + rule_rows::kColumns +
                           " FROM rules WHERE id = $1",
                       id);
    tx.commit();
    if (rows.empty()) {
      return NoSuchRule(id, "GET /api/v1/rules lists the rules");
    }
    StatusOr<Rule> found = rule_rows::FromRow(rows[0]);
    if (!found.ok()) return found.status();
    rule = std::move(found).value();
    return Status::Ok();
  });
  if (!status.ok()) return status;
  return rule;
}

StatusOr<int64_t> RuleStore::Revision() {
  int64_t revision = 0;
  Status status = db_->Run([&](pqxx::connection& conn) {
    pqxx::read_transaction tx(conn, "revision");
    revision = tx.exec1("SELECT revision FROM rules_state")[0].as<int64_t>();
    tx.commit();
    return Status::Ok();
  });
  if (!status.ok()) return status;
  return revision;
}

StatusOr<std::vector<RuleStore::Version>> RuleStore::History(int64_t id) {
  std::vector<Version> versions;
  Status status = db_->Run([&](pqxx::connection& conn) {
    pqxx::read_transaction tx(conn, "rule-history");
    // The same column order as rule_rows::kColumns, then the history's own.
    pqxx::result rows = tx.exec_params(
        "SELECT rule_id, name, domain, match::text, limit_tokens, period_ms, "
        "burst, mode, failure_mode, enabled, version, action, "
        "to_char(changed_at AT TIME ZONE 'UTC', "
        "'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'), actor "
        "FROM rule_versions WHERE rule_id = $1 ORDER BY version",
        id);
    tx.commit();
    if (rows.empty()) {
      return NoSuchRule(id, "the history lists rules that exist or existed");
    }
    versions.clear();
    for (const pqxx::row& row : rows) {
      StatusOr<Rule> rule = rule_rows::FromRow(row);
      if (!rule.ok()) return rule.status();
      Version version;
      version.version = rule->version;
      version.rule = std::move(rule).value();
      version.action = row[11].as<std::string>();
      version.at = row[12].as<std::string>();
      version.actor = row[13].as<std::string>();
      versions.push_back(std::move(version));
    }
    return Status::Ok();
  });
  if (!status.ok()) return status;
  return versions;
}

StatusOr<RuleStore::Change> RuleStore::Create(const Rule& rule,
                                              const Actor& actor) {
  Status valid = ValidateRule(rule);
  if (!valid.ok()) return valid;
  Change change;
  Status status = db_->Run([&](pqxx::connection& conn) {
    pqxx::work tx(conn, "create-rule");
    StatusOr<Rule> stored = rule_rows::Insert(tx, rule, actor);
    if (!stored.ok()) return stored.status();
    change.revision = rule_rows::BumpRevision(tx);
    tx.commit();
    change.rule = std::move(stored).value();
    return Status::Ok();
  });
  if (!status.ok()) return status;
  return change;
}

namespace {

// Locks rule `id` for a change in `tx` and checks If-Match: NotFound (with
// `hint`) when it does not exist, Aborted when `expected` is stale.
Status LockForChange(pqxx::work& tx, int64_t id,
                     const VersionCondition& expected, const std::string& hint,
                     std::optional<Rule>* before) {
  Status locked = rule_rows::Lock(tx, id, before);
  if (!locked.ok()) return locked;
  if (!before->has_value()) return NoSuchRule(id, hint);
  if (!expected.Allows((*before)->version)) {
    return expected.Stale("rule " + std::to_string(id), (*before)->version);
  }
  return Status::Ok();
}

}  // namespace

StatusOr<RuleStore::Change> RuleStore::Update(
    int64_t id, const Rule& rule, const Actor& actor,
    const VersionCondition& expected) {
  Status valid = ValidateRule(rule);
  if (!valid.ok()) return valid;
  Change change;
  Status status = db_->Run([&](pqxx::connection& conn) {
    pqxx::work tx(conn, "update-rule");
    std::optional<Rule> before;
    Status locked = LockForChange(tx, id, expected,
                                  "create it with POST /api/v1/rules", &before);
    if (!locked.ok()) return locked;
    StatusOr<Rule> stored = rule_rows::Update(tx, *before, rule, actor);
    if (!stored.ok()) return stored.status();
    change.revision = rule_rows::BumpRevision(tx);
    tx.commit();
    change.rule = std::move(stored).value();
    return Status::Ok();
  });
  if (!status.ok()) return status;
  return change;
}

StatusOr<int64_t> RuleStore::Delete(int64_t id, const Actor& actor,
                                    const VersionCondition& expected) {
  int64_t revision = 0;
  Status status = db_->Run([&](pqxx::connection& conn) {
    pqxx::work tx(conn, "delete-rule");
    std::optional<Rule> before;
    Status locked = LockForChange(tx, id, expected,
                                  "GET /api/v1/rules lists the rules", &before);
    if (!locked.ok()) return locked;
    Status deleted = rule_rows::Delete(tx, *before, actor);
    if (!deleted.ok()) return deleted;
    revision = rule_rows::BumpRevision(tx);
    tx.commit();
    return Status::Ok();
  });
  if (!status.ok()) return status;
  return revision;
}

}  // namespace sluice
