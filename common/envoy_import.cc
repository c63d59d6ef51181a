#include "common/envoy_import.h"

#include <cstdint>
#include <utility>

#include "common/rule_json.h"
#include "common/status.h"

namespace sluice {
namespace {

using nlohmann::json;
using Path = std::vector<std::pair<std::string, std::string>>;

constexpr size_t kMaxName = 128;

struct Context {
  std::string source;
  std::string domain;
  EnvoyImport* out;

  void Note(const std::string& where, const std::string& message) {
    out->notes.push_back({source + ": " + where, message});
  }
  void Skip(const std::string& where, const std::string& message) {
    out->skipped.push_back({source + ": " + where, message});
  }
  void Error(const std::string& where, const std::string& message) {
    out->errors.push_back(
        {source + (where.empty() ? "" : ": " + where), message});
  }
};

// A scalar as text: strings as they are, numbers and booleans printed.
bool ScalarText(const json& j, std::string* out) {
  if (j.is_string()) {
    *out = j.get_ref<const std::string&>();
  } else if (j.is_number_integer()) {
    *out = std::to_string(j.get<int64_t>());
  } else if (j.is_boolean()) {
    *out = j.get<bool>() ? "true" : "false";
  } else {
    return false;
  }
  return true;
}

// true/false, as a boolean or its text.
bool Boolean(const json& j, bool* out) {
  std::string text;
  if (j.is_boolean()) {
    *out = j.get<bool>();
    return true;
  }
  if (!ScalarText(j, &text)) return false;
  if (text == "true" || text == "True" || text == "TRUE")
    *out = true;
  else if (text == "false" || text == "False" || text == "FALSE")
    *out = false;
  else
    return false;
  return true;
}

// A whole number >= 0, as a number or its text.
bool Count(const json& j, int64_t* out) {
  if (j.is_number_unsigned() || j.is_number_integer()) {
    *out = j.get<int64_t>();
    return *out >= 0;
  }
  if (!j.is_string()) return false;
  const std::string& text = j.get_ref<const std::string&>();
  if (text.empty() || text.size() > 18) return false;
  int64_t value = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return false;
    value = value * 10 + (c - '0');
  }
  *out = value;
  return true;
}

std::string Lower(std::string text) {
  for (char& c : text) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return text;
}

// The Sluice period of an envoy unit; *approximate for month and year.
bool Period(const std::string& unit, std::string* period, bool* approximate) {
  static const std::pair<const char*, const char*> kUnits[] = {
      {"second", "1s"}, {"minute", "1m"}, {"hour", "1h"},  {"day", "1d"},
      {"week", "7d"},   {"month", "30d"}, {"year", "365d"}};
  const std::string lower = Lower(unit);
  for (const auto& [name, sluice] : kUnits) {
    if (lower == name) {
      *period = sluice;
      *approximate = lower == "month" || lower == "year";
      return true;
    }
  }
  return false;
}

bool NameChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
         (c >= '0' && c <= '9') || c == '_' || c == '.' || c == ':' ||
         c == '/' || c == '-';
}

std::string Hex32(uint32_t v) {
  static const char kHex[] = "0123456789abcdef";
  std::string out(8, '0');
  for (int i = 7; i >= 0; --i, v >>= 4) out[i] = kHex[v & 0xf];
  return out;
}

// domain.key_value.key...: rule-name characters only, at most 128 bytes,
// unique among the rules already in `rules`.
std::string RuleName(const std::string& domain, const Path& path,
                     const json& rules) {
  std::string name = domain;
  for (const auto& [key, value] : path) {
    name += "." + key;
    if (value != "*") name += "_" + value;
  }
  uint32_t hash = 2166136261u;
  for (char& c : name) {
    hash = (hash ^ static_cast<unsigned char>(c)) * 16777619u;
    if (!NameChar(c)) c = '_';
  }
  if (name.size() > kMaxName)
    name = name.substr(0, kMaxName - 9) + "-" + Hex32(hash);
  auto taken = [&rules](const std::string& candidate) {
    for (const json& rule : rules) {
      auto it = rule.find("name");
      if (it != rule.end() && *it == candidate) return true;
    }
    return false;
  };
  std::string unique = name;
  for (int n = 2; taken(unique); ++n) {
    std::string suffix = "-" + std::to_string(n);
    unique = name.substr(0, kMaxName - suffix.size()) + suffix;
  }
  return unique;
}

