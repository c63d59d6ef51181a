#include "controller/store/audit_log.h"

#include <cctype>
#include <string>
#include <utility>
#include <vector>

namespace sluice {
namespace {

// Key of the advisory lock that orders audit writers: "sluiceal".
constexpr int64_t kAuditLockKey = 0x736c756963616c;

constexpr const char* kSelect =
    "SELECT id, to_char(at AT TIME ZONE 'UTC', "
    "'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'), actor, "
    "coalesce(actor_token_id, 0), action, target_kind, target_id, "
    "target_name, coalesce(before::text, 'null'), "
    "coalesce(after::text, 'null') FROM audit_log ";

AuditEntry RowToEntry(const pqxx::row& row) {
  AuditEntry entry;
  entry.id = row[0].as<int64_t>();
  entry.at = row[1].as<std::string>();
  entry.actor.name = row[2].as<std::string>();
  entry.actor.token_id = row[3].as<int64_t>();
  entry.record.action = row[4].as<std::string>();
  entry.record.target_kind = row[5].as<std::string>();
  entry.record.target_id = row[6].as<int64_t>();
  entry.record.target_name = row[7].as<std::string>();
  // jsonb text from PostgreSQL is valid JSON; a parse failure would be a
  // bug, kept visible as a discarded value rather than thrown.
  entry.record.before =
      nlohmann::json::parse(row[8].as<std::string>(), nullptr, false);
  entry.record.after =
      nlohmann::json::parse(row[9].as<std::string>(), nullptr, false);
  return entry;
}

std::string JsonOrNull(const nlohmann::json& value) {
  return value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

bool Digits(const std::string& s, size_t pos, size_t n) {
  if (pos + n > s.size()) return false;
  for (size_t i = pos; i < pos + n; ++i) {
    if (!std::isdigit(static_cast<unsigned char>(s[i]))) return false;
  }
  return true;
}

}  // namespace

void AuditLog::Append(pqxx::work& tx, const Actor& actor,
                      const AuditRecord& record) {
  tx.exec_params("SELECT pg_advisory_xact_lock($1)", kAuditLockKey);
  // NULLIF turns the 0 of "no token" into NULL, and "null" JSON into NULL.
  tx.exec_params(
      "INSERT INTO audit_log (actor, actor_token_id, action, target_kind, "
      "target_id, target_name, before, after) VALUES ($1, NULLIF($2, 0), $3, "
      "$4, $5, $6, NULLIF($7::jsonb, 'null'::jsonb), "
      "NULLIF($8::jsonb, 'null'::jsonb))",
      actor.name, actor.token_id, record.action, record.target_kind,
      record.target_id, record.target_name, JsonOrNull(record.before),
      JsonOrNull(record.after));
}

bool AuditLog::LooksLikeRfc3339(const std::string& t) {
  // YYYY-MM-DDTHH:MM:SS[.frac](Z|+HH:MM|-HH:MM)
  if (!Digits(t, 0, 4) || t.size() < 20 || t[4] != '-' || !Digits(t, 5, 2) ||
      t[7] != '-' || !Digits(t, 8, 2) || (t[10] != 'T' && t[10] != 't') ||
      !Digits(t, 11, 2) || t[13] != ':' || !Digits(t, 14, 2) || t[16] != ':' ||
      !Digits(t, 17, 2)) {
    return false;
  }
  size_t pos = 19;
  if (pos < t.size() && t[pos] == '.') {
    size_t start = ++pos;
    while (pos < t.size() && std::isdigit(static_cast<unsigned char>(t[pos]))) {
      ++pos;
    }
    if (pos == start || pos - start > 9) return false;
  }
  if (pos == t.size()) return false;
  if (t[pos] == 'Z' || t[pos] == 'z') return pos + 1 == t.size();
  if (t[pos] != '+' && t[pos] != '-') return false;
  return pos + 6 == t.size() && Digits(t, pos + 1, 2) && t[pos + 3] == ':' &&
         Digits(t, pos + 4, 2);
}

namespace {

// The WHERE clause of `query` and its parameters, all passed as text and
// cast in SQL, so each condition is present only when asked for and the
// planner sees the actual values (an unnamed statement is planned for
// them).
struct Filter {
  std::string where;
  std::vector<std::string> params;

