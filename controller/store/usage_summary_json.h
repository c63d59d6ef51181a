// A heaviest-clients summary (common/heavy_hitters.h) as stored in the
// usage_top_* tables' jsonb column:
//   {"capacity": n, "floor": n, "total": n,
//    "entries": [[key, count, error, other], ...]}
//
// Pure functions; thread-safe.
#pragma once

#include <string>
#include <string_view>

#include "common/heavy_hitters.h"

namespace sluice {

std::string SummaryToJson(const HeavyHitters& summary);
// False when `text` is not such a document or HeavyHitters::FromParts
// refuses it (a hand-edited row).
bool SummaryFromJson(std::string_view text, HeavyHitters* out);

}  // namespace sluice
