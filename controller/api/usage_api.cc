#include "controller/api/usage_api.h"

#include <algorithm>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "controller/api/api_support.h"
#include "controller/api/usage_query.h"

namespace sluice {
namespace {

using nlohmann::json;

HttpResponse Invalid(const Status& status) {
  return AdminApi::Error(422, "invalid_argument", status.message(),
                         status.field());
}

std::optional<Rule> FindRule(RuleCatalog* rules, int64_t id) {
  RuleCatalog::Snapshot snapshot = rules->Get();
  for (Rule& rule : snapshot.rules) {
    if (rule.id == id) return std::move(rule);
  }
  return std::nullopt;
}

HttpResponse UnknownRule(int64_t id) {
  return AdminApi::Error(404, "not_found",
                         "there is no rule " + std::to_string(id) +
                             "; GET /api/v1/rules lists the rules",
                         "rule");
}

// The wildcard values of a client key as {"key": "value", ...}.
json ClientValues(const Rule& rule, const std::string& key) {
  std::vector<std::string> values;
  json out = json::object();
  if (!ParseUsageClientKey(key, &values)) return out;
  size_t i = 0;
  for (const auto& [name, match] : rule.match) {
    if (match != kWildcard) continue;
    if (i < values.size()) out[name] = values[i];
    ++i;
  }
  return out;
}

// One rule's totals and dense series in GET /usage/rules.
struct RuleUsage {
  int64_t rule_id = 0;
  int64_t allowed = 0, refused = 0, shadow_refused = 0;
  std::vector<int64_t> series[3];  // allowed, refused, shadow_refused
  int64_t total() const { return allowed + refused + shadow_refused; }
};

// Groups the store's (rule, step) sums by rule, skipping rules the catalog
// does not hold (their counts outlive them until they age out).
std::vector<RuleUsage> GroupByRule(
    const std::vector<UsageStore::RulePoint>& rows,
    const std::map<int64_t, const Rule*>& rules, const UsageSeriesQuery& q) {
  std::vector<RuleUsage> out;
  for (const UsageStore::RulePoint& row : rows) {
    if (rules.count(row.rule_id) == 0) continue;
    if (out.empty() || out.back().rule_id != row.rule_id) {
      out.emplace_back();
      out.back().rule_id = row.rule_id;
      for (auto& s : out.back().series) s.assign(q.points, 0);
    }
    RuleUsage& u = out.back();
    const int64_t i = (row.point.t_ms - q.from_ms) / q.step_ms;
    if (i < 0 || i >= q.points) continue;
    u.series[0][i] += row.point.allowed;
    u.series[1][i] += row.point.refused;
    u.series[2][i] += row.point.shadow_refused;
    u.allowed += row.point.allowed;
    u.refused += row.point.refused;
    u.shadow_refused += row.point.shadow_refused;
  }
  return out;
}

}  // namespace

HttpResponse UsageApi::Rules(const HttpRequest& request) {
  StatusOr<std::map<std::string, std::string>> params =
      api::ParseQuery(request.query, {"from", "to", "step", "limit"});
  if (!params.ok()) return Invalid(params.status());
  StatusOr<UsageRulesQuery> q =
      ParseUsageRulesQuery(*params, deps_.now_ms(), deps_.retention);
  if (!q.ok()) return Invalid(q.status());
  const UsageSeriesQuery& w = q->window;
  StatusOr<std::vector<UsageStore::RulePoint>> rows =
      deps_.store->ReadRuleSeries(w.from_ms, w.to_ms, w.step_ms, w.resolution);
  if (!rows.ok()) return AdminApi::FromStatus(rows.status());
  const RuleCatalog::Snapshot snapshot = deps_.rules->Get();
  std::map<int64_t, const Rule*> by_id;
  for (const Rule& rule : snapshot.rules) by_id[rule.id] = &rule;
  std::vector<RuleUsage> usage = GroupByRule(*rows, by_id, w);
  std::stable_sort(usage.begin(), usage.end(),
                   [](const RuleUsage& a, const RuleUsage& b) {
                     return a.total() > b.total();
                   });
  json out = json::array();
  for (const RuleUsage& u : usage) {
    if (out.size() >= static_cast<size_t>(q->limit)) break;
    if (u.total() == 0) continue;
    out.push_back(json{{"rule", u.rule_id},
                       {"name", by_id[u.rule_id]->name},
                       {"allowed", u.allowed},
                       {"refused", u.refused},
                       {"shadow_refused", u.shadow_refused},
                       {"series", json{{"allowed", u.series[0]},
                                       {"refused", u.series[1]},
                                       {"shadow_refused", u.series[2]}}}});
  }
  return api::Json(200, json{{"from", w.from_ms},
                             {"to", w.to_ms},
                             {"step_ms", w.step_ms},
                             {"rules", std::move(out)}});
}

HttpResponse UsageApi::Series(const HttpRequest& request) {
  StatusOr<std::map<std::string, std::string>> params =
      api::ParseQuery(request.query, {"rule", "from", "to", "step"});
  if (!params.ok()) return Invalid(params.status());
  StatusOr<UsageSeriesQuery> q =
      ParseUsageSeriesQuery(*params, deps_.now_ms(), deps_.retention);
  if (!q.ok()) return Invalid(q.status());
  if (q->rule_id != 0 && !FindRule(deps_.rules, q->rule_id)) {
    return UnknownRule(q->rule_id);
  }
  StatusOr<std::vector<UsagePoint>> rows = deps_.store->ReadSeries(
      q->rule_id, q->from_ms, q->to_ms, q->step_ms, q->resolution);
  if (!rows.ok()) return AdminApi::FromStatus(rows.status());
  json points = json::array();
  size_t next = 0;
  for (int64_t i = 0; i < q->points; ++i) {
    const int64_t t = q->from_ms + i * q->step_ms;
    UsagePoint point{t, 0, 0, 0};
    if (next < rows->size() && (*rows)[next].t_ms == t) point = (*rows)[next++];
    points.push_back(json{{"t", t},
                          {"allowed", point.allowed},
                          {"refused", point.refused},
                          {"shadow_refused", point.shadow_refused}});
  }
  return api::Json(
      200, json{{"rule", q->rule_id == 0 ? json(nullptr) : json(q->rule_id)},
                {"from", q->from_ms},
                {"to", q->to_ms},
                {"step_ms", q->step_ms},
                {"points", std::move(points)}});
}

HttpResponse UsageApi::Top(const HttpRequest& request) {
  StatusOr<std::map<std::string, std::string>> params =
      api::ParseQuery(request.query, {"rule", "from", "to", "by", "limit"});
  if (!params.ok()) return Invalid(params.status());
  StatusOr<UsageTopQuery> q =
      ParseUsageTopQuery(*params, deps_.now_ms(), deps_.retention);
  if (!q.ok()) return Invalid(q.status());
  std::optional<Rule> rule = FindRule(deps_.rules, q->rule_id);
  if (!rule) return UnknownRule(q->rule_id);
  HeavyHitters merged(1);
  Status read = deps_.store->ReadTop(q->rule_id, q->by, q->from_ms, q->to_ms,
                                     q->resolution, &merged);
  if (!read.ok()) return AdminApi::FromStatus(read);
  json clients = json::array();
  int64_t error_bound = 0;
  const bool by_refused = q->by == UsageRanking::kRefused;
  for (const HeavyHitter& e : merged.Top(static_cast<size_t>(q->limit))) {
    error_bound = std::max(error_bound, e.error);
    clients.push_back(json{{"values", ClientValues(*rule, e.key)},
                           {"allowed", by_refused ? e.other : e.count},
                           {"refused", by_refused ? e.count : e.other}});
  }
  return api::Json(200, json{{"rule", q->rule_id},
                             {"by", std::string(UsageRankingName(q->by))},
                             {"from", q->from_ms},
                             {"to", q->to_ms},
                             {"clients", std::move(clients)},
                             {"error_bound", error_bound}});
}

HttpResponse UsageApi::Agents(const HttpRequest& request) {
  StatusOr<std::map<std::string, std::string>> params =
      api::ParseQuery(request.query, {});
  if (!params.ok()) return Invalid(params.status());
  json agents = json::array();
  for (const AgentStatus& a : deps_.agents->List()) {
    agents.push_back(json{{"id", a.id},
                          {"connected", a.connected},
                          {"last_seen", a.last_seen_ms},
                          {"version", a.version},
                          {"rules_version", a.rules_version},
                          {"buckets", a.buckets},
                          {"leases", a.leases}});
  }
  return api::Json(200, json{{"agents", std::move(agents)}});
}

}  // namespace sluice
