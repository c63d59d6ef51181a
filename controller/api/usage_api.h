// UsageApi: the handlers of usage analytics and the agent list
// (docs/analytics.md, docs/api.md), for AdminApi's router to call (role
// viewer and up, checked by the router).
//
//   GET /api/v1/usage?rule=&from=&to=&step=
//     200 {"rule": id|null, "from": ms, "to": ms, "step_ms": n,
//          "points": [{"t": ms, "allowed": n, "refused": n,
//                      "shadow_refused": n}, ...]}   every step, zeros too
//   GET /api/v1/usage/rules?from=&to=&step=&limit=
//     200 {"from": ms, "to": ms, "step_ms": n,
//          "rules": [{"rule": id, "name": s, "allowed": n, "refused": n,
//                     "shadow_refused": n,
//                     "series": {"allowed": [n, ...], "refused": [...],
//                                "shadow_refused": [...]}}, ...]}
//     the `limit` busiest rules (most decisions in the window, then lowest
//     id), only rules that exist and had a decision; series[i] is the step
//     starting at from + i * step_ms, zeros too
//   GET /api/v1/usage/top?rule=&from=&to=&by=&limit=
//     200 {"rule": id, "by": "refused"|"allowed", "from": ms, "to": ms,
//          "clients": [{"values": {"client_id": "42"}, "allowed": n,
//                       "refused": n}, ...], "error_bound": n}
//   GET /api/v1/agents
//     200 {"agents": [{"id", "connected", "last_seen", "version",
//                      "rules_version", "buckets", "leases"}, ...]}
//
// 404 for a rule that does not exist, 422 (field named) for a bad query
// (usage_query.h), 503 while PostgreSQL is unreachable.
//
// In /usage/top, the ranked count (refused for by=refused) is at most
// error_bound above the truth (and never below it); the other count is a
// lower bound.
//
// Thread-safe.
#pragma once

#include <cstdint>
#include <functional>

#include "controller/api/admin_api.h"
#include "controller/catalog/rule_catalog.h"
#include "controller/lease/agent_directory.h"
#include "controller/store/usage_store.h"

namespace sluice {

class UsageApi {
 public:
  struct Deps {
    UsageStore* store = nullptr;
    RuleCatalog* rules = nullptr;  // which rules exist, their match keys
    AgentDirectory* agents = nullptr;
    UsageRetention retention;
    std::function<int64_t()> now_ms;  // the wall clock, Unix ms
  };
  explicit UsageApi(Deps deps) : deps_(std::move(deps)) {}

  HttpResponse Series(const HttpRequest& request);
  HttpResponse Rules(const HttpRequest& request);
  HttpResponse Top(const HttpRequest& request);
  HttpResponse Agents(const HttpRequest& request);

 private:
  Deps deps_;
};

}  // namespace sluice