std::string Joined(const json& replaces) {
  std::string names;
  if (!replaces.is_array()) return names;
  for (const json& r : replaces) {
    std::string name;
    if (r.is_object() && r.contains("name") && ScalarText(r["name"], &name)) {
      names += (names.empty() ? "" : ", ") + name;
    }
  }
  return names;
}

// The rule of a descriptor's rate_limit at `where`, or null when it makes
// none (said in notes).
json RuleOf(Context& ctx, const std::string& where, const Path& path,
            const json& limit, bool shadow) {
  static const std::set<std::string> kKnown = {"unit", "requests_per_unit",
                                               "unlimited", "name", "replaces"};
  for (auto it = limit.begin(); it != limit.end(); ++it) {
    if (kKnown.count(it.key()) == 0) {
      ctx.Note(where + ".rate_limit." + it.key(),
               "unknown field, ignored (envoy's rate_limit has unit, "
               "requests_per_unit, unlimited, name and replaces)");
    }
  }
  json rule = {{"domain", ctx.domain}, {"match", json::object()}};
  for (const auto& [key, value] : path) rule["match"][key] = value;
  bool unlimited = false;
  if (limit.contains("unlimited") && !Boolean(limit["unlimited"], &unlimited)) {
    ctx.Skip(where + ".rate_limit.unlimited", "must be true or false");
    return nullptr;
  }
  if (unlimited) {
    rule["limit"] = kEnvoyUnlimited;
    rule["period"] = "1s";
    ctx.Note(where,
             "unlimited: Sluice has no unlimited rule; it becomes a "
             "rule of the largest limit (2^53 a second), which still "
             "overrides a wildcard rule of the same keys as envoy's "
             "does, but is counted by the agents like any rule");
  } else {
    int64_t per_unit = 0;
    std::string unit, period;
    bool approximate = false;
    if (!limit.contains("requests_per_unit") ||
        !Count(limit["requests_per_unit"], &per_unit)) {
      ctx.Skip(where + ".rate_limit.requests_per_unit",
               "must be a whole number >= 0, like 100");
      return nullptr;
    }
    if (!limit.contains("unit") || !ScalarText(limit["unit"], &unit) ||
        !Period(unit, &period, &approximate)) {
      ctx.Skip(where + ".rate_limit.unit",
               "must be second, minute, hour, day, week, month or year");
      return nullptr;
    }
    if (per_unit == 0) {
      ctx.Skip(where,
               "requests_per_unit 0 (refuse everything) has no Sluice "
               "rule: a limit is at least 1; refuse these requests in "
               "the application or the proxy instead");
      return nullptr;
    }
    if (approximate) {
      ctx.Note(where, "unit " + unit + " becomes " + period +
                          ": Sluice periods are fixed lengths");
    }
    rule["limit"] = per_unit;
    rule["period"] = period;
  }
  rule["burst"] = rule["limit"];
  rule["mode"] = shadow ? "shadow" : "enforce";
  rule["failure_mode"] = "local";
  rule["enabled"] = true;
  const std::string replaces = Joined(limit.value("replaces", json()));
  if (limit.contains("replaces")) {
    ctx.Note(where, "replaces " + (replaces.empty() ? "(no name)" : replaces) +
                        ": Sluice has no replaces; where both rules match a "
                        "check, both apply (the stricter wins). Give them the "
                        "same keys to make the more specific one an override");
  }
  return rule;
}

void VisitList(Context& ctx, const json& list, const std::string& where,
               const Path& path);