  void Add(const std::string& condition, std::string value) {
    params.push_back(std::move(value));
    std::string placeholder = "$" + std::to_string(params.size());
    std::string text = condition;
    for (size_t at = text.find('?'); at != std::string::npos;
         at = text.find('?', at + placeholder.size())) {
      text.replace(at, 1, placeholder);
    }
    where += (where.empty() ? "WHERE " : " AND ") + text;
  }
};

bool WholeNumber(const std::string& text) {
  return Digits(text, 0, text.size()) && !text.empty() && text.size() <= 18;
}

Filter MakeFilter(const AuditLog::Query& query) {
  Filter filter;
  if (query.since.empty()) {
    filter.Add("id > ?::bigint", std::to_string(query.after_id));
  } else {
    filter.Add("at >= ?::timestamptz", query.since);
  }
  if (!query.until.empty()) filter.Add("at < ?::timestamptz", query.until);
  if (!query.actor.empty()) filter.Add("actor = ?", query.actor);
  if (!query.kind.empty()) filter.Add("target_kind = ?", query.kind);
  if (WholeNumber(query.target)) {
    filter.Add("(target_id = ?::text::bigint OR target_name = ?)",
               query.target);
  } else if (!query.target.empty()) {
    filter.Add("target_name = ?", query.target);
  }
  return filter;
}

Status CheckTime(const std::string& field, const std::string& value) {
  if (value.empty() || AuditLog::LooksLikeRfc3339(value)) return Status::Ok();
  return Status::InvalidArgument(
      field + " '" + value + "' is not " +
          (field == "since" ? "an audit id (a whole number, as given in "
                              "next) nor "
                            : "") +
          "an RFC 3339 time such as 2026-01-02T03:04:05Z",
      field);
}

// The database checks the calendar (month 13, February 30).
Status CheckTimeInDatabase(pqxx::read_transaction& tx, const std::string& field,
                           const std::string& value) {
  if (value.empty()) return Status::Ok();
  try {
    tx.exec_params("SELECT $1::timestamptz", value);
  } catch (const pqxx::data_exception& e) {
    return Status::InvalidArgument(
        field + " '" + value + "' is not a valid time (" +
            TrimPqxxMessage(e.what()) +
            "); write an RFC 3339 time such as 2026-01-02T03:04:05Z",
        field);
  }
  return Status::Ok();
}

}  // namespace

StatusOr<AuditLog::Page> AuditLog::Read(const Query& query) {
  if (query.limit < 1 || query.limit > kMaxLimit) {
    return Status::InvalidArgument("limit must be from 1 to " +
                                       std::to_string(kMaxLimit) + ", got " +
                                       std::to_string(query.limit),
                                   "limit");
  }
  for (const auto& [field, value] :
       {std::pair<std::string, std::string>{"since", query.since},
        {"until", query.until}}) {
    if (Status bad = CheckTime(field, value); !bad.ok()) return bad;
  }
  Filter filter = MakeFilter(query);
  filter.params.push_back(std::to_string(query.limit));
  const std::string sql = std::string(kSelect) + filter.where +
                          " ORDER BY id LIMIT $" +
                          std::to_string(filter.params.size()) + "::int";
  Page page;
  Status status = db_->Run([&](pqxx::connection& conn) {
    pqxx::read_transaction tx(conn, "read-audit");
    for (const auto& [field, value] :
         {std::pair<std::string, std::string>{"since", query.since},
          {"until", query.until}}) {
      Status bad = CheckTimeInDatabase(tx, field, value);
      if (!bad.ok()) return bad;
    }
    pqxx::result rows =
        tx.exec_params(sql, pqxx::prepare::make_dynamic_params(filter.params));
    tx.commit();
    page.entries.clear();
    for (const pqxx::row& row : rows) page.entries.push_back(RowToEntry(row));
    return Status::Ok();
  });
  if (!status.ok()) return status;
  if (static_cast<int>(page.entries.size()) == query.limit) {
    page.next = page.entries.back().id;
  }
  return page;
}

}  // namespace sluice
