#include "common/duration.h"

#include "common/text_util.h"

namespace sluice {
namespace {

constexpr std::string_view kForm =
    "write a whole number followed by ms, s, m, h or d, like \"500ms\" or "
    "\"1m\"";

struct Unit {
  std::string_view suffix;
  int64_t millis;
};
// Largest first: FormatDurationMillis picks the first that divides exactly.
constexpr Unit kUnits[] = {
    {"d", 24LL * 3600 * 1000},
    {"h", 3600LL * 1000},
    {"m", 60LL * 1000},
    {"s", 1000},
    {"ms", 1},
};

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

bool HasSpace(std::string_view text) {
  for (char c : text) {
    if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' ||
        c == '\f') {
      return true;
    }
  }
  return false;
}

Status Bad(std::string_view what, std::string_view text,
           std::string_view problem) {
  std::string message(what);
  message += ' ';
  message += text::Quote(text);
  message += ": ";
  message += problem;
  message += "; ";
  message += kForm;
  return Status::InvalidArgument(std::move(message));
}

}  // namespace

StatusOr<int64_t> ParseDurationMillis(std::string_view text,
                                      std::string_view what) {
  if (text.empty()) {
    return Status::InvalidArgument(std::string(what) + " is empty; " +
                                   std::string(kForm));
  }
  if (HasSpace(text)) return Bad(what, text, "spaces are not allowed");
  if (text[0] == '+' || text[0] == '-') {
    return Bad(what, text, "a sign is not allowed");
  }
  size_t i = 0;
  // 19 digits always fit in uint64_t; more is out of range anyway.
  uint64_t number = 0;
  bool too_big = false;
  while (i < text.size() && IsDigit(text[i])) {
    if (number > 1000ULL * 1000 * 1000 * 1000 * 1000 * 1000) {
      too_big = true;
    } else {
      number = number * 10 + static_cast<uint64_t>(text[i] - '0');
    }
    ++i;
  }
  if (i == 0) {
    if (text[0] == '.') return Bad(what, text, "fractions are not allowed");
    return Bad(what, text, "the number is missing");
  }
  std::string_view unit = text.substr(i);
  if (unit.empty()) return Bad(what, text, "the unit is missing");
  if (unit[0] == '.' || unit[0] == ',') {
    return Bad(what, text, "fractions are not allowed");
  }
  int64_t unit_millis = 0;
  for (const Unit& u : kUnits) {
    if (unit == u.suffix) unit_millis = u.millis;
  }
  if (unit_millis == 0) {
    return Bad(what, text, "unknown unit " + text::Quote(unit));
  }
  if (number == 0) {
    return Status::InvalidArgument(std::string(what) + " " + text::Quote(text) +
                                   " is too short; the shortest is 1ms");
  }
  if (too_big ||
      number > static_cast<uint64_t>(kMaxPeriodMillis / unit_millis)) {
    return Status::InvalidArgument(std::string(what) + " " + text::Quote(text) +
                                   " is too long; the longest is " +
                                   FormatDurationMillis(kMaxPeriodMillis));
  }
  int64_t millis = static_cast<int64_t>(number) * unit_millis;
  if (millis < kMinPeriodMillis) {
    return Status::InvalidArgument(std::string(what) + " " + text::Quote(text) +
                                   " is too short; the shortest is 1ms");
  }
  return millis;
}

std::string FormatDurationMillis(int64_t millis) {
  if (millis > 0) {
    for (const Unit& u : kUnits) {
      if (millis % u.millis == 0) {
        return std::to_string(millis / u.millis) + std::string(u.suffix);
      }
    }
  }
  return std::to_string(millis) + "ms";
}

}  // namespace sluice
