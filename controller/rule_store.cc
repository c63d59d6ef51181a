#include "controller/rule_store.h"

#include <nlohmann/json.hpp>
#include <pqxx/pqxx>
#include <string>
#include <utility>

#include "common/rule_json.h"

namespace sluice {
namespace {

constexpr const char* kColumns =
    "id, name, domain, match::text, limit_tokens, period_ms, burst, mode, "
    "failure_mode, enabled, version";

std::string MatchToJson(const Rule& rule) {
  nlohmann::json match = nlohmann::json::object();
  for (const auto& [key, value] : rule.match) match[key] = value;
  return match.dump();
}

// A row of kColumns to a Rule. Internal when a stored value is not one the
// controller can use (a hand-edited row).
StatusOr<Rule> RowToRule(const pqxx::row& row) {
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

int64_t BumpRevision(pqxx::work& tx) {
  return tx
      .exec1(
          "UPDATE rules_state SET revision = revision + 1 RETURNING revision")
          [0]
      .as<int64_t>();
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

}  // namespace

StatusOr<RuleStore::Listing> RuleStore::List() {
  Listing listing;
  Status status = db_->Run([&](pqxx::connection& conn) {
    pqxx::transaction<pqxx::repeatable_read, pqxx::read_only> tx(conn,
                                                                 "list-rules");
    listing.revision =
        tx.exec1("SELECT revision FROM rules_state")[0].as<int64_t>();
    pqxx::result rows =
        tx.exec(std::string("SELECT ") + kColumns + " FROM rules ORDER BY id");
    tx.commit();
    listing.rules.clear();
    listing.rules.reserve(rows.size());
    for (const pqxx::row& row : rows) {
      StatusOr<Rule> rule = RowToRule(row);
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
    pqxx::result rows = tx.exec_params(
        std::string("SELECT ") + kColumns + " FROM rules WHERE id = $1", id);
    tx.commit();
    if (rows.empty()) {
      return Status::NotFound("no rule with id " + std::to_string(id) +
                              "; GET /api/v1/rules lists the rules");
    }
    StatusOr<Rule> found = RowToRule(rows[0]);
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

StatusOr<RuleStore::Change> RuleStore::Create(const Rule& rule) {
  Status valid = ValidateRule(rule);
  if (!valid.ok()) return valid;
  Change change;
  Status status = db_->Run([&](pqxx::connection& conn) {
    pqxx::work tx(conn, "create-rule");
    pqxx::result rows;
    try {
      rows = tx.exec_params(
          std::string("INSERT INTO rules (name, domain, match, limit_tokens, "
                      "period_ms, burst, mode, failure_mode, enabled) "
                      "VALUES ($1, $2, $3::jsonb, $4, $5, $6, $7, $8, $9) "
                      "RETURNING ") +
              kColumns,
          rule.name, rule.domain, MatchToJson(rule), rule.limit, rule.period_ms,
          rule.burst, std::string(RuleModeName(rule.mode)),
          std::string(FailureModeName(rule.failure_mode)), rule.enabled);
    } catch (const pqxx::unique_violation&) {
      return NameTaken(rule);
    } catch (const pqxx::check_violation& e) {
      return CheckFailed(e);
    }
    change.revision = BumpRevision(tx);
    StatusOr<Rule> stored = RowToRule(rows[0]);
    if (!stored.ok()) return stored.status();
    tx.commit();
    change.rule = std::move(stored).value();
    return Status::Ok();
  });
  if (!status.ok()) return status;
  return change;
}

StatusOr<RuleStore::Change> RuleStore::Update(int64_t id, const Rule& rule) {
  Status valid = ValidateRule(rule);
  if (!valid.ok()) return valid;
  Change change;
  Status status = db_->Run([&](pqxx::connection& conn) {
    pqxx::work tx(conn, "update-rule");
    pqxx::result rows;
    try {
      rows = tx.exec_params(
          std::string("UPDATE rules SET name = $2, domain = $3, "
                      "match = $4::jsonb, limit_tokens = $5, period_ms = $6, "
                      "burst = $7, mode = $8, failure_mode = $9, "
                      "enabled = $10, version = version + 1, "
                      "updated_at = now() WHERE id = $1 RETURNING ") +
              kColumns,
          id, rule.name, rule.domain, MatchToJson(rule), rule.limit,
          rule.period_ms, rule.burst, std::string(RuleModeName(rule.mode)),
          std::string(FailureModeName(rule.failure_mode)), rule.enabled);
    } catch (const pqxx::unique_violation&) {
      return NameTaken(rule);
    } catch (const pqxx::check_violation& e) {
      return CheckFailed(e);
    }
    if (rows.empty()) {
      return Status::NotFound("no rule with id " + std::to_string(id) +
                              " to change; create it with POST /api/v1/rules");
    }
    change.revision = BumpRevision(tx);
    StatusOr<Rule> stored = RowToRule(rows[0]);
    if (!stored.ok()) return stored.status();
    tx.commit();
    change.rule = std::move(stored).value();
    return Status::Ok();
  });
  if (!status.ok()) return status;
  return change;
}

StatusOr<int64_t> RuleStore::Delete(int64_t id) {
  int64_t revision = 0;
  Status status = db_->Run([&](pqxx::connection& conn) {
    pqxx::work tx(conn, "delete-rule");
    pqxx::result rows =
        tx.exec_params("DELETE FROM rules WHERE id = $1 RETURNING id", id);
    if (rows.empty()) {
      return Status::NotFound("no rule with id " + std::to_string(id) +
                              " to delete; GET /api/v1/rules lists the rules");
    }
    revision = BumpRevision(tx);
    tx.commit();
    return Status::Ok();
  });
  if (!status.ok()) return status;
  return revision;
}

}  // namespace sluice
