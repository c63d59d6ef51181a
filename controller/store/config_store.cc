#include "controller/store/config_store.h"

#include <pqxx/pqxx>
#include <string>
#include <utility>

#include "common/rule_json.h"
#include "controller/store/rule_rows.h"

namespace sluice {
namespace {

// A refusal for one rule of the document, naming it.
Status ForRule(const Status& status, const Rule& rule) {
  if (status.code() != Status::Code::kInvalidArgument &&
      status.code() != Status::Code::kAlreadyExists) {
    return status;
  }
  return Status::InvalidArgument(
      "rule '" + rule.name + "': " + status.message(),
      status.field().empty() ? "rules" : "rules." + status.field());
}

}  // namespace

StatusOr<ConfigStore::Result> ConfigStore::Replace(
    const std::vector<Rule>& desired, const Actor& actor, bool dry_run,
    const VersionCondition& expected) {
  for (const Rule& rule : desired) {
    Status valid = ValidateRule(rule);
    if (!valid.ok()) return ForRule(valid, rule);
  }
  Result result;
  Status status = db_->Run([&](pqxx::connection& conn) {
    pqxx::work tx(conn, "replace-config");
    std::vector<Rule> current;
    Status locked = rule_rows::LockAll(tx, &current);
    if (!locked.ok()) return locked;
    int64_t revision =
        tx.exec1("SELECT revision FROM rules_state")[0].as<int64_t>();
    if (!expected.Allows(revision)) {
      return expected.Stale("the rule set", revision);
    }
    ConfigPlan plan = PlanConfig(current, desired);
    result = Result();
    result.diff = std::move(plan.diff);
    result.revision = revision;
    if (dry_run || result.diff.changes_nothing()) {
      tx.commit();  // read only; releases the lock
      return Status::Ok();
    }
    for (const Rule& rule : plan.remove) {
      Status deleted = rule_rows::Delete(tx, rule, actor);
      if (!deleted.ok()) return ForRule(deleted, rule);
    }
    for (const auto& [before, wanted] : plan.update) {
      StatusOr<Rule> updated = rule_rows::Update(tx, before, wanted, actor);
      if (!updated.ok()) return ForRule(updated.status(), wanted);
    }
    for (const Rule& rule : plan.create) {
      StatusOr<Rule> created = rule_rows::Insert(tx, rule, actor);
      if (!created.ok()) return ForRule(created.status(), rule);
    }
    result.revision = rule_rows::BumpRevision(tx);
    pqxx::result rows = tx.exec(std::string("SELECT ") + rule_rows::kColumns +
                                " FROM rules ORDER BY id");
    for (const pqxx::row& row : rows) {
      StatusOr<Rule> rule = rule_rows::FromRow(row);
      if (!rule.ok()) return rule.status();
      result.rules.push_back(std::move(rule).value());
    }
    tx.commit();
    result.committed = true;
    return Status::Ok();
  });
  if (!status.ok()) return status;
  return result;
}

}  // namespace sluice
