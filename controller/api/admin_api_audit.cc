// AdminApi: GET /api/v1/audit?since=<id or RFC 3339 time>&until=<time>
//   &actor=<name>&kind=<rule|token|agent_key>&target=<name or id>
//   &limit=<1..1000>
//
//   {"entries": [{"id", "at", "actor", "actor_token_id" (null for the
//     controller itself), "action", "target": {"kind", "id", "name"},
//     "before", "after"}, ...], "next": "<id>" | null}
//
// Entries come oldest first. since=<id> returns entries after that id;
// since=<time> entries at or after that time; none: from the start. until
// keeps entries before that time. actor, kind and target keep the entries
// by that actor, about that kind of target, about that target (by name,
// or by id when a whole number). Every filter given applies (AND), in SQL.
// next is the since= of the following page, with the same filters, when
// this one is full (more may follow), else null; ids follow time, so a
// since=<time> is not needed after the first page.
#include <nlohmann/json.hpp>
#include <string>

#include "controller/api/admin_api.h"
#include "controller/api/api_support.h"

namespace sluice {
namespace {

using nlohmann::json;

constexpr size_t kMaxFilterBytes = 256;

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

// The target kinds the log holds; the plural and route spellings name the
// same kinds.
bool Kind(const std::string& text, std::string* kind) {
  static const std::pair<const char*, const char*> kKinds[] = {
      {"rule", "rule"},           {"rules", "rule"},
      {"token", "token"},         {"tokens", "token"},
      {"agent_key", "agent_key"}, {"agent_keys", "agent_key"},
      {"agent-keys", "agent_key"}};
  for (const auto& [name, value] : kKinds) {
    if (text == name) {
      *kind = value;
      return true;
    }
  }
  return false;
}

// Reads the query string into *read; an error names the parameter.
Status ParseAuditQuery(const std::map<std::string, std::string>& query,
                       AuditLog::Query* read) {
  auto get = [&](const char* name) -> const std::string* {
    auto it = query.find(name);
    return it == query.end() ? nullptr : &it->second;
  };
  if (const std::string* since = get("since")) {
    if (AllDigits(*since)) {
      read->after_id = std::stoll(*since);
    } else {
      read->since = *since;
    }
  }
  if (const std::string* until = get("until")) read->until = *until;
  for (auto [name, out] :
       {std::pair{"actor", &read->actor}, std::pair{"target", &read->target}}) {
    const std::string* value = get(name);
    if (value == nullptr) continue;
    if (value->empty() || value->size() > kMaxFilterBytes) {
      return Status::InvalidArgument(
          std::string(name) + " must be from 1 to " +
              std::to_string(kMaxFilterBytes) + " bytes, got " +
              std::to_string(value->size()) + "; leave it out to match any",
          name);
    }
    *out = *value;
  }
  if (const std::string* kind = get("kind")) {
    if (!Kind(*kind, &read->kind)) {
      return Status::InvalidArgument(
          "kind must be rule, token or agent_key (or rules, tokens, "
          "agent-keys), got '" +
              *kind + "'",
          "kind");
    }
  }
  if (const std::string* limit = get("limit")) {
    if (!AllDigits(*limit) || std::stoll(*limit) < 1 ||
        std::stoll(*limit) > AuditLog::kMaxLimit) {
      return Status::InvalidArgument("limit must be a whole number from 1 to " +
                                         std::to_string(AuditLog::kMaxLimit) +
                                         ", got '" + *limit + "'",
                                     "limit");
    }
    read->limit = static_cast<int>(std::stoll(*limit));
  }
  return Status::Ok();
}

}  // namespace

HttpResponse AdminApi::ListAudit(const Call& call) {
  StatusOr<std::map<std::string, std::string>> query =
      api::ParseQuery(call.request.query,
                      {"since", "until", "actor", "kind", "target", "limit"});
  if (!query.ok()) return api::BadQuery(query.status());
  AuditLog::Query read;
  if (Status bad = ParseAuditQuery(*query, &read); !bad.ok()) {
    return api::BadQuery(bad);
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
