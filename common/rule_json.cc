#include "common/rule_json.h"

#include <string>
#include <string_view>

#include "common/duration.h"
#include "common/json_util.h"
#include "common/text_util.h"

namespace sluice {
namespace {

using nlohmann::json;

constexpr std::string_view kNameForm = "letters, digits and _ . : / -";

template <typename T>
std::string Num(T v) {
  return std::to_string(v);
}

bool IsNameChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
         (c >= '0' && c <= '9') || c == '_' || c == '.' || c == ':' ||
         c == '/' || c == '-';
}

// Space or control character (match keys and values may not hold them).
bool IsSpaceOrControl(char c) {
  unsigned char u = static_cast<unsigned char>(c);
  return u <= 0x20 || u == 0x7f;
}

// The byte at `pos` for a message: " " or "\x0a".
std::string ByteAt(std::string_view s, size_t pos) {
  return text::Quote(text::CharAt(s, pos));
}

// name and domain.
Status ValidateName(std::string_view field, std::string_view value) {
  if (value.empty()) {
    return Status::InvalidArgument(std::string(field) +
                                       " must not be empty; write 1 to 128 "
                                       "characters of " +
                                       std::string(kNameForm),
                                   std::string(field));
  }
  if (value.size() > kMaxNameBytes) {
    return Status::InvalidArgument(
        std::string(field) + " is " + Num(value.size()) +
            " bytes long; the most allowed is " + Num(kMaxNameBytes),
        std::string(field));
  }
  for (size_t i = 0; i < value.size(); ++i) {
    if (!IsNameChar(value[i])) {
      return Status::InvalidArgument(
          std::string(field) + " " + text::Quote(value) + " contains " +
              ByteAt(value, i) + " at byte " + Num(i) +
              ", which is not allowed; use only " + std::string(kNameForm),
          std::string(field));
    }
  }
  return Status::Ok();
}

Status ValidateMatchKey(std::string_view key) {
  if (key.empty()) {
    return Status::InvalidArgument(
        "match has an empty key; write keys of 1 to 128 bytes without spaces "
        "or control characters",
        "match");
  }
  if (key.size() > kMaxMatchKeyBytes) {
    return Status::InvalidArgument(
        "match key " + text::Quote(key) + " is " + Num(key.size()) +
            " bytes long; the most allowed is " + Num(kMaxMatchKeyBytes),
        "match");
  }
  for (size_t i = 0; i < key.size(); ++i) {
    if (IsSpaceOrControl(key[i])) {
      return Status::InvalidArgument(
          "match key " + text::Quote(key) + " contains " + ByteAt(key, i) +
              " at byte " + Num(i) +
              "; keys may not contain spaces or control characters",
          "match");
    }
  }
  if (!text::IsValidUtf8(key)) {
    return Status::InvalidArgument(
        "match key " + text::Quote(key) + " is not valid UTF-8; write text",
        "match");
  }
  return Status::Ok();
}

Status ValidateMatchValue(std::string_view key, std::string_view value) {
  const std::string field = "match." + std::string(key);
  if (value.empty()) {
    return Status::InvalidArgument(
        field +
            " must not be empty; write the exact value, or \"*\" for any "
            "value",
        field);
  }
  if (value.size() > kMaxMatchValueBytes) {
    return Status::InvalidArgument(field + " is " + Num(value.size()) +
                                       " bytes long; the most allowed is " +
                                       Num(kMaxMatchValueBytes),
                                   field);
  }
  for (size_t i = 0; i < value.size(); ++i) {
    if (IsSpaceOrControl(value[i])) {
      return Status::InvalidArgument(
          field + " " + text::Quote(value) + " contains " + ByteAt(value, i) +
              " at byte " + Num(i) +
              "; values may not contain spaces or control characters",
          field);
    }
  }
  if (!text::IsValidUtf8(value)) {
    return Status::InvalidArgument(
        field + " " + text::Quote(value) + " is not valid UTF-8; write text",
        field);
  }
  return Status::Ok();
}

Status MatchTooLarge(size_t keys) {
  return Status::InvalidArgument("match has " + Num(keys) +
                                     " keys; the most allowed is " +
                                     Num(kMaxMatchKeys),
                                 "match");
}

// limit and burst; `got` is how the value was written.
Status BadCount(std::string_view field, const std::string& got) {
  return Status::InvalidArgument(std::string(field) +
                                     " must be an integer from 1 to " +
                                     Num(kMaxLimit) + ", got " + got,
                                 std::string(field));
}

Status ValidateCount(std::string_view field, int64_t value) {
  if (value < 1 || value > kMaxLimit) return BadCount(field, Num(value));
  return Status::Ok();
}

Status BadRevision(std::string_view field, const std::string& got) {
  return Status::InvalidArgument(
      std::string(field) + " must be an integer, 0 or more, got " + got,
      std::string(field));
}

Status ValidatePeriodMillis(int64_t period_ms) {
  if (period_ms < kMinPeriodMillis || period_ms > kMaxPeriodMillis) {
    return Status::InvalidArgument(
        "period must be from " + FormatDurationMillis(kMinPeriodMillis) +
            " to " + FormatDurationMillis(kMaxPeriodMillis) + ", got " +
            FormatDurationMillis(period_ms),
        "period");
  }
  return Status::Ok();
}

Status Missing(std::string_view field, std::string_view expected) {
  return Status::InvalidArgument(
      std::string(field) + " is required: " + std::string(expected),
      std::string(field));
}

constexpr std::string_view kKnownFields[] = {
    "id",     "version", "name", "domain",       "match",  "limit",
    "period", "burst",   "mode", "failure_mode", "enabled"};

bool IsKnownField(std::string_view name) {
  for (std::string_view known : kKnownFields) {
    if (name == known) return true;
  }
  return false;
}

// The member `name` of object `j`, or nullptr when absent. Optional fields
// that are null count as absent (null asks for the default).
const json* Member(const json& j, const char* name, bool null_is_absent) {
  auto it = j.find(name);
  if (it == j.end()) return nullptr;
  if (null_is_absent && it->is_null()) return nullptr;
  return &*it;
}

Status ReadName(const json& j, const char* field, std::string* out) {
  const json* v = Member(j, field, false);
  if (v == nullptr) {
    return Missing(field, "1 to 128 characters of " + std::string(kNameForm));
  }
  if (!v->is_string()) {
    return Status::InvalidArgument(std::string(field) +
                                       " must be a string of 1 to 128 "
                                       "characters of " +
                                       std::string(kNameForm) + ", got " +
                                       json_util::Describe(*v),
                                   field);
  }
  *out = v->get<std::string>();
  return ValidateName(field, *out);
}

Status ReadCount(const json& j, const char* field, int64_t* out) {
  const json* v = Member(j, field, false);
  if (v == nullptr) {
    return Missing(field, "an integer from 1 to " + Num(kMaxLimit));
  }
  if (!json_util::GetInt64(*v, out)) {
    return BadCount(field, json_util::Describe(*v));
  }
  return ValidateCount(field, *out);
}

Status ReadRevision(const json& j, const char* field, int64_t* out) {
  const json* v = Member(j, field, true);
  if (v == nullptr) return Status::Ok();
  if (!json_util::GetInt64(*v, out) || *out < 0) {
    return BadRevision(field, json_util::Describe(*v));
  }
  return Status::Ok();
}

Status ReadMatch(const json& j, Rule* rule) {
  const json* v = Member(j, "match", true);
  if (v == nullptr) return Status::Ok();
  if (!v->is_object()) {
    return Status::InvalidArgument(
        "match must be an object of key to value, like {\"client_id\": "
        "\"*\"}, got " +
            json_util::Describe(*v),
        "match");
  }
  if (v->size() > kMaxMatchKeys) return MatchTooLarge(v->size());
  // A json object iterates in key order, so `match` comes out sorted.
  for (auto it = v->begin(); it != v->end(); ++it) {
    const std::string& key = it.key();
    Status st = ValidateMatchKey(key);
    if (!st.ok()) return st;
    if (!it->is_string()) {
      const std::string field = "match." + key;
      return Status::InvalidArgument(
          field +
              " must be a string: the exact value, or \"*\" for any value, "
              "got " +
              json_util::Describe(*it),
          field);
    }
    const std::string& value = it->get_ref<const std::string&>();
    st = ValidateMatchValue(key, value);
    if (!st.ok()) return st;
    rule->match.emplace_back(key, value);
  }
  return Status::Ok();
}

Status ReadPeriod(const json& j, Rule* rule) {
  const json* v = Member(j, "period", false);
  if (v == nullptr) {
    return Missing("period",
                   "a whole number followed by ms, s, m, h or d, like "
                   "\"500ms\" or \"1m\"");
  }
  if (!v->is_string()) {
    return Status::InvalidArgument(
        "period must be a string like \"1s\" or \"500ms\", got " +
            json_util::Describe(*v),
        "period");
  }
  StatusOr<int64_t> ms =
      ParseDurationMillis(v->get_ref<const std::string&>(), "period");
  if (!ms.ok()) {
    return Status::InvalidArgument(ms.status().message(), "period");
  }
  rule->period_ms = *ms;
  return Status::Ok();
}

Status ReadMode(const json& j, Rule* rule) {
  if (const json* v = Member(j, "mode", true)) {
    if (!v->is_string() ||
        !ParseRuleMode(v->get_ref<const std::string&>(), &rule->mode)) {
      return Status::InvalidArgument(
          "mode must be \"enforce\" or \"shadow\", got " +
              json_util::Describe(*v),
          "mode");
    }
  }
  return Status::Ok();
}

Status ReadFailureMode(const json& j, Rule* rule) {
  if (const json* v = Member(j, "failure_mode", true)) {
    if (!v->is_string() || !ParseFailureMode(v->get_ref<const std::string&>(),
                                             &rule->failure_mode)) {
      return Status::InvalidArgument(
          "failure_mode must be \"open\", \"closed\" or \"local\", got " +
              json_util::Describe(*v),
          "failure_mode");
    }
  }
  return Status::Ok();
}

Status ReadEnabled(const json& j, Rule* rule) {
  if (const json* v = Member(j, "enabled", true)) {
    if (!v->is_boolean()) {
      return Status::InvalidArgument(
          "enabled must be true or false, got " + json_util::Describe(*v),
          "enabled");
    }
    rule->enabled = v->get<bool>();
  }
  return Status::Ok();
}

Status ReadModes(const json& j, Rule* rule) {
  Status st = ReadMode(j, rule);
  if (st.ok()) st = ReadFailureMode(j, rule);
  if (st.ok()) st = ReadEnabled(j, rule);
  return st;
}

Status NotAnObject(const json& j) {
  return Status::InvalidArgument(
      "a rule must be a JSON object like {\"name\": \"search\", "
      "\"domain\": \"api\", \"limit\": 100, \"period\": \"1s\"}, got " +
      json_util::Describe(j));
}

Status UnknownField(const std::string& key) {
  return Status::InvalidArgument(
      "unknown field " + text::Quote(key) +
          "; a rule has only id, version, name, domain, match, limit, "
          "period, burst, mode, failure_mode and enabled",
      key);
}

}  // namespace

