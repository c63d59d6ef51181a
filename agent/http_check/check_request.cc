#include "agent/http_check/check_request.h"

#include <algorithm>

namespace sluice::http_check {
namespace {

constexpr std::string_view kPrefix = "/v1/check/";
constexpr std::string_view kForm =
    "/v1/check/{domain}?cost=N&key=value&... (cost is optional, default 1), "
    "e.g. /v1/check/api?client_id=42";
// Token counts are doubles in the core: exact up to 2^53 (as RL.CHECK).
constexpr int64_t kMaxCost = int64_t{1} << 53;

bool Fail(CheckError* error, std::string code, std::string message,
          std::string field = "") {
  error->status = 400;
  error->code = std::move(code);
  error->message = std::move(message);
  error->field = std::move(field);
  return false;
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Percent-decodes `in` ('+' is a space); false on a broken escape.
bool Decode(std::string_view in, std::string* out) {
  out->clear();
  out->reserve(in.size());
  for (size_t i = 0; i < in.size(); ++i) {
    const char c = in[i];
    if (c == '+') {
      out->push_back(' ');
    } else if (c != '%') {
      out->push_back(c);
    } else {
      const int hi = i + 1 < in.size() ? HexValue(in[i + 1]) : -1;
      const int lo = i + 2 < in.size() ? HexValue(in[i + 2]) : -1;
      if (hi < 0 || lo < 0) return false;
      out->push_back(static_cast<char>(hi * 16 + lo));
      i += 2;
    }
  }
  return true;
}

bool ParseCost(std::string_view text, int64_t* out) {
  if (text.empty() || text.size() > 16) return false;
  int64_t value = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return false;
    value = value * 10 + (c - '0');
  }
  if (value > kMaxCost) return false;
  *out = value;
  return true;
}

bool ParseDomain(std::string_view path, CheckQuery* out, CheckError* error) {
  if (path == "/v1/check" || path == kPrefix) {
    return Fail(error, "invalid_argument",
                "the URL names no domain: write " + std::string(kForm),
                "domain");
  }
  if (path.substr(0, kPrefix.size()) != kPrefix) {
    return Fail(error, "unknown_path",
                "unknown path " + Quoted(path) + ": the only path is " +
                    std::string(kForm));
  }
  const std::string_view segment = path.substr(kPrefix.size());
  if (segment.find('/') != std::string_view::npos) {
    return Fail(error, "unknown_path",
                "unknown path " + Quoted(path) +
                    ": the domain is one path segment (write a '/' in it as "
                    "%2F); the only path is " +
                    std::string(kForm));
  }
  if (!Decode(segment, &out->domain)) {
    return Fail(error, "invalid_argument",
                "the domain " + Quoted(segment) +
                    " has a '%' that is not followed by two hex digits: "
                    "write a '%' as %25",
                "domain");
  }
  return true;
}

// One "key=value" parameter of the query.
bool ParseParameter(std::string_view param, bool* cost_seen, CheckQuery* out,
                    CheckError* error) {
  const size_t eq = param.find('=');
  if (eq == std::string_view::npos) {
    return Fail(error, "invalid_argument",
                "parameter " + Quoted(param) +
                    " has no '=': write key=value (an empty value is "
                    "key=)",
                std::string(param.substr(0, 64)));
  }
  std::string key;
  std::string value;
  if (!Decode(param.substr(0, eq), &key) ||
      !Decode(param.substr(eq + 1), &value)) {
    return Fail(error, "invalid_argument",
                "parameter " + Quoted(param) +
                    " has a '%' that is not followed by two hex digits: "
                    "write a '%' as %25",
                std::string(param.substr(0, std::min<size_t>(eq, 64))));
  }
  if (key.empty()) {
    return Fail(
        error, "invalid_argument",
        "parameter " + Quoted(param) + " has an empty key: write key=value");
  }
  if (key == "cost") {
    if (*cost_seen) {
      return Fail(error, "invalid_argument",
                  "cost is given twice: give it at most once", "cost");
    }
    *cost_seen = true;
    if (!ParseCost(value, &out->cost)) {
      return Fail(error, "invalid_argument",
                  "cost " + Quoted(value) +
                      " is not valid: expected a whole number from 0 to "
                      "9007199254740992 (0 only looks; default 1)",
                  "cost");
    }
    return true;
  }
  for (const auto& [seen, unused] : out->pairs) {
    if (seen == key) {
      return Fail(error, "invalid_argument",
                  "key " + Quoted(key) +
                      " appears twice: give each key once (a descriptor has "
                      "one value per key)",
                  key.substr(0, 64));
    }
  }
  if (out->pairs.size() >= kMaxPairs) {
    return Fail(error, "invalid_argument",
                "more than " + std::to_string(kMaxPairs) +
                    " key=value pairs: a check takes at most " +
                    std::to_string(kMaxPairs));
  }
  out->pairs.emplace_back(std::move(key), std::move(value));
  return true;
}

}  // namespace

std::string Quoted(std::string_view bytes) {
  constexpr size_t kMax = 64;
  std::string out = "'";
  for (size_t i = 0; i < bytes.size() && i < kMax; ++i) {
    const unsigned char c = static_cast<unsigned char>(bytes[i]);
    out.push_back(c >= 0x20 && c < 0x7f ? static_cast<char>(c) : '?');
  }
  if (bytes.size() > kMax) out += "...";
  return out + "'";
}

bool ParseCheckTarget(std::string_view target, CheckQuery* out,
                      CheckError* error) {
  *out = CheckQuery{};
  if (target.size() > kMaxTargetBytes) {
    return Fail(error, "url_too_long",
                "the URL is " + std::to_string(target.size()) +
                    " bytes long; at most " + std::to_string(kMaxTargetBytes) +
                    " are accepted: send fewer or shorter key=value pairs");
  }
  const size_t question = target.find('?');
  const std::string_view path = target.substr(0, question);
  if (!ParseDomain(path, out, error)) return false;
  std::string_view query = question == std::string_view::npos
                               ? std::string_view()
                               : target.substr(question + 1);
  bool cost_seen = false;
  while (!query.empty()) {
    const size_t amp = query.find('&');
    const std::string_view param = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view()
                                          : query.substr(amp + 1);
    if (param.empty()) continue;  // "a=1&&b=2", a trailing '&'
    if (!ParseParameter(param, &cost_seen, out, error)) return false;
  }
  if (out->pairs.empty()) {
    return Fail(error, "invalid_argument",
                "the check has no key=value pairs: give at least one, as "
                "RL.CHECK needs one, e.g. /v1/check/" +
                    std::string(path.substr(kPrefix.size(), 64)) +
                    "?client_id=42",
                "query");
  }
  return true;
}

}  // namespace sluice::http_check
