#include "common/wire.h"

#include <limits>
#include <nlohmann/json.hpp>
#include <string>

#include "common/json_util.h"
#include "common/rule_json.h"
#include "common/text_util.h"
#include "common/wire_controllers.h"
#include "common/wire_fields.h"
#include "common/wire_lease_codec.h"
#include "common/wire_usage.h"

namespace sluice {
namespace {

using wire_internal::Fields;
using wire_internal::json;
using wire_internal::kInt64Max;
constexpr std::string_view kTypes =
    "hello, snapshot_request, heartbeat, rules_snapshot, rules_delta, "
    "lease_request, lease_grant, usage_report, usage_ack, controllers or "
    "error";

// --- Encoding ---

// A wildcard value is any bytes a client sent. Valid UTF-8 travels as a JSON
// string; anything else as {"hex": "..."} so it survives exactly.
json EncodeValue(const std::string& value) {
  if (text::IsValidUtf8(value)) return value;
  static constexpr char kHex[] = "0123456789abcdef";
  std::string hex;
  hex.reserve(value.size() * 2);
  for (char c : value) {
    unsigned char u = static_cast<unsigned char>(c);
    hex += kHex[u >> 4];
    hex += kHex[u & 0xf];
  }
  return json{{"hex", std::move(hex)}};
}

json EncodeValues(const std::vector<std::string>& values) {
  json out = json::array();
  for (const auto& value : values) out.push_back(EncodeValue(value));
  return out;
}

json EncodeRules(const std::vector<Rule>& rules) {
  json out = json::array();
  for (const Rule& rule : rules) out.push_back(RuleToJson(rule));
  return out;
}

struct Encoder {
  json operator()(const Hello& m) const {
    return {{"type", "hello"},
            {"agent_id", m.agent_id},
            {"rules_version", m.rules_version},
            {"protocol", m.protocol}};
  }
  json operator()(const SnapshotRequest&) const {
    return {{"type", "snapshot_request"}};
  }
  json operator()(const Heartbeat& m) const {
    json out = {{"type", "heartbeat"},
                {"rules_version", m.rules_version},
                {"agents", m.agents}};
    if (m.controllers_version > 0) {
      out["controllers_version"] = m.controllers_version;
    }
    return out;
  }
  json operator()(const Controllers& m) const {
    return wire_internal::EncodeControllers(m);
  }
  json operator()(const RulesSnapshot& m) const {
    return {{"type", "rules_snapshot"},
            {"version", m.version},
            {"agents", m.agents},
            {"rules", EncodeRules(m.rules)}};
  }
  json operator()(const RulesDelta& m) const {
    return {{"type", "rules_delta"},
            {"base_version", m.base_version},
            {"version", m.version},
            {"upserts", EncodeRules(m.upserts)},
            {"deletes", m.deletes}};
  }
  json operator()(const LeaseRequest& m) const {
    json items = json::array();
    for (const LeaseWant& item : m.items) {
      items.push_back({{"rule_id", item.rule_id},
                       {"values", EncodeValues(item.values)},
                       {"want", item.want},
                       {"admitted", item.admitted},
                       {"refused", item.refused},
                       {"unleased", item.unleased}});
    }
    return {{"type", "lease_request"}, {"seq", m.seq}, {"items", items}};
  }
  json operator()(const LeaseGrant& m) const {
    json items = json::array();
    for (const LeaseGrantItem& item : m.items) {
      items.push_back({{"rule_id", item.rule_id},
                       {"values", EncodeValues(item.values)},
                       {"tokens", item.tokens},
                       {"ttl_ms", item.ttl_ms}});
    }
    return {{"type", "lease_grant"}, {"seq", m.seq}, {"items", items}};
  }
  json operator()(const ErrorMessage& m) const {
    return {{"type", "error"}, {"message", m.message}};
  }
  json operator()(const UsageReport& m) const {
    return wire_internal::EncodeUsageReport(m);
  }
  json operator()(const UsageAck& m) const {
    return wire_internal::EncodeUsageAck(m);
  }
};

// --- Decoding ---

std::string Index(const std::string& path, size_t i) {
  return path + "[" + std::to_string(i) + "]";
}

int HexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

Status DecodeValue(const json& v, const std::string& where, std::string* out) {
  if (v.is_string()) {
    *out = v.get<std::string>();
    return Status::Ok();
  }
  const char* expected =
      " must be a string or {\"hex\": \"<even number of hex digits>\"}, got ";
  auto hex_it = v.is_object() ? v.find("hex") : v.end();
  if (!v.is_object() || v.size() != 1 || hex_it == v.end() ||
      !hex_it->is_string()) {
    return Status::InvalidArgument(where + expected + json_util::Describe(v));
  }
  const std::string& hex = hex_it->get_ref<const std::string&>();
  if (hex.size() % 2 != 0) {
    return Status::InvalidArgument(where + expected + json_util::Describe(v));
  }
  out->clear();
  out->reserve(hex.size() / 2);
  for (size_t i = 0; i < hex.size(); i += 2) {
    int hi = HexDigit(hex[i]);
    int lo = HexDigit(hex[i + 1]);
    if (hi < 0 || lo < 0) {
      return Status::InvalidArgument(where + expected + json_util::Describe(v));
    }
    out->push_back(static_cast<char>(hi * 16 + lo));
  }
  return Status::Ok();
}

Status DecodeValues(const Fields& fields, const char* name,
                    std::vector<std::string>* out) {
  const json* array = nullptr;
  Status st = fields.Array(name, &array);
  if (!st.ok()) return st;
  const std::string path = fields.Path(name);
  out->resize(array->size());
  for (size_t i = 0; i < array->size(); ++i) {
    st = DecodeValue((*array)[i], Index(path, i), &(*out)[i]);
    if (!st.ok()) return st;
  }
  return Status::Ok();
}

Status DecodeRules(const Fields& fields, const char* name,
                   std::vector<Rule>* out) {
  const json* array = nullptr;
  Status st = fields.Array(name, &array);
  if (!st.ok()) return st;
  const std::string path = fields.Path(name);
  out->reserve(array->size());
  for (size_t i = 0; i < array->size(); ++i) {
    const std::string where = Index(path, i);
    StatusOr<Rule> rule = RuleFromJson((*array)[i]);
    if (!rule.ok()) {
      return Status::InvalidArgument(where + ": " + rule.status().message(),
                                     rule.status().field());
    }
    if (rule->id < 1) {
      return Status::InvalidArgument(
          where + ".id must be an integer, 1 or more (a stored rule), got " +
              std::to_string(rule->id),
          "id");
    }
    if (rule->version < 1) {
      return Status::InvalidArgument(
          where +
              ".version must be an integer, 1 or more (a stored rule), got " +
              std::to_string(rule->version),
          "version");
    }
    out->push_back(std::move(*rule));
  }
  return Status::Ok();
}

StatusOr<WireMessage> DecodeHello(const Fields& f) {
  Hello m;
  int64_t protocol = 0;
  Status st = f.Str("agent_id", &m.agent_id);
  if (st.ok()) st = f.Int("rules_version", 0, kInt64Max, &m.rules_version);
  if (st.ok()) {
    st = f.Int("protocol", 1, std::numeric_limits<int>::max(), &protocol);
  }
  if (!st.ok()) return st;
  m.protocol = static_cast<int>(protocol);
  return WireMessage(std::move(m));
}

StatusOr<WireMessage> DecodeHeartbeat(const Fields& f) {
  Heartbeat m;
  Status st = f.Int("rules_version", 0, kInt64Max, &m.rules_version);
  if (st.ok()) st = f.Int("agents", 0, kInt64Max, &m.agents);
  if (st.ok() && f.Has("controllers_version")) {
    st = f.Int("controllers_version", 0, kInt64Max, &m.controllers_version);
  }
  if (!st.ok()) return st;
  return WireMessage(m);
}

StatusOr<WireMessage> DecodeSnapshot(const Fields& f) {
  RulesSnapshot m;
  Status st = f.Int("version", 0, kInt64Max, &m.version);
  if (st.ok()) st = f.Int("agents", 0, kInt64Max, &m.agents);
  if (st.ok()) st = DecodeRules(f, "rules", &m.rules);
  if (!st.ok()) return st;
  return WireMessage(std::move(m));
}

StatusOr<WireMessage> DecodeDelta(const Fields& f) {
  RulesDelta m;
  Status st = f.Int("base_version", 0, kInt64Max, &m.base_version);
  if (st.ok()) st = f.Int("version", 0, kInt64Max, &m.version);
  if (st.ok()) st = DecodeRules(f, "upserts", &m.upserts);
  const json* deletes = nullptr;
  if (st.ok()) st = f.Array("deletes", &deletes);
  if (!st.ok()) return st;
  const std::string path = f.Path("deletes");
  for (size_t i = 0; i < deletes->size(); ++i) {
    int64_t id = 0;
    const json& v = (*deletes)[i];
    if (!json_util::GetInt64(v, &id) || id < 1) {
      return Status::InvalidArgument(Index(path, i) +
                                     " must be a rule id (an integer, 1 or "
                                     "more), got " +
                                     json_util::Describe(v));
    }
    m.deletes.push_back(id);
  }
  return WireMessage(std::move(m));
}

// Checks `items` is an array of objects and calls decode(fields, i) on each.
template <typename DecodeItem>
Status DecodeItems(const Fields& f, DecodeItem decode) {
  const json* items = nullptr;
  Status st = f.Array("items", &items);
  if (!st.ok()) return st;
  const std::string path = f.Path("items");
  for (size_t i = 0; i < items->size(); ++i) {
    const json& item = (*items)[i];
    const std::string where = Index(path, i);
    if (!item.is_object()) {
      return Status::InvalidArgument(where + " must be an object, got " +
                                     json_util::Describe(item));
    }
    st = decode(Fields(item, where));
    if (!st.ok()) return st;
  }
  return Status::Ok();
}

StatusOr<WireMessage> DecodeLeaseRequest(const Fields& f) {
  LeaseRequest m;
  Status st = f.Uint("seq", &m.seq);
  if (st.ok()) {
    st = DecodeItems(f, [&m](const Fields& item) {
      LeaseWant w;
      Status s = item.Int("rule_id", 1, kInt64Max, &w.rule_id);
      if (s.ok()) s = DecodeValues(item, "values", &w.values);
      if (s.ok()) s = item.Int("want", 0, kInt64Max, &w.want);
      if (s.ok()) s = item.Int("admitted", 0, kInt64Max, &w.admitted);
      if (s.ok()) s = item.Int("refused", 0, kInt64Max, &w.refused);
      if (s.ok()) s = item.Int("unleased", 0, kInt64Max, &w.unleased);
      if (s.ok()) m.items.push_back(std::move(w));
      return s;
    });
  }
  if (!st.ok()) return st;
  return WireMessage(std::move(m));
}

StatusOr<WireMessage> DecodeLeaseGrant(const Fields& f) {
  LeaseGrant m;
  Status st = f.Uint("seq", &m.seq);
  if (st.ok()) {
    st = DecodeItems(f, [&m](const Fields& item) {
      LeaseGrantItem g;
      Status s = item.Int("rule_id", 1, kInt64Max, &g.rule_id);
      if (s.ok()) s = DecodeValues(item, "values", &g.values);
      if (s.ok()) s = item.Int("tokens", 0, kInt64Max, &g.tokens);
      if (s.ok()) s = item.Int("ttl_ms", 0, kInt64Max, &g.ttl_ms);
      if (s.ok()) m.items.push_back(std::move(g));
      return s;
    });
  }
  if (!st.ok()) return st;
  return WireMessage(std::move(m));
}

StatusOr<WireMessage> DecodeError(const Fields& f) {
  ErrorMessage m;
  Status st = f.Str("message", &m.message);
  if (!st.ok()) return st;
  return WireMessage(std::move(m));
}

}  // namespace

namespace {

// True when `bytes` ends (but for white space) with `"<type>"}`: the
// encoder puts "type" last, so this picks the fast decoder to try.
bool EndsWithType(std::string_view bytes, std::string_view type) {
  while (!bytes.empty() && (bytes.back() == ' ' || bytes.back() == '\n' ||
                            bytes.back() == '\r' || bytes.back() == '\t')) {
    bytes.remove_suffix(1);
  }
  if (bytes.size() < type.size() + 3 || bytes.back() != '}') return false;
  bytes.remove_suffix(1);
  return bytes.back() == '"' &&
         bytes.substr(bytes.size() - 1 - type.size(), type.size()) == type &&
         bytes[bytes.size() - 2 - type.size()] == '"';
}

}  // namespace

std::string EncodeWireMessage(const WireMessage& message) {
  // Lease traffic is the high-volume part: encoded by hand (same bytes).
  if (const auto* request = std::get_if<LeaseRequest>(&message)) {
    std::string out;
    out.reserve(64 + 100 * request->items.size());
    wire_internal::AppendLeaseRequestJson(*request, &out);
    return out;
  }
  if (const auto* grant = std::get_if<LeaseGrant>(&message)) {
    std::string out;
    out.reserve(64 + 80 * grant->items.size());
    wire_internal::AppendLeaseGrantJson(*grant, &out);
    return out;
  }
  return wire_internal::EncodeWireMessageGeneric(message);
}

StatusOr<WireMessage> DecodeWireMessage(std::string_view bytes) {
  if (bytes.size() > kMaxWireMessageBytes) {
    return Status::InvalidArgument(
        "wire message is " + std::to_string(bytes.size()) +
        " bytes; the most allowed is " + std::to_string(kMaxWireMessageBytes));
  }
  // The fast path for lease traffic; anything it does not handle (or that
  // is wrong) goes through the generic decoder.
  if (EndsWithType(bytes, "lease_grant")) {
    LeaseGrant grant;
    if (wire_internal::FastDecodeLeaseGrant(bytes, &grant)) {
      return WireMessage(std::move(grant));
    }
  } else if (EndsWithType(bytes, "lease_request")) {
    LeaseRequest request;
    if (wire_internal::FastDecodeLeaseRequest(bytes, &request)) {
      return WireMessage(std::move(request));
    }
  }
  return wire_internal::DecodeWireMessageGeneric(bytes);
}

namespace wire_internal {

std::string EncodeWireMessageGeneric(const WireMessage& message) {
  return json_util::SafeDump(std::visit(Encoder(), message));
}

StatusOr<WireMessage> DecodeWireMessageGeneric(std::string_view bytes) {
  if (bytes.size() > kMaxWireMessageBytes) {
    return Status::InvalidArgument(
        "wire message is " + std::to_string(bytes.size()) +
        " bytes; the most allowed is " + std::to_string(kMaxWireMessageBytes));
  }
  const json j = json::parse(bytes.begin(), bytes.end(), nullptr,
                             /*allow_exceptions=*/false);
  if (j.is_discarded()) {
    return Status::InvalidArgument(
        "wire message of " + std::to_string(bytes.size()) +
        " bytes is not valid JSON; expected one JSON object with a \"type\" "
        "field");
  }
  if (!j.is_object()) {
    return Status::InvalidArgument(
        "wire message must be a JSON object with a \"type\" field, got " +
        json_util::Describe(j));
  }
  auto type_it = j.find("type");
  if (type_it == j.end() || !type_it->is_string()) {
    return Status::InvalidArgument(
        "wire message needs a \"type\" string, one of " + std::string(kTypes) +
        (type_it == j.end() ? std::string(", but has none")
                            : ", got " + json_util::Describe(*type_it)));
  }
  const std::string& type = type_it->get_ref<const std::string&>();
  const Fields fields(j, type);
  if (type == "hello") return DecodeHello(fields);
  if (type == "snapshot_request") return WireMessage(SnapshotRequest{});
  if (type == "heartbeat") return DecodeHeartbeat(fields);
  if (type == "rules_snapshot") return DecodeSnapshot(fields);
  if (type == "rules_delta") return DecodeDelta(fields);
  if (type == "lease_request") return DecodeLeaseRequest(fields);
  if (type == "lease_grant") return DecodeLeaseGrant(fields);
  if (type == "error") return DecodeError(fields);
  if (type == "usage_report") return wire_internal::DecodeUsageReport(j);
  if (type == "usage_ack") return wire_internal::DecodeUsageAck(j);
  if (type == "controllers") return wire_internal::DecodeControllers(j);
  return Status::InvalidArgument("unknown wire message type " +
                                 text::Quote(type) + "; expected " +
                                 std::string(kTypes));
}

}  // namespace wire_internal
}  // namespace sluice
