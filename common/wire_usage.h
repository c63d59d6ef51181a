// The JSON form of the usage messages (UsageReport, UsageAck) of
// common/wire.h, kept apart from the lease messages' codec. Internal to
// common/ (wire.cc calls it).
//
//   {"type": "usage_report", "agent_id": "...", "incarnation": n, "seq": n,
//    "sent_ms": n, "version": "...", "rules_version": n, "buckets": n,
//    "leases": n,
//    "counts": [[rule_id, minute_ms, allowed, refused, shadow_refused], ...],
//    "summaries": [{"rule_id": n, "minute_ms": n, "by": "refused"|"allowed",
//                   "capacity": n, "floor": n, "total": n,
//                   "entries": [[key, count, error, other], ...]}, ...]}
//   {"type": "usage_ack", "incarnation": n, "seq": n}
//
// The decoder checks shapes and ranges (ids >= 1, minutes on a minute,
// counts >= 0); whether a summary's parts make a valid summary is the
// receiver's check (FromUsageSummary), so that one bad summary can be
// skipped and counted without refusing the whole report.
//
// Pure functions; thread-safe.
#pragma once

#include <nlohmann/json.hpp>

#include "common/status.h"
#include "common/wire.h"

namespace sluice::wire_internal {

nlohmann::json EncodeUsageReport(const UsageReport& report);
nlohmann::json EncodeUsageAck(const UsageAck& ack);
StatusOr<WireMessage> DecodeUsageReport(const nlohmann::json& object);
StatusOr<WireMessage> DecodeUsageAck(const nlohmann::json& object);

}  // namespace sluice::wire_internal
