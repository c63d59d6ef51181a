// A UsageReport from the wire into what the store takes (UsageBatch),
// skipping what cannot be stored: counts and summaries of rules that do
// not exist, and summaries HeavyHitters::FromParts refuses. Those are
// counted in *skipped; the rest of the report is kept.
//
// Pure; thread-safe.
#pragma once

#include <cstdint>
#include <functional>

#include "common/wire.h"
#include "controller/store/usage_store.h"

namespace sluice {

struct SkippedParts {
  int64_t unknown_rule = 0;
  int64_t corrupt_summary = 0;
};

UsageBatch BatchFromReport(const UsageReport& report, int64_t received_ms,
                           const std::function<bool(int64_t)>& rule_exists,
                           SkippedParts* skipped);

}  // namespace sluice
