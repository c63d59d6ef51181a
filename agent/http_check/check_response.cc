#include "agent/http_check/check_response.h"

#include <cstdint>
#include <nlohmann/json.hpp>

namespace sluice::http_check {
namespace {

constexpr int64_t kMsPerSecond = 1000;

const char* Reason(int status) {
  switch (status) {
    case 200:
      return "OK";
    case 400:
      return "Bad Request";
    case 405:
      return "Method Not Allowed";
    case 408:
      return "Request Timeout";
    case 429:
      return "Too Many Requests";
    case 503:
      return "Service Unavailable";
    default:
      return "Error";
  }
}

int64_t CeilSeconds(int64_t ms) {
  return ms <= 0 ? 0 : (ms + kMsPerSecond - 1) / kMsPerSecond;
}

// A structured-field string: the rule's name (letters, digits and
// _ . : / -, by rule validation), escaped all the same.
void AppendSfString(std::string_view text, std::string* out) {
  out->push_back('"');
  for (char c : text) {
    if (c == '"' || c == '\\') out->push_back('\\');
    const unsigned char u = static_cast<unsigned char>(c);
    out->push_back(u >= 0x20 && u < 0x7f ? c : '?');
  }
  out->push_back('"');
}

void AppendHead(int status, const Framing& framing, size_t body_size,
                std::string* out) {
  out->append("HTTP/1.1 ");
  out->append(std::to_string(status));
  out->push_back(' ');
  out->append(Reason(status));
  out->append(
      "\r\nContent-Type: application/json\r\nCache-Control: no-store\r\n"
      "Content-Length: ");
  out->append(std::to_string(body_size));
  out->append("\r\n");
  if (!framing.keep_alive) {
    out->append("Connection: close\r\n");
  } else if (framing.http10) {
    out->append("Connection: keep-alive\r\n");
  }
}

}  // namespace

std::string PolicyField(const Rule& rule) {
  std::string out;
  AppendSfString(rule.name, &out);
  int64_t quota = rule.limit;
  int64_t window = rule.period_ms / kMsPerSecond;
  if (rule.period_ms % kMsPerSecond != 0) {
    window = CeilSeconds(rule.period_ms);
    quota = static_cast<int64_t>(static_cast<unsigned __int128>(rule.limit) *
                                 (window * kMsPerSecond) / rule.period_ms);
  }
  out += ";q=" + std::to_string(quota) + ";w=" + std::to_string(window);
  return out;
}

std::string RateLimitField(const Rule& rule, const Decision& d) {
  std::string out;
  AppendSfString(rule.name, &out);
  out += ";r=" + std::to_string(d.remaining < 0 ? 0 : d.remaining) +
         ";t=" + std::to_string(CeilSeconds(d.reset_after_ms));
  return out;
}

void AppendDecisionResponse(const Decision& d, const Rule* rule,
                            const Framing& framing, std::string* out) {
  std::string body = "{\"allowed\": ";
  body += d.allowed ? "true" : "false";
  body += ", \"limit\": " + std::to_string(d.limit) +
          ", \"remaining\": " + std::to_string(d.remaining) +
          ", \"reset_after_ms\": " + std::to_string(d.reset_after_ms) +
          ", \"retry_after_ms\": " + std::to_string(d.retry_after_ms) + "}";
  AppendHead(d.allowed ? 200 : 429, framing, body.size(), out);
  if (rule != nullptr && d.limit >= 0) {
    out->append("RateLimit-Policy: " + PolicyField(*rule) + "\r\n");
    out->append("RateLimit: " + RateLimitField(*rule, d) + "\r\n");
  }
  if (!d.allowed && d.retry_after_ms >= 0) {
    out->append("Retry-After: " +
                std::to_string(CeilSeconds(d.retry_after_ms)) + "\r\n");
  }
  out->append("\r\n");
  if (!framing.head) out->append(body);
}

void AppendErrorResponse(const CheckError& error, const Framing& framing,
                         std::string* out, const std::string& extra_headers) {
  nlohmann::json detail = {{"code", error.code}, {"message", error.message}};
  if (!error.field.empty()) detail["field"] = error.field;
  const std::string body =
      nlohmann::json{{"error", detail}}.dump(
          -1, ' ', false, nlohmann::json::error_handler_t::replace) +
      "\n";
  AppendHead(error.status, framing, body.size(), out);
  out->append(extra_headers);
  out->append("\r\n");
  if (!framing.head) out->append(body);
}

}  // namespace sluice::http_check
