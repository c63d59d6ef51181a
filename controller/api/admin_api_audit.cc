// AdminApi: GET /api/v1/audit?since=<id or RFC 3339 time>&limit=<1..1000>
//
//   {"entries": [{"id", "at", "actor", "actor_token_id" (null for the
//     controller itself), "action", "target": {"kind", "id", "name"},
//     "before", "after"}, ...], "next": "<id>" | null}
//
// Entries come oldest first. since=<id> returns entries after that id;
// since=<time> entries at or after that time; none: from the start. next is
// the since= of the following page when this one is full (more may
// follow), else null.
#include <nlohmann/json.hpp>
#include <string>

#include "controller/api/admin_api.h"
#include "controller/api/api_support.h"

namespace sluice {
namespace {

using nlohmann::json;

json EntryToJson(const AuditEntry& entry) {
  return json{
      {"id", entry.id},
      {"at", entry.at},
      {"actor", entry.actor.name},
      {"actor_token_id",
       entry.actor.token_id == 0 ? json(nullptr) : json(entry.actor.token_id)},
      {"action", entry.record.action},
      {"target",
       {{"kind", entry.record.target_kind},
        {"id", entry.record.target_id},
        {"name", entry.record.target_name}}},
      {"before", entry.record.before},
      {"after", entry.record.after}};
}

bool AllDigits(const std::string& text) {
  if (text.empty() || text.size() > 18) return false;
  for (char c : text) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}

}  // namespace

HttpResponse AdminApi::ListAudit(const Call& call) {
  StatusOr<std::map<std::string, std::string>> query =
      api::ParseQuery(call.request.query, {"since", "limit"});
  if (!query.ok()) return api::BadQuery(query.status());
  AuditLog::Query read;
  if (auto it = query->find("since"); it != query->end()) {
    if (AllDigits(it->second)) {
      read.after_id = std::stoll(it->second);
    } else {
      read.since = it->second;
    }
  }
  if (auto it = query->find("limit"); it != query->end()) {
    if (!AllDigits(it->second) || std::stoll(it->second) < 1 ||
        std::stoll(it->second) > AuditLog::kMaxLimit) {
      return api::BadQuery(
          Status::InvalidArgument("limit must be a whole number from 1 to " +
                                      std::to_string(AuditLog::kMaxLimit) +
                                      ", got '" + it->second + "'",
                                  "limit"));
    }
    read.limit = static_cast<int>(std::stoll(it->second));
  }
  StatusOr<AuditLog::Page> page = deps_.audit->Read(read);
  if (!page.ok()) {
    if (page.status().code() == Status::Code::kInvalidArgument) {
      return api::BadQuery(page.status());
    }
    return FromStatus(page.status());
  }
  json entries = json::array();
  for (const AuditEntry& entry : page->entries) {
    entries.push_back(EntryToJson(entry));
  }
  return api::Json(
      200, json{{"entries", entries},
                {"next", page->next == 0 ? json(nullptr)
                                         : json(std::to_string(page->next))}});
}

}  // namespace sluice
