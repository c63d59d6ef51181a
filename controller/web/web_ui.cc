#include "controller/web/web_ui.h"

#include <algorithm>
#include <cctype>
#include <string_view>

#include "controller/web/web_assets.h"

namespace sluice {
namespace {

std::string Lower(std::string_view text) {
  std::string out(text);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return std::tolower(c); });
  return out;
}

std::string_view Trim(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) {
    text.remove_prefix(1);
  }
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) {
    text.remove_suffix(1);
  }
  return text;
}

// Whether an If-None-Match list names `etag` (or is "*").
bool NoneMatch(std::string_view list, std::string_view etag) {
  size_t start = 0;
  while (start <= list.size()) {
    size_t end = list.find(',', start);
    if (end == std::string_view::npos) end = list.size();
    std::string_view item = Trim(list.substr(start, end - start));
    if (item.substr(0, 2) == "W/") item.remove_prefix(2);
    if (item == "*" || item == etag) return true;
    start = end + 1;
  }
  return false;
}

const WebAsset* Find(std::string_view path) {
  if (path == "/") path = "/index.html";
  for (const WebAsset& asset : WebAssets()) {
    if (asset.path == path) return &asset;
  }
  return nullptr;
}

}  // namespace

const std::vector<std::pair<std::string, std::string>>& SecurityHeaders() {
  static const std::vector<std::pair<std::string, std::string>> kHeaders = {
      {"Content-Security-Policy",
       "default-src 'none'; script-src 'self'; style-src 'self'; "
       "img-src 'self' data:; connect-src 'self'; font-src 'self'; "
       "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"},
      {"X-Content-Type-Options", "nosniff"},
      {"Referrer-Policy", "no-referrer"},
      {"X-Frame-Options", "DENY"},
      {"Cross-Origin-Opener-Policy", "same-origin"},
      {"Cross-Origin-Resource-Policy", "same-origin"},
  };
  return kHeaders;
}

bool AcceptsGzip(const std::string& accept_encoding) {
  const std::string lower = Lower(accept_encoding);
  std::string_view list = lower;
  size_t start = 0;
  while (start <= list.size()) {
    size_t end = list.find(',', start);
    if (end == std::string_view::npos) end = list.size();
    std::string_view item = Trim(list.substr(start, end - start));
    const size_t semi = item.find(';');
    std::string_view coding = Trim(item.substr(0, semi));
    if (coding == "gzip" || coding == "*") {
      std::string_view params =
          semi == std::string_view::npos ? "" : item.substr(semi + 1);
      std::string compact;
      for (char c : params) {
        if (c != ' ' && c != '\t') compact += c;
      }
      const bool refused =
          compact.rfind("q=0", 0) == 0 &&
          compact.find_first_not_of("q=0.", 0) == std::string::npos;
      if (!refused) return true;
    }
    start = end + 1;
  }
  return false;
}

std::optional<HttpResponse> ServeWebAsset(const HttpRequest& request) {
  if (request.method != "GET" && request.method != "HEAD") return std::nullopt;
  const WebAsset* asset = Find(request.path);
  if (asset == nullptr) return std::nullopt;
  HttpResponse response;
  response.headers = SecurityHeaders();
  response.headers.emplace_back("ETag", std::string(asset->etag));
  response.headers.emplace_back("Cache-Control", "no-cache");
  response.headers.emplace_back("Vary", "Accept-Encoding");
  if (!request.if_none_match.empty() &&
      NoneMatch(request.if_none_match, asset->etag)) {
    response.status = 304;
    return response;
  }
  response.content_type = std::string(asset->content_type);
  if (AcceptsGzip(request.accept_encoding)) {
    response.headers.emplace_back("Content-Encoding", "gzip");
    response.body = std::string(asset->gzip_body);
  } else {
    response.body = std::string(asset->body);
  }
  return response;
}

}  // namespace sluice
