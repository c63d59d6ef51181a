// UsageStore: writing reports and pruning (reads: usage_store_read.cc).
#include "controller/store/usage_store.h"

#include <map>
#include <pqxx/pqxx>
#include <string>
#include <utility>

#include "controller/store/usage_summary_json.h"

namespace sluice {
namespace {

struct Sums {
  int64_t allowed = 0;
  int64_t refused = 0;
  int64_t shadow_refused = 0;
};
using SumsByPeriod = std::map<std::pair<int64_t, int64_t>, Sums>;

// A PostgreSQL array literal of integers: "{1,2,3}".
template <typename F>
std::string ArrayOf(const SumsByPeriod& sums, F field) {
  std::string out = "{";
  for (const auto& entry : sums) {
    if (out.size() > 1) out += ',';
    out += std::to_string(field(entry));
  }
  return out + "}";
}

// Adds `sums` to `table` (usage_minute or usage_hour) in one statement.
void AddCounts(pqxx::work& tx, const std::string& table,
               const SumsByPeriod& sums) {
  if (sums.empty()) return;
  using Entry = SumsByPeriod::value_type;
  tx.exec_params(
      "INSERT INTO " + table +
          " (rule_id, t_ms, allowed, refused, shadow_refused) "
          "SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::bigint[], "
          "$4::bigint[], $5::bigint[]) "
          "ON CONFLICT (rule_id, t_ms) DO UPDATE SET "
          "allowed = " +
          table + ".allowed + EXCLUDED.allowed, refused = " + table +
          ".refused + EXCLUDED.refused, shadow_refused = " + table +
          ".shadow_refused + EXCLUDED.shadow_refused",
      ArrayOf(sums, [](const Entry& e) { return e.first.first; }),
      ArrayOf(sums, [](const Entry& e) { return e.first.second; }),
      ArrayOf(sums, [](const Entry& e) { return e.second.allowed; }),
      ArrayOf(sums, [](const Entry& e) { return e.second.refused; }),
      ArrayOf(sums, [](const Entry& e) { return e.second.shadow_refused; }));
}

// Merges `incoming` into the row (rule, t, by) of `table`. The row is
// created empty first and then locked, so that two writers of one new row
// merge instead of overwriting each other.
void MergeTop(pqxx::work& tx, const std::string& table, int64_t rule_id,
              int64_t t_ms, UsageRanking by, const HeavyHitters& incoming) {
  const std::string by_name(UsageRankingName(by));
  tx.exec_params("INSERT INTO " + table +
                     " (rule_id, t_ms, by, summary) VALUES ($1, $2, $3, "
                     "'null'::jsonb) ON CONFLICT DO NOTHING",
                 rule_id, t_ms, by_name);
  pqxx::result rows = tx.exec_params(
      "SELECT summary::text FROM " + table +
          " WHERE rule_id = $1 AND t_ms = $2 AND by = $3 FOR UPDATE",
      rule_id, t_ms, by_name);
  HeavyHitters merged(UsageStore::kStoredTopCapacity);
  HeavyHitters stored(1);
  // A row just created holds null; a corrupt one (hand-edited) is
  // replaced rather than kept failing every report.
  if (!rows.empty() && SummaryFromJson(rows[0][0].c_str(), &stored)) {
    merged.Merge(stored);
  }
  merged.Merge(incoming);
  tx.exec_params("UPDATE " + table +
                     " SET summary = $4::jsonb WHERE rule_id = $1 AND "
                     "t_ms = $2 AND by = $3",
                 rule_id, t_ms, by_name, SummaryToJson(merged));
}

// One batch: deletes up to `batch` rows of `table` whose `column` is below
// `cut`. Returns the rows deleted.
int64_t DeleteBatch(pqxx::connection& conn, const std::string& table,
                    const std::string& column, int64_t cut, int64_t batch) {
  pqxx::work tx(conn, "usage-prune");
  pqxx::result done = tx.exec_params(
      "DELETE FROM " + table + " WHERE ctid = ANY(ARRAY(SELECT ctid FROM " +
          table + " WHERE " + column + " < $1 LIMIT $2))",
      cut, batch);
  tx.commit();
  return done.affected_rows();
}

}  // namespace

StatusOr<UsageStore::Outcome> UsageStore::Record(const UsageBatch& batch) {
  SumsByPeriod minutes;
  SumsByPeriod hours;
  for (const UsageCounts& c : batch.counts) {
    for (auto* sums : {&minutes, &hours}) {
      const int64_t t =
          sums == &minutes ? MinuteStart(c.minute_ms) : HourStart(c.minute_ms);
      Sums& s = (*sums)[{c.rule_id, t}];
      s.allowed += c.allowed;
      s.refused += c.refused;
      s.shadow_refused += c.shadow_refused;
    }
  }
  Outcome outcome = Outcome::kCounted;
  Status status = db_->Run([&](pqxx::connection& conn) {
    pqxx::work tx(conn, "usage-report");
    pqxx::result fresh = tx.exec_params(
        "INSERT INTO usage_reports (agent_id, incarnation, seq, received_ms) "
        "VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING RETURNING 1",
        batch.agent_id, batch.incarnation, batch.seq, batch.received_ms);
    if (fresh.empty()) {
      outcome = Outcome::kDuplicate;
      tx.commit();
      return Status::Ok();
    }
    outcome = Outcome::kCounted;
    AddCounts(tx, "usage_minute", minutes);
    AddCounts(tx, "usage_hour", hours);
    for (const UsageBatch::Top& top : batch.tops) {
      MergeTop(tx, "usage_top_minute", top.rule_id, MinuteStart(top.minute_ms),
               top.by, top.summary);
      MergeTop(tx, "usage_top_hour", top.rule_id, HourStart(top.minute_ms),
               top.by, top.summary);
    }
    tx.commit();
    return Status::Ok();
  });
  if (!status.ok()) return status;
  return outcome;
}

StatusOr<int64_t> UsageStore::Prune(int64_t now_ms,
                                    const UsageRetention& retention,
                                    int max_batches, int64_t batch_rows) {
  struct Table {
    const char* name;
    const char* column;
    int64_t keep_ms;
  };
  const Table kTables[] = {
      {"usage_minute", "t_ms", retention.minute_ms},
      {"usage_hour", "t_ms", retention.hour_ms},
      {"usage_top_minute", "t_ms", retention.top_minute_ms},
      {"usage_top_hour", "t_ms", retention.top_hour_ms},
      {"usage_reports", "received_ms", retention.reports_ms},
  };
  int64_t deleted = 0;
  for (const Table& table : kTables) {
    for (int i = 0; i < max_batches; ++i) {
      int64_t n = 0;
      Status status = db_->Run([&](pqxx::connection& conn) {
        n = DeleteBatch(conn, table.name, table.column, now_ms - table.keep_ms,
                        batch_rows);
        return Status::Ok();
      });
      if (!status.ok()) return status;
      deleted += n;
      if (n < batch_rows) break;
    }
  }
  return deleted;
}

}  // namespace sluice
