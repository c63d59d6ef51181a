#include "common/wire_usage.h"

#include <string>
#include <utility>

#include "common/json_util.h"

namespace sluice::wire_internal {
namespace {

using nlohmann::json;

Status Missing(const std::string& path, const std::string& expected) {
  return Status::InvalidArgument(path + " is missing or wrong; expected " +
                                 expected);
}

// Reads object[name] as an integer in [min, max].
Status Int(const json& object, const std::string& where, const char* name,
           int64_t min, int64_t* out) {
  auto it = object.find(name);
  if (it == object.end() || !json_util::GetInt64(*it, out) || *out < min) {
    return Missing(where + "." + name,
                   "an integer, " + std::to_string(min) + " or more");
  }
  return Status::Ok();
}

Status Uint(const json& object, const std::string& where, const char* name,
            uint64_t* out) {
  auto it = object.find(name);
  if (it == object.end() || !json_util::GetUint64(*it, out) || *out == 0) {
    return Missing(where + "." + name, "an integer, 1 or more");
  }
  return Status::Ok();
}

Status Str(const json& object, const std::string& where, const char* name,
           std::string* out) {
  auto it = object.find(name);
  if (it == object.end() || !it->is_string()) {
    return Missing(where + "." + name, "a string");
  }
  *out = it->get<std::string>();
  return Status::Ok();
}

// An array of `width` integers, each >= 0, the first >= `first_min`.
bool IntRow(const json& row, size_t width, int64_t* out) {
  if (!row.is_array() || row.size() != width) return false;
  for (size_t i = 0; i < width; ++i) {
    if (!json_util::GetInt64(row[i], &out[i]) || out[i] < 0) return false;
  }
  return true;
}

Status DecodeCounts(const json& array, UsageReport* m) {
  if (!array.is_array()) {
    return Missing("usage_report.counts", "an array of counts");
  }
  for (size_t i = 0; i < array.size(); ++i) {
    int64_t v[5];
    if (!IntRow(array[i], 5, v) || v[0] < 1 || v[1] % kMillisPerMinute != 0) {
      return Status::InvalidArgument(
          "usage_report.counts[" + std::to_string(i) +
          "] must be [rule_id >= 1, minute_ms (a multiple of 60000), "
          "allowed, refused, shadow_refused], all integers >= 0");
    }
    m->counts.push_back(UsageCounts{v[0], v[1], v[2], v[3], v[4]});
  }
  return Status::Ok();
}

Status DecodeEntries(const json& array, const std::string& where,
                     std::vector<HeavyHitter>* out) {
  if (!array.is_array()) return Missing(where, "an array of entries");
  for (size_t i = 0; i < array.size(); ++i) {
    const json& row = array[i];
    HeavyHitter e;
    bool ok = row.is_array() && row.size() == 4 && row[0].is_string() &&
              json_util::GetInt64(row[1], &e.count) &&
              json_util::GetInt64(row[2], &e.error) &&
              json_util::GetInt64(row[3], &e.other);
    if (!ok) {
      return Status::InvalidArgument(
          where + "[" + std::to_string(i) +
          "] must be [key (a string), count, error, other (integers)]");
    }
    e.key = row[0].get<std::string>();
    out->push_back(std::move(e));
  }
  return Status::Ok();
}

Status DecodeSummary(const json& object, const std::string& where,
                     UsageSummary* s) {
  if (!object.is_object()) return Missing(where, "an object");
  std::string by;
  Status st = Int(object, where, "rule_id", 1, &s->rule_id);
  if (st.ok()) st = Int(object, where, "minute_ms", 0, &s->minute_ms);
  if (st.ok() && s->minute_ms % kMillisPerMinute != 0) {
    st = Missing(where + ".minute_ms", "a multiple of 60000");
  }
  if (st.ok()) st = Str(object, where, "by", &by);
  if (st.ok() && !ParseUsageRanking(by, &s->by)) {
    st = Missing(where + ".by", "\"refused\" or \"allowed\"");
  }
  if (st.ok()) st = Int(object, where, "capacity", 1, &s->capacity);
  if (st.ok()) st = Int(object, where, "floor", 0, &s->floor);
  if (st.ok()) st = Int(object, where, "total", 0, &s->total);
  if (!st.ok()) return st;
  auto it = object.find("entries");
  if (it == object.end()) return Missing(where + ".entries", "an array");
  return DecodeEntries(*it, where + ".entries", &s->entries);
}

json EncodeSummary(const UsageSummary& s) {
  json entries = json::array();
  for (const HeavyHitter& e : s.entries) {
    entries.push_back(json::array({e.key, e.count, e.error, e.other}));
  }
  return {{"rule_id", s.rule_id},
          {"minute_ms", s.minute_ms},
          {"by", UsageRankingName(s.by)},
          {"capacity", s.capacity},
          {"floor", s.floor},
          {"total", s.total},
          {"entries", std::move(entries)}};
}

}  // namespace

json EncodeUsageReport(const UsageReport& m) {
  json counts = json::array();
  for (const UsageCounts& c : m.counts) {
    counts.push_back(json::array(
        {c.rule_id, c.minute_ms, c.allowed, c.refused, c.shadow_refused}));
  }
  json summaries = json::array();
  for (const UsageSummary& s : m.summaries) {
    summaries.push_back(EncodeSummary(s));
  }
  return {{"type", "usage_report"},
          {"agent_id", m.agent_id},
          {"incarnation", m.incarnation},
          {"seq", m.seq},
          {"sent_ms", m.sent_ms},
          {"version", m.version},
          {"rules_version", m.rules_version},
          {"buckets", m.buckets},
          {"leases", m.leases},
          {"counts", std::move(counts)},
          {"summaries", std::move(summaries)}};
}

json EncodeUsageAck(const UsageAck& m) {
  return {
      {"type", "usage_ack"}, {"incarnation", m.incarnation}, {"seq", m.seq}};
}

StatusOr<WireMessage> DecodeUsageReport(const json& j) {
  const std::string where = "usage_report";
  UsageReport m;
  Status st = Str(j, where, "agent_id", &m.agent_id);
  if (st.ok()) st = Uint(j, where, "incarnation", &m.incarnation);
  if (st.ok()) st = Uint(j, where, "seq", &m.seq);
  if (st.ok()) st = Int(j, where, "sent_ms", 0, &m.sent_ms);
  if (st.ok()) st = Str(j, where, "version", &m.version);
  if (st.ok()) st = Int(j, where, "rules_version", 0, &m.rules_version);
  if (st.ok()) st = Int(j, where, "buckets", 0, &m.buckets);
  if (st.ok()) st = Int(j, where, "leases", 0, &m.leases);
  if (!st.ok()) return st;
  auto counts = j.find("counts");
  if (counts == j.end()) return Missing(where + ".counts", "an array");
  st = DecodeCounts(*counts, &m);
  if (!st.ok()) return st;
  auto summaries = j.find("summaries");
  if (summaries == j.end() || !summaries->is_array()) {
    return Missing(where + ".summaries", "an array");
  }
  for (size_t i = 0; i < summaries->size(); ++i) {
    UsageSummary s;
    st = DecodeSummary((*summaries)[i],
                       where + ".summaries[" + std::to_string(i) + "]", &s);
    if (!st.ok()) return st;
    m.summaries.push_back(std::move(s));
  }
  return WireMessage(std::move(m));
}

StatusOr<WireMessage> DecodeUsageAck(const json& j) {
  UsageAck m;
  Status st = Uint(j, "usage_ack", "incarnation", &m.incarnation);
  if (st.ok()) st = Uint(j, "usage_ack", "seq", &m.seq);
  if (!st.ok()) return st;
  return WireMessage(m);
}

}  // namespace sluice::wire_internal