StatusOr<Rule> RuleFromJson(const json& j) {
  if (!j.is_object()) return NotAnObject(j);
  for (auto it = j.begin(); it != j.end(); ++it) {
    if (!IsKnownField(it.key())) return UnknownField(it.key());
  }
  Rule rule;
  Status st = ReadRevision(j, "id", &rule.id);
  if (st.ok()) st = ReadRevision(j, "version", &rule.version);
  if (st.ok()) st = ReadName(j, "name", &rule.name);
  if (st.ok()) st = ReadName(j, "domain", &rule.domain);
  if (st.ok()) st = ReadMatch(j, &rule);
  if (st.ok()) st = ReadCount(j, "limit", &rule.limit);
  if (st.ok()) st = ReadPeriod(j, &rule);
  if (st.ok()) {
    if (Member(j, "burst", true) == nullptr) {
      rule.burst = rule.limit;
    } else {
      st = ReadCount(j, "burst", &rule.burst);
    }
  }
  if (st.ok()) st = ReadModes(j, &rule);
  if (!st.ok()) return st;
  return rule;
}

std::vector<Status> RuleJsonProblems(const json& j) {
  std::vector<Status> problems;
  if (!j.is_object()) {
    problems.push_back(NotAnObject(j));
    return problems;
  }
  for (auto it = j.begin(); it != j.end(); ++it) {
    if (!IsKnownField(it.key())) problems.push_back(UnknownField(it.key()));
  }
  Rule rule;
  auto add = [&problems](const Status& st) {
    if (!st.ok()) problems.push_back(st);
  };
  add(ReadRevision(j, "id", &rule.id));
  add(ReadRevision(j, "version", &rule.version));
  add(ReadName(j, "name", &rule.name));
  add(ReadName(j, "domain", &rule.domain));
  add(ReadMatch(j, &rule));
  add(ReadCount(j, "limit", &rule.limit));
  add(ReadPeriod(j, &rule));
  if (Member(j, "burst", true) != nullptr) {
    add(ReadCount(j, "burst", &rule.burst));
  }
  add(ReadMode(j, &rule));
  add(ReadFailureMode(j, &rule));
  add(ReadEnabled(j, &rule));
  return problems;
}

