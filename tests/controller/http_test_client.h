// A small blocking HTTP client for tests of the REST API (cpprestsdk's
// http_client), returning status, headers and the body parsed as JSON.
#pragma once

#include <cpprest/http_client.h>

#include <map>
#include <nlohmann/json.hpp>
#include <string>

namespace sluice::testing {

struct HttpResult {
  int status = 0;
  std::string body;
  nlohmann::json json;  // null when the body is not JSON
  web::http::http_headers headers;

  std::string Header(const std::string& name) const {
    auto it = headers.find(name);
    return it == headers.end() ? "" : it->second;
  }
  // The "code" / "field" of an error body, or "".
  std::string ErrorCode() const { return ErrorPart("code"); }
  std::string ErrorField() const { return ErrorPart("field"); }
  std::string ErrorPart(const std::string& key) const {
    if (!json.is_object() || !json.contains("error") ||
        !json["error"].is_object()) {
      return "";
    }
    return json["error"].value(key, "");
  }
};

class HttpTestClient {
 public:
  explicit HttpTestClient(const std::string& base_url)
      : client_(web::uri(base_url)) {}
  HttpTestClient(const std::string& base_url,
                 const web::http::client::http_client_config& config)
      : client_(web::uri(base_url), config) {}

  void set_token(const std::string& token) { token_ = token; }
  const std::string& token() const { return token_; }

  HttpResult Send(const web::http::method& method, const std::string& path,
                  const std::string& body = "", bool with_token = true,
                  const std::map<std::string, std::string>& headers = {},
                  const std::string& content_type = "application/json") {
    web::http::http_request request(method);
    request.set_request_uri(web::uri(path));
    if (with_token && !token_.empty()) {
      request.headers().add("Authorization", "Bearer " + token_);
    }
    for (const auto& [name, value] : headers) {
      request.headers().add(name, value);
    }
    if (!body.empty()) request.set_body(body, content_type);
    web::http::http_response response = client_.request(request).get();
    HttpResult result;
    result.status = response.status_code();
    result.headers = response.headers();
    result.body = response.extract_utf8string(true).get();
    result.json = nlohmann::json::parse(result.body, nullptr, false);
    if (result.json.is_discarded()) result.json = nullptr;
    return result;
  }
  HttpResult Get(const std::string& path) {
    return Send(web::http::methods::GET, path);
  }
  HttpResult Post(const std::string& path, const std::string& body) {
    return Send(web::http::methods::POST, path, body);
  }
  HttpResult Put(const std::string& path, const std::string& body) {
    return Send(web::http::methods::PUT, path, body);
  }
  HttpResult Delete(const std::string& path) {
    return Send(web::http::methods::DEL, path);
  }
  // With an If-Match header.
  HttpResult PutIf(const std::string& path, const std::string& body,
                   const std::string& if_match) {
    return Send(web::http::methods::PUT, path, body, true,
                {{"If-Match", if_match}});
  }
  HttpResult DeleteIf(const std::string& path, const std::string& if_match) {
    return Send(web::http::methods::DEL, path, "", true,
                {{"If-Match", if_match}});
  }

 private:
  web::http::client::http_client client_;
  std::string token_;
};

}  // namespace sluice::testing
