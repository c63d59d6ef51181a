// HttpRequest and HttpResponse: an HTTP exchange as plain values, free of
// any HTTP library, so the code that answers requests (the controller's
// AdminApi) is tested without sockets and the server that moves the bytes
// (platform/http/http_server.h) knows nothing of what they mean.
//
// Plain structs; thread-compatible.
#pragma once

#include <string>
#include <utility>
#include <vector>

namespace sluice {

struct HttpRequest {
  std::string method;         // "GET", "POST", ...
  std::string path;           // "/api/v1/rules/7", no query string
  std::string query;          // after '?', still percent-encoded; "" if none
  std::string authorization;  // the Authorization header, empty if absent
  std::string if_match;       // the If-Match header, empty if absent
  // Fields the dashboard's sessions and static assets need; each empty if
  // absent (several Cookie or Accept-Encoding lines are joined).
  std::string cookie;           // Cookie
  std::string host;             // Host
  std::string origin;           // Origin
  std::string accept_encoding;  // Accept-Encoding
  std::string if_none_match;    // If-None-Match
  std::string csrf;             // X-Sluice-CSRF
  std::string accept;           // Accept (several lines joined by ", ")
  std::string content_type;     // Content-Type
  std::string body;             // empty until the body is read
};

struct HttpResponse {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;  // empty for 204
  std::vector<std::pair<std::string, std::string>> headers;
};

}  // namespace sluice
