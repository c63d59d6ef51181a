#include "controller/api/usage_query.h"

#include <algorithm>
#include <cctype>
#include <string>

#include "common/duration.h"

namespace sluice {
namespace {

bool AllDigits(std::string_view text, size_t max_len) {
  if (text.empty() || text.size() > max_len) return false;
  for (char c : text) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}

int64_t Number(std::string_view text, size_t pos, size_t len) {
  int64_t v = 0;
  for (size_t i = pos; i < pos + len; ++i) v = v * 10 + (text[i] - '0');
  return v;
}

bool DigitsAt(std::string_view t, size_t pos, size_t len) {
  return pos + len <= t.size() && AllDigits(t.substr(pos, len), len);
}

// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's
// days_from_civil).
int64_t DaysFromCivil(int64_t y, int64_t m, int64_t d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const int64_t yoe = y - era * 400;
  const int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

int DaysInMonth(int64_t y, int64_t m) {
  static constexpr int kDays[] = {31, 28, 31, 30, 31, 30,
                                  31, 31, 30, 31, 30, 31};
  const bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
  return m == 2 && leap ? 29 : kDays[m - 1];
}

// YYYY-MM-DDTHH:MM:SS[.frac](Z|+HH:MM|-HH:MM); false when malformed.
bool ParseRfc3339(std::string_view t, int64_t* out) {
  if (!DigitsAt(t, 0, 4) || t.size() < 20 || t[4] != '-' ||
      !DigitsAt(t, 5, 2) || t[7] != '-' || !DigitsAt(t, 8, 2) ||
      (t[10] != 'T' && t[10] != 't') || !DigitsAt(t, 11, 2) || t[13] != ':' ||
      !DigitsAt(t, 14, 2) || t[16] != ':' || !DigitsAt(t, 17, 2)) {
    return false;
  }
  const int64_t y = Number(t, 0, 4), mo = Number(t, 5, 2), d = Number(t, 8, 2);
  const int64_t h = Number(t, 11, 2), mi = Number(t, 14, 2),
                s = Number(t, 17, 2);
  if (mo < 1 || mo > 12 || d < 1 || d > DaysInMonth(y, mo) || h > 23 ||
      mi > 59 || s > 60) {
    return false;
  }
  size_t pos = 19;
  int64_t millis = 0;
  if (pos < t.size() && t[pos] == '.') {
    size_t start = ++pos;
    while (pos < t.size() && std::isdigit(static_cast<unsigned char>(t[pos]))) {
      if (pos - start < 3) millis = millis * 10 + (t[pos] - '0');
      ++pos;
    }
    if (pos == start || pos - start > 9) return false;
    for (size_t i = pos - start; i < 3; ++i) millis *= 10;
  }
  int64_t offset_min = 0;
  if (pos < t.size() && (t[pos] == 'Z' || t[pos] == 'z')) {
    if (pos + 1 != t.size()) return false;
  } else if (pos < t.size() && (t[pos] == '+' || t[pos] == '-')) {
    if (pos + 6 != t.size() || !DigitsAt(t, pos + 1, 2) || t[pos + 3] != ':' ||
        !DigitsAt(t, pos + 4, 2) || Number(t, pos + 1, 2) > 23 ||
        Number(t, pos + 4, 2) > 59) {
      return false;
    }
    offset_min = Number(t, pos + 1, 2) * 60 + Number(t, pos + 4, 2);
    if (t[pos] == '-') offset_min = -offset_min;
  } else {
    return false;
  }
  const int64_t seconds = DaysFromCivil(y, mo, d) * 86400 + h * 3600 + mi * 60 +
                          s - offset_min * 60;
  *out = seconds * 1000 + millis;
  return true;
}

std::string Ms(int64_t ms) { return std::to_string(ms); }

const std::string* Find(const std::map<std::string, std::string>& params,
                        const char* name) {
  auto it = params.find(name);
  return it == params.end() ? nullptr : &it->second;
}

Status ParseRule(const std::map<std::string, std::string>& params,
                 bool required, int64_t* rule_id) {
  const std::string* text = Find(params, "rule");
  if (text == nullptr) {
    if (!required) return Status::Ok();
    return Status::InvalidArgument(
        "rule is required: give the id of the rule whose clients to rank "
        "(rule=7)",
        "rule");
  }
  if (!AllDigits(*text, 18) || std::stoll(*text) < 1) {
    return Status::InvalidArgument(
        "rule must be a rule id (a positive whole number), got '" + *text + "'",
        "rule");
  }
  *rule_id = std::stoll(*text);
  return Status::Ok();
}

// from/to with their defaults and order checked.
Status ParseWindow(const std::map<std::string, std::string>& params,
                   int64_t now_ms, int64_t* from_ms, int64_t* to_ms) {
  *to_ms = now_ms;
  if (const std::string* to = Find(params, "to")) {
    StatusOr<int64_t> parsed = ParseUsageTime(*to, "to");
    if (!parsed.ok()) return parsed.status();
    *to_ms = *parsed;
  }
  *from_ms = *to_ms - kMillisPerHour;
  if (const std::string* from = Find(params, "from")) {
    StatusOr<int64_t> parsed = ParseUsageTime(*from, "from");
    if (!parsed.ok()) return parsed.status();
    *from_ms = *parsed;
  }
  if (*from_ms > *to_ms) {
    return Status::InvalidArgument("from (" + Ms(*from_ms) + ") is after to (" +
                                       Ms(*to_ms) +
                                       "); give a from at or before to",
                                   "from");
  }
  return Status::Ok();
}

// The resolution `from` falls in; InvalidArgument when it is older than
// both.
Status ChooseResolution(int64_t from_ms, int64_t now_ms, int64_t minute_keep,
                        int64_t hour_keep, const char* what,
                        UsageResolution* out) {
  if (from_ms >= now_ms - minute_keep) {
    *out = UsageResolution::kMinute;
    return Status::Ok();
  }
  if (from_ms >= now_ms - hour_keep) {
    *out = UsageResolution::kHour;
    return Status::Ok();
  }
  return Status::InvalidArgument(
      "from (" + Ms(from_ms) + ") is older than the " + what +
          " kept: per hour for " + FormatDurationMillis(hour_keep) +
          "; give a from at or after " + Ms(now_ms - hour_keep),
      "from");
}

int64_t Unit(UsageResolution r) {
  return r == UsageResolution::kMinute ? kMillisPerMinute : kMillisPerHour;
}

int64_t Align(int64_t ms, UsageResolution r) {
  return r == UsageResolution::kMinute ? MinuteStart(ms) : HourStart(ms);
}

// limit=, when given, into *out: a whole number from 1 to `max`.
Status ParseLimit(const std::map<std::string, std::string>& params, int max,
                  int* out) {
  const std::string* limit = Find(params, "limit");
  if (limit == nullptr) return Status::Ok();
  if (!AllDigits(*limit, 6) || std::stoll(*limit) < 1 ||
      std::stoll(*limit) > max) {
    return Status::InvalidArgument("limit must be a whole number from 1 to " +
                                       std::to_string(max) + ", got '" +
                                       *limit + "'",
                                   "limit");
  }
  *out = static_cast<int>(std::stoll(*limit));
  return Status::Ok();
}

}  // namespace

StatusOr<int64_t> ParseUsageTime(std::string_view text,
                                 std::string_view field) {
  if (AllDigits(text, 15)) return std::stoll(std::string(text));
  int64_t ms = 0;
  if (ParseRfc3339(text, &ms)) return ms;
  return Status::InvalidArgument(
      std::string(field) + " '" + std::string(text) +
          "' is not a time; give Unix milliseconds (1800000000000) or an "
          "RFC 3339 date-time (2027-01-15T08:00:00Z)",
      std::string(field));
}

StatusOr<UsageSeriesQuery> ParseUsageSeriesQuery(
    const std::map<std::string, std::string>& params, int64_t now_ms,
    const UsageRetention& retention, int64_t default_points,
    int64_t max_points) {
  UsageSeriesQuery q;
  Status st = ParseRule(params, false, &q.rule_id);
  if (st.ok()) st = ParseWindow(params, now_ms, &q.from_ms, &q.to_ms);
  if (st.ok()) {
    st = ChooseResolution(q.from_ms, now_ms, retention.minute_ms,
                          retention.hour_ms, "counts", &q.resolution);
  }
  if (!st.ok()) return st;
  const int64_t unit = Unit(q.resolution);
  q.from_ms = Align(q.from_ms, q.resolution);
  const int64_t span = std::max<int64_t>(q.to_ms - q.from_ms, 1);
  if (const std::string* step = Find(params, "step")) {
    int64_t ms = 0;
    if (AllDigits(*step, 15)) {
      ms = std::stoll(*step);
    } else {
      StatusOr<int64_t> parsed = ParseDurationMillis(*step, "step");
      if (!parsed.ok()) {
        return Status::InvalidArgument(parsed.status().message(), "step");
      }
      ms = *parsed;
    }
    if (ms <= 0) {
      return Status::InvalidArgument(
          "step must be a positive duration such as 1m or 1h, got '" + *step +
              "'",
          "step");
    }
    q.step_ms = (ms + unit - 1) / unit * unit;
  } else {
    const int64_t wanted = (span + default_points - 1) / default_points;
    q.step_ms = std::max<int64_t>(unit, (wanted + unit - 1) / unit * unit);
  }
  q.points = (span + q.step_ms - 1) / q.step_ms;
  if (q.to_ms == q.from_ms) q.points = 0;
  if (q.points > max_points) {
    return Status::InvalidArgument(
        "step " + Ms(q.step_ms) + " ms gives " + Ms(q.points) +
            " points over this window; the most is " + Ms(max_points) +
            ": give a larger step or a shorter window",
        "step");
  }
  return q;
}

StatusOr<UsageTopQuery> ParseUsageTopQuery(
    const std::map<std::string, std::string>& params, int64_t now_ms,
    const UsageRetention& retention) {
  UsageTopQuery q;
  Status st = ParseRule(params, true, &q.rule_id);
  if (st.ok()) st = ParseWindow(params, now_ms, &q.from_ms, &q.to_ms);
  if (st.ok()) {
    st = ChooseResolution(q.from_ms, now_ms, retention.top_minute_ms,
                          retention.top_hour_ms, "heaviest clients",
                          &q.resolution);
  }
  if (!st.ok()) return st;
  q.from_ms = Align(q.from_ms, q.resolution);
  if (const std::string* by = Find(params, "by")) {
    if (!ParseUsageRanking(*by, &q.by)) {
      return Status::InvalidArgument(
          "by must be refused or allowed, got '" + *by + "'", "by");
    }
  }
  st = ParseLimit(params, kMaxUsageTopLimit, &q.limit);
  if (!st.ok()) return st;
  return q;
}

StatusOr<UsageRulesQuery> ParseUsageRulesQuery(
    const std::map<std::string, std::string>& params, int64_t now_ms,
    const UsageRetention& retention) {
  UsageRulesQuery q;
  Status st = ParseLimit(params, kMaxUsageRulesLimit, &q.limit);
  if (!st.ok()) return st;
  std::map<std::string, std::string> window = params;
  window.erase("limit");
  window.erase("rule");
  StatusOr<UsageSeriesQuery> parsed =
      ParseUsageSeriesQuery(window, now_ms, retention, kDefaultUsageRulesPoints,
                            kMaxUsageRulesPoints);
  if (!parsed.ok()) return parsed.status();
  q.window = *parsed;
  return q;
}

}  // namespace sluice
