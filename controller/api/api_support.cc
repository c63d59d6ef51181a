#include "controller/api/api_support.h"

#include <algorithm>

namespace sluice::api {

using nlohmann::json;

std::string Dump(const json& value) {
  return value.dump(-1, ' ', false, json::error_handler_t::replace);
}

HttpResponse Json(int status, const json& value) {
  HttpResponse response;
  response.status = status;
  response.body = Dump(value);
  return response;
}

int64_t ParseId(std::string_view text) {
  if (text.empty() || text.size() > 18) return 0;
  int64_t id = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return 0;
    id = id * 10 + (c - '0');
  }
  return id;
}

namespace {

// Builds the document as json::parse does, but keeps the parse error's
// text instead of throwing it. The parse does not rely on nlohmann_json
// throwing: common/ is built without exceptions, so the copy of the parser
// the linker keeps may be one that aborts instead (common/CMakeLists.txt).
class DocumentOrError {
 public:
  explicit DocumentOrError(json* out)
      : dom_(*out, /*allow_exceptions=*/false) {}

  bool null() { return dom_.null(); }
  bool boolean(bool v) { return dom_.boolean(v); }
  bool number_integer(json::number_integer_t v) {
    return dom_.number_integer(v);
  }
  bool number_unsigned(json::number_unsigned_t v) {
    return dom_.number_unsigned(v);
  }
  bool number_float(json::number_float_t v, const json::string_t& s) {
    return dom_.number_float(v, s);
  }
  bool string(json::string_t& v) { return dom_.string(v); }
  bool binary(json::binary_t& v) { return dom_.binary(v); }
  bool start_object(std::size_t n) { return dom_.start_object(n); }
  bool key(json::string_t& k) { return dom_.key(k); }
  bool end_object() { return dom_.end_object(); }
  bool start_array(std::size_t n) { return dom_.start_array(n); }
  bool end_array() { return dom_.end_array(); }
  template <class Exception>
  bool parse_error(std::size_t, const std::string&, const Exception& e) {
    error_ = e.what();
    return false;
  }

  // Empty when the document parsed.
  const std::string& error() const { return error_; }

 private:
  nlohmann::detail::json_sax_dom_parser<json> dom_;
  std::string error_;
};

}  // namespace

bool ParseJsonBody(const HttpRequest& request, const std::string& example,
                   json* out, HttpResponse* error) {
  // The server refuses such a body while reading it; this guards callers
  // of AdminApi::Handle() that did not.
  if (request.body.size() > AdminApi::kMaxBodyBytes) {
    *error = AdminApi::Error(
        413, "body_too_large",
        "the request body is over the limit of " +
            std::to_string(AdminApi::kMaxBodyBytes) +
            " bytes (1 MiB); send a smaller document (a rule is a few "
            "hundred bytes)");
    return false;
  }
  DocumentOrError document(out);
  if (!json::sax_parse(request.body, &document) || !document.error().empty()) {
    *out = json();
    *error = AdminApi::Error(400, "invalid_json",
                             "the body is not valid JSON (" + document.error() +
                                 "); send " + example);
    return false;
  }
  return true;
}

namespace {

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Percent-decodes `text`; '+' stays '+' (this is not an HTML form).
bool Decode(std::string_view text, std::string* out) {
  out->clear();
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '%') {
      *out += text[i];
      continue;
    }
    if (i + 2 >= text.size()) return false;
    int hi = HexValue(text[i + 1]);
    int lo = HexValue(text[i + 2]);
    if (hi < 0 || lo < 0) return false;
    *out += static_cast<char>(hi * 16 + lo);
    i += 2;
  }
  return true;
}

}  // namespace

StatusOr<std::map<std::string, std::string>> ParseQuery(
    std::string_view query, std::initializer_list<std::string_view> allowed) {
  std::map<std::string, std::string> params;
  std::string names;
  for (std::string_view name : allowed) {
    if (!names.empty()) names += ", ";
    names += std::string(name);
  }
  size_t start = 0;
  while (start <= query.size()) {
    size_t end = query.find('&', start);
    if (end == std::string_view::npos) end = query.size();
    std::string_view part = query.substr(start, end - start);
    start = end + 1;
    if (part.empty()) continue;
    size_t eq = part.find('=');
    std::string key;
    std::string value;
    if (!Decode(part.substr(0, eq), &key) ||
        (eq != std::string_view::npos &&
         !Decode(part.substr(eq + 1), &value))) {
      return Status::InvalidArgument("the query parameter '" +
                                         std::string(part) +
                                         "' has a malformed %-escape",
                                     std::string(part.substr(0, eq)));
    }
    if (std::find(allowed.begin(), allowed.end(), key) == allowed.end()) {
      return Status::InvalidArgument(
          "unknown query parameter '" + key + "'; " +
              (names.empty() ? std::string("this route takes none")
                             : "this route takes " + names),
          key);
    }
    if (!params.emplace(key, value).second) {
      return Status::InvalidArgument(
          "the query parameter '" + key + "' is given twice; give it once",
          key);
    }
  }
  return params;
}

HttpResponse BadQuery(const Status& status) {
  return AdminApi::Error(400, "invalid_query", status.message(),
                         status.field());
}

HttpResponse BadHeader(const Status& status) {
  return AdminApi::Error(400, "invalid_header", status.message(),
                         status.field());
}

}  // namespace sluice::api
