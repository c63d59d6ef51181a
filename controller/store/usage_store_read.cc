// UsageStore: the reads behind GET /api/v1/usage, /usage/rules and
// /usage/top.
#include <pqxx/pqxx>
#include <string>
#include <utility>
#include <vector>

#include "controller/store/usage_store.h"
#include "controller/store/usage_summary_json.h"
#include "platform/log.h"

namespace sluice {
namespace {

const char* CountsTable(UsageResolution resolution) {
  return resolution == UsageResolution::kMinute ? "usage_minute" : "usage_hour";
}

const char* TopTable(UsageResolution resolution) {
  return resolution == UsageResolution::kMinute ? "usage_top_minute"
                                                : "usage_top_hour";
}

}  // namespace

StatusOr<std::vector<UsagePoint>> UsageStore::ReadSeries(
    int64_t rule_id, int64_t from_ms, int64_t to_ms, int64_t step_ms,
    UsageResolution resolution) {
  // The step a row falls in: from + floor((t - from) / step) * step, with
  // t >= from, so integer division floors.
  const std::string select =
      std::string(
          "SELECT $1::bigint + ((t_ms - $1::bigint) / $3::bigint) * "
          "$3::bigint AS step_start, sum(allowed)::bigint, "
          "sum(refused)::bigint, sum(shadow_refused)::bigint FROM ") +
      CountsTable(resolution) + " WHERE t_ms >= $1 AND t_ms < $2 ";
  const std::string group = " GROUP BY step_start ORDER BY step_start";
  std::vector<UsagePoint> points;
  Status status = db_->Run([&](pqxx::connection& conn) {
    pqxx::read_transaction tx(conn, "usage-series");
    pqxx::result rows =
        rule_id == 0 ? tx.exec_params(select + group, from_ms, to_ms, step_ms)
                     : tx.exec_params(select + "AND rule_id = $4" + group,
                                      from_ms, to_ms, step_ms, rule_id);
    points.clear();
    for (const pqxx::row& row : rows) {
      points.push_back(UsagePoint{row[0].as<int64_t>(), row[1].as<int64_t>(),
                                  row[2].as<int64_t>(), row[3].as<int64_t>()});
    }
    return Status::Ok();
  });
  if (!status.ok()) return status;
  return points;
}

StatusOr<std::vector<UsageStore::RulePoint>> UsageStore::ReadRuleSeries(
    int64_t from_ms, int64_t to_ms, int64_t step_ms,
    UsageResolution resolution) {
  const std::string sql =
      std::string(
          "SELECT rule_id, $1::bigint + ((t_ms - $1::bigint) / $3::bigint) * "
          "$3::bigint AS step_start, sum(allowed)::bigint, "
          "sum(refused)::bigint, sum(shadow_refused)::bigint FROM ") +
      CountsTable(resolution) +
      " WHERE t_ms >= $1 AND t_ms < $2 GROUP BY rule_id, step_start "
      "ORDER BY rule_id, step_start";
  std::vector<RulePoint> points;
  Status status = db_->Run([&](pqxx::connection& conn) {
    pqxx::read_transaction tx(conn, "usage-rules");
    pqxx::result rows = tx.exec_params(sql, from_ms, to_ms, step_ms);
    points.clear();
    points.reserve(rows.size());
    for (const pqxx::row& row : rows) {
      points.push_back(
          RulePoint{row[0].as<int64_t>(),
                    UsagePoint{row[1].as<int64_t>(), row[2].as<int64_t>(),
                               row[3].as<int64_t>(), row[4].as<int64_t>()}});
    }
    return Status::Ok();
  });
  if (!status.ok()) return status;
  return points;
}

Status UsageStore::ReadTop(int64_t rule_id, UsageRanking by, int64_t from_ms,
                           int64_t to_ms, UsageResolution resolution,
                           HeavyHitters* out) {
  std::vector<HeavyHitters> parts;
  size_t corrupt = 0;
  Status status = db_->Run([&](pqxx::connection& conn) {
    pqxx::read_transaction tx(conn, "usage-top");
    pqxx::result rows = tx.exec_params(
        std::string("SELECT summary::text FROM ") + TopTable(resolution) +
            " WHERE rule_id = $1 AND by = $2 AND t_ms >= $3 AND t_ms < $4",
        rule_id, std::string(UsageRankingName(by)), from_ms, to_ms);
    parts.clear();
    corrupt = 0;
    for (const pqxx::row& row : rows) {
      HeavyHitters summary(1);
      if (SummaryFromJson(row[0].c_str(), &summary)) {
        parts.push_back(std::move(summary));
      } else {
        ++corrupt;
      }
    }
    return Status::Ok();
  });
  if (!status.ok()) return status;
  if (corrupt > 0) {
    LogWarn("usage", std::to_string(corrupt) + " stored summaries of rule " +
                         std::to_string(rule_id) +
                         " are not valid and were skipped");
  }
  size_t capacity = 1;
  for (const HeavyHitters& part : parts) capacity += part.size();
  HeavyHitters merged(capacity);
  for (const HeavyHitters& part : parts) merged.Merge(part);
  *out = std::move(merged);
  return Status::Ok();
}

}  // namespace sluice
