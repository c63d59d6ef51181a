// Helpers shared by the AdminApi handlers (admin_api*.cc): JSON responses,
// request bodies, query strings, ids. Internal to the admin API.
//
// Pure functions; thread-safe.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "common/status.h"
#include "controller/api/admin_api.h"

namespace sluice::api {

// dump() that never throws (invalid UTF-8 is replaced).
std::string Dump(const nlohmann::json& value);
// A JSON response.
HttpResponse Json(int status, const nlohmann::json& value);

// A positive decimal id without sign or leading junk, or 0.
int64_t ParseId(std::string_view text);

// Reads the request body as JSON into *out. On failure sets *error (413
// body_too_large, 400 invalid_json; `example` says what to send) and
// returns false.
bool ParseJsonBody(const HttpRequest& request, const std::string& example,
                   nlohmann::json* out, HttpResponse* error);

// Splits a query string ("a=1&b=x%20y") into percent-decoded keys and
// values. InvalidArgument (field = the key) for a malformed escape, a
// repeated key, or a key not in `allowed`.
StatusOr<std::map<std::string, std::string>> ParseQuery(
    std::string_view query, std::initializer_list<std::string_view> allowed);

// 400 "invalid_query" / "invalid_header" for a bad query or header.
HttpResponse BadQuery(const Status& status);
HttpResponse BadHeader(const Status& status);

}  // namespace sluice::api
