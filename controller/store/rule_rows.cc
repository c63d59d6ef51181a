#include "controller/store/rule_rows.h"

#include <nlohmann/json.hpp>
#include <utility>

#include "common/rule_json.h"
#include "controller/store/database.h"

namespace sluice::rule_rows {

const char* const kColumns =
    "id, name, domain, match::text, limit_tokens, period_ms, burst, mode, "
    "failure_mode, enabled, version";

namespace {

std::string MatchJson(const Rule& rule) {
  nlohmann::json match = nlohmann::json::object();
  for (const auto& [key, value] : rule.match) match[key] = value;
  return match.dump();
}

Status NameTaken(const Rule& rule) {
  return Status::AlreadyExists(
      "a rule named '" + rule.name +
          "' already exists; choose another name, or change that rule with "
          "PUT /api/v1/rules/{id}",
      "name");
}

// A CHECK violation means ValidateRule let through something the schema
// refuses; report it against the field its constraint guards.
Status CheckFailed(const pqxx::check_violation& e) {
  std::string message = TrimPqxxMessage(e.what());
  std::string field;
  for (const char* f : {"name", "domain", "match", "limit", "period", "burst",
                        "failure_mode", "mode"}) {
    if (message.find(std::string("rules_") + f) != std::string::npos) {
      field = f;
      break;
    }
  }
  return Status::InvalidArgument(
      "the database refused the rule: " + message +
          "; see the limits in the REST API documentation",
      field);
}

// Appends `rule` (as it now is, or was when deleted) to rule_versions.
void RecordVersion(pqxx::work& tx, const Rule& rule, int64_t version,
                   const char* action, const Actor& actor) {
  tx.exec_params(
      "INSERT INTO rule_versions (rule_id, version, action, actor, name, "
      "domain, match, limit_tokens, period_ms, burst, mode, failure_mode, "
      "enabled) VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb, $8, $9, $10, $11, "
      "$12, $13)",
      rule.id, version, action, actor.name, rule.name, rule.domain,
      MatchJson(rule), rule.limit, rule.period_ms, rule.burst,
      std::string(RuleModeName(rule.mode)),
      std::string(FailureModeName(rule.failure_mode)), rule.enabled);
}

void Audit(pqxx::work& tx, const Actor& actor, const char* action,
           const Rule& target, const Rule* before, const Rule* after) {
  AuditRecord record;
  record.action = action;
  record.target_kind = "rule";
  record.target_id = target.id;
  record.target_name = target.name;
  if (before != nullptr) record.before = RuleToJson(*before);
  if (after != nullptr) record.after = RuleToJson(*after);
  AuditLog::Append(tx, actor, record);
}

}  // namespace

StatusOr<Rule> FromRow(const pqxx::row& row) {
  Rule rule;
  rule.id = row[0].as<int64_t>();
  rule.name = row[1].as<std::string>();
  rule.domain = row[2].as<std::string>();
  const std::string where = "rule " + std::to_string(rule.id) + " ('" +
                            rule.name + "') in the database has ";
  nlohmann::json match =
      nlohmann::json::parse(row[3].as<std::string>(), nullptr, false);
  if (match.is_discarded() || !match.is_object()) {
    return Status::Internal(where + "a match that is not a JSON object");
  }
  for (const auto& [key, value] : match.items()) {
    if (!value.is_string()) {
      return Status::Internal(where + "a non-string match value for '" + key +
                              "'");
    }
    rule.match.emplace_back(key, value.get<std::string>());
  }
  // nlohmann::json objects iterate in key order, so match is sorted.
  rule.limit = row[4].as<int64_t>();
  rule.period_ms = row[5].as<int64_t>();
  rule.burst = row[6].as<int64_t>();
  if (!ParseRuleMode(row[7].as<std::string>(), &rule.mode)) {
    return Status::Internal(where + "an unknown mode '" +
                            row[7].as<std::string>() + "'");
  }
  if (!ParseFailureMode(row[8].as<std::string>(), &rule.failure_mode)) {
    return Status::Internal(where + "an unknown failure_mode '" +
                            row[8].as<std::string>() + "'");
  }
  rule.enabled = row[9].as<bool>();
  rule.version = row[10].as<int64_t>();
  return rule;
}

Status Lock(pqxx::work& tx, int64_t id, std::optional<Rule>* out) {
  pqxx::result rows = tx.exec_params(std::string("SELECT ") + kColumns +
                                         " FROM rules WHERE id = $1 FOR UPDATE",
                                     id);
  out->reset();
  if (rows.empty()) return Status::Ok();
  StatusOr<Rule> rule = FromRow(rows[0]);
  if (!rule.ok()) return rule.status();
  *out = std::move(rule).value();
  return Status::Ok();
}

Status LockAll(pqxx::work& tx, std::vector<Rule>* out) {
  // SHARE ROW EXCLUSIVE conflicts with itself and with every row change,
  // not with plain reads.
  tx.exec("LOCK TABLE rules IN SHARE ROW EXCLUSIVE MODE");
  pqxx::result rows =
      tx.exec(std::string("SELECT ") + kColumns + " FROM rules ORDER BY id");
  out->clear();
  for (const pqxx::row& row : rows) {
    StatusOr<Rule> rule = FromRow(row);
    if (!rule.ok()) return rule.status();
    out->push_back(std::move(rule).value());
  }
  return Status::Ok();
}

StatusOr<Rule> Insert(pqxx::work& tx, const Rule& rule, const Actor& actor) {
  pqxx::result rows;
  try {
    rows = tx.exec_params(
        std::string("INSERT INTO rules (name, domain, match, limit_tokens, "
                    "period_ms, burst, mode, failure_mode, enabled) "
                    "VALUES ($1, $2, $3::jsonb, $4, $5, $6, $7, $8, $9) "
                    "RETURNING ") +
            kColumns,
        rule.name, rule.domain, MatchJson(rule), rule.limit, rule.period_ms,
        rule.burst, std::string(RuleModeName(rule.mode)),
        std::string(FailureModeName(rule.failure_mode)), rule.enabled);
  } catch (const pqxx::unique_violation&) {
    return NameTaken(rule);
  } catch (const pqxx::check_violation& e) {
    return CheckFailed(e);
  }
  StatusOr<Rule> stored = FromRow(rows[0]);
  if (!stored.ok()) return stored;
  RecordVersion(tx, *stored, stored->version, "create", actor);
  Audit(tx, actor, "rule.create", *stored, nullptr, &*stored);
  return stored;
}

StatusOr<Rule> Update(pqxx::work& tx, const Rule& before, const Rule& desired,
                      const Actor& actor) {
  pqxx::result rows;
  try {
    rows = tx.exec_params(
        std::string("UPDATE rules SET name = $2, domain = $3, "
                    "match = $4::jsonb, limit_tokens = $5, period_ms = $6, "
                    "burst = $7, mode = $8, failure_mode = $9, "
                    "enabled = $10, version = version + 1, "
                    "updated_at = now() WHERE id = $1 RETURNING ") +
            kColumns,
        before.id, desired.name, desired.domain, MatchJson(desired),
        desired.limit, desired.period_ms, desired.burst,
        std::string(RuleModeName(desired.mode)),
        std::string(FailureModeName(desired.failure_mode)), desired.enabled);
  } catch (const pqxx::unique_violation&) {
    return NameTaken(desired);
  } catch (const pqxx::check_violation& e) {
    return CheckFailed(e);
  }
  StatusOr<Rule> stored = FromRow(rows.at(0));
  if (!stored.ok()) return stored;
  RecordVersion(tx, *stored, stored->version, "update", actor);
  Audit(tx, actor, "rule.update", *stored, &before, &*stored);
  return stored;
}

Status Delete(pqxx::work& tx, const Rule& before, const Actor& actor) {
  tx.exec_params("DELETE FROM rules WHERE id = $1", before.id);
  RecordVersion(tx, before, before.version + 1, "delete", actor);
  Audit(tx, actor, "rule.delete", before, &before, nullptr);
  return Status::Ok();
}

int64_t BumpRevision(pqxx::work& tx) {
  return tx
      .exec1(
          "UPDATE rules_state SET revision = revision + 1 RETURNING revision")
          [0]
      .as<int64_t>();
}

}  // namespace sluice::rule_rows