void VisitDescriptor(Context& ctx, const json& d, const std::string& where,
                     Path path) {
  static const std::set<std::string> kKnown = {
      "key",         "value",       "rate_limit",
      "descriptors", "shadow_mode", "detailed_metric"};
  if (!d.is_object()) {
    ctx.Error(where,
              "a descriptor must be a map with key (and value, "
              "rate_limit, descriptors, ...)");
    return;
  }
  for (auto it = d.begin(); it != d.end(); ++it) {
    if (kKnown.count(it.key()) == 0) {
      ctx.Note(where + "." + it.key(), "unknown field, ignored");
    }
  }
  std::string key, value = "*";
  if (!d.contains("key") || !ScalarText(d["key"], &key) || key.empty()) {
    ctx.Error(where + ".key", "every descriptor needs a key");
    return;
  }
  const bool has_value = d.contains("value") && !d["value"].is_null();
  if (has_value && !ScalarText(d["value"], &value)) {
    ctx.Error(where + ".value", "must be a string");
    return;
  }
  for (const auto& [k, v] : path) {
    if (k == key) {
      ctx.Skip(where, "key \"" + key +
                          "\" appears twice on this path; a "
                          "Sluice rule matches each key once");
      return;
    }
  }
  if (has_value && value.find('*') != std::string::npos && value != "*") {
    ctx.Skip(where, "value \"" + value +
                        "\" is a prefix wildcard in envoy; "
                        "Sluice matches exact values or any value (\"*\")");
    return;
  }
  path.emplace_back(key, value);
  const bool has_limit = d.contains("rate_limit");
  if (!has_value && (has_limit || d.contains("descriptors"))) {
    ctx.Note(where, "key \"" + key +
                        "\" without a value: matches any value, "
                        "each its own bucket (\"*\")");
  }
  bool shadow = false;
  if (d.contains("shadow_mode") && !Boolean(d["shadow_mode"], &shadow)) {
    ctx.Error(where + ".shadow_mode", "must be true or false");
    return;
  }
  if (d.contains("detailed_metric")) {
    ctx.Note(where, "detailed_metric ignored: Sluice's metrics are per rule");
  }
  if (has_limit) {
    const json& limit = d["rate_limit"];
    if (!limit.is_object()) {
      ctx.Error(where + ".rate_limit",
                "must be a map with unit and requests_per_unit");
    } else {
      json rule = RuleOf(ctx, where, path, limit, shadow);
      if (!rule.is_null()) {
        rule["name"] = RuleName(ctx.domain, path, ctx.out->rules);
        std::string envoy_name;
        if (limit.contains("name") && ScalarText(limit["name"], &envoy_name)) {
          ctx.Note(where, "name " + envoy_name +
                              ": Sluice names rules by "
                              "their path; this one is " +
                              rule["name"].get<std::string>());
        }
        std::vector<Status> problems = RuleJsonProblems(rule);
        if (problems.empty()) {
          ctx.out->rules.push_back(std::move(rule));
        } else {
          ctx.Skip(where, "not a valid Sluice rule: " + problems[0].message());
        }
      }
    }
  } else if (shadow) {
    ctx.Note(where, "shadow_mode without a rate_limit does nothing");
  }
  if (d.contains("descriptors")) {
    VisitList(ctx, d["descriptors"], where + ".descriptors", path);
  }
}

void VisitList(Context& ctx, const json& list, const std::string& where,
               const Path& path) {
  if (list.is_null()) return;
  if (!list.is_array()) {
    ctx.Error(where, "descriptors must be a list");
    return;
  }
  for (size_t i = 0; i < list.size(); ++i) {
    VisitDescriptor(ctx, list[i], where + "[" + std::to_string(i) + "]", path);
  }
}

}  // namespace

void ConvertEnvoyConfig(const json& config, std::string_view source,
                        EnvoyImport* out) {
  Context ctx{std::string(source), "", out};
  if (!config.is_object()) {
    ctx.Error("",
              "an envoy ratelimit configuration is a map with domain and "
              "descriptors");
    return;
  }
  if (!config.contains("domain") ||
      !ScalarText(config["domain"], &ctx.domain) || ctx.domain.empty()) {
    ctx.Error("domain", "missing: every configuration names its domain");
    return;
  }
  for (auto it = config.begin(); it != config.end(); ++it) {
    if (it.key() != "domain" && it.key() != "descriptors") {
      ctx.Note(it.key(), "unknown top-level field, ignored");
    }
  }
  out->domains.insert(ctx.domain);
  VisitList(ctx, config.value("descriptors", json()), "descriptors", {});
}

json EnvoyImportDocument(const EnvoyImport& import) {
  return json{{"rules", import.rules}};
}

}  // namespace sluice
