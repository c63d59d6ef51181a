#include "controller/store/usage_summary_json.h"

#include <nlohmann/json.hpp>
#include <utility>
#include <vector>

#include "common/usage.h"

namespace sluice {
namespace {

using nlohmann::json;

bool Int(const json& j, const char* name, int64_t* out) {
  auto it = j.find(name);
  if (it == j.end() || !it->is_number_integer()) return false;
  *out = it->get<int64_t>();
  return true;
}

}  // namespace

std::string SummaryToJson(const HeavyHitters& summary) {
  json entries = json::array();
  for (const HeavyHitter& e : summary.entries()) {
    entries.push_back(json::array({e.key, e.count, e.error, e.other}));
  }
  json doc = {{"capacity", summary.capacity()},
              {"floor", summary.floor()},
              {"total", summary.total()},
              {"entries", std::move(entries)}};
  return doc.dump(-1, ' ', false, json::error_handler_t::replace);
}

bool SummaryFromJson(std::string_view text, HeavyHitters* out) {
  const json j = json::parse(text.begin(), text.end(), nullptr, false);
  if (j.is_discarded() || !j.is_object()) return false;
  UsageSummary parts;
  if (!Int(j, "capacity", &parts.capacity) || !Int(j, "floor", &parts.floor) ||
      !Int(j, "total", &parts.total)) {
    return false;
  }
  auto entries = j.find("entries");
  if (entries == j.end() || !entries->is_array()) return false;
  for (const json& row : *entries) {
    if (!row.is_array() || row.size() != 4 || !row[0].is_string() ||
        !row[1].is_number_integer() || !row[2].is_number_integer() ||
        !row[3].is_number_integer()) {
      return false;
    }
    parts.entries.push_back(
        HeavyHitter{row[0].get<std::string>(), row[1].get<int64_t>(),
                    row[2].get<int64_t>(), row[3].get<int64_t>()});
  }
  return FromUsageSummary(parts, out);
}

}  // namespace sluice