Status ValidateRule(const Rule& rule) {
  if (rule.id < 0) return BadRevision("id", Num(rule.id));
  if (rule.version < 0) return BadRevision("version", Num(rule.version));
  Status st = ValidateName("name", rule.name);
  if (!st.ok()) return st;
  st = ValidateName("domain", rule.domain);
  if (!st.ok()) return st;
  if (rule.match.size() > kMaxMatchKeys)
    return MatchTooLarge(rule.match.size());
  for (size_t i = 0; i < rule.match.size(); ++i) {
    const auto& [key, value] = rule.match[i];
    st = ValidateMatchKey(key);
    if (!st.ok()) return st;
    if (i > 0 && !(rule.match[i - 1].first < key)) {
      return Status::InvalidArgument(
          "match keys must be sorted and unique, but " + text::Quote(key) +
              " follows " + text::Quote(rule.match[i - 1].first),
          "match");
    }
    st = ValidateMatchValue(key, value);
    if (!st.ok()) return st;
  }
  st = ValidateCount("limit", rule.limit);
  if (!st.ok()) return st;
  st = ValidatePeriodMillis(rule.period_ms);
  if (!st.ok()) return st;
  return ValidateCount("burst", rule.burst);
}

json RuleToJson(const Rule& rule) {
  json match = json::object();
  for (const auto& [key, value] : rule.match) match[key] = value;
  json j = json::object();
  j["id"] = rule.id;
  j["version"] = rule.version;
  j["name"] = rule.name;
  j["domain"] = rule.domain;
  j["match"] = std::move(match);
  j["limit"] = rule.limit;
  j["period"] = FormatDurationMillis(rule.period_ms);
  j["burst"] = rule.burst;
  j["mode"] = std::string(RuleModeName(rule.mode));
  j["failure_mode"] = std::string(FailureModeName(rule.failure_mode));
  j["enabled"] = rule.enabled;
  return j;
}

}  // namespace sluice
