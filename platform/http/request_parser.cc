#include "platform/http/request_parser.h"

#include <boost/beast/core/string.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/field.hpp>
#include <limits>

namespace sluice {

namespace http = boost::beast::http;
using boost::beast::error_code;
using boost::beast::string_view;

namespace {

// "http://host:port/path?q" (absolute form, sent to proxies) to
// "/path?q"; origin-form targets are returned as they are.
string_view OriginForm(string_view target) {
  for (string_view scheme : {string_view("http://"), string_view("https://")}) {
    if (target.size() >= scheme.size() &&
        boost::beast::iequals(target.substr(0, scheme.size()), scheme)) {
      size_t slash = target.find('/', scheme.size());
      return slash == string_view::npos ? string_view("/")
                                        : target.substr(slash);
    }
  }
  return target;
}

}  // namespace

RequestParser::RequestParser(const HttpLimits& limits)
    : max_target_bytes_(limits.max_target_bytes),
      max_header_fields_(limits.max_header_fields) {
  header_limit(static_cast<std::uint32_t>(limits.max_header_bytes));
  // A Content-Length is judged by the server after the handler admitted
  // the request, not here during the header; AllowBody() sets the limit.
  // (Not boost::none: Beast 1.74 compares the length with the optional,
  // and any length is "greater" than none.)
  body_limit(std::numeric_limits<std::uint64_t>::max());
}

bool RequestParser::announces_body() const {
  if (chunked()) return true;
  boost::optional<std::uint64_t> length = content_length();
  return length.has_value() && *length > 0;
}

void RequestParser::AllowBody(size_t max_body_bytes) {
  body_limit(static_cast<std::uint64_t>(max_body_bytes));
}

RequestParser::Problem RequestParser::problem() const {
  if (problem_ != Problem::kNone) return problem_;
  // Beast's own header_limit: before or after the request line's end.
  return request_line_done_ ? Problem::kHeaderTooLong
                            : Problem::kRequestLineTooLong;
}

void RequestParser::on_request_impl(http::verb, string_view method_text,
                                    string_view target, int version,
                                    error_code& ec) {
  request_line_done_ = true;
  if (target.size() > max_target_bytes_) {
    problem_ = Problem::kTargetTooLong;
    ec = http::error::header_limit;
    return;
  }
  version_ = version;
  request_.method = std::string(method_text);
  string_view origin = OriginForm(target);
  size_t question = origin.find('?');
  request_.path = std::string(origin.substr(0, question));
  if (question != string_view::npos) {
    request_.query = std::string(origin.substr(question + 1));
  }
}

void RequestParser::on_response_impl(int, string_view, int, error_code& ec) {
  ec = http::error::bad_method;  // never called for a request parser
}

void RequestParser::on_field_impl(http::field name, string_view name_text,
                                  string_view value, error_code& ec) {
  if (++fields_ > max_header_fields_) {
    problem_ = Problem::kTooManyFields;
    ec = http::error::header_limit;
    return;
  }
  switch (name) {
    case http::field::authorization:
      if (request_.authorization.empty()) {
        request_.authorization = std::string(value);
      }
      break;
    case http::field::if_match:
      // A list field: several lines mean one comma-separated list.
      if (!request_.if_match.empty()) request_.if_match += ", ";
      request_.if_match.append(value.data(), value.size());
      break;
    case http::field::cookie:
      if (!request_.cookie.empty()) request_.cookie += "; ";
      request_.cookie.append(value.data(), value.size());
      break;
    case http::field::host:
      request_.host = std::string(value);
      break;
    case http::field::origin:
      request_.origin = std::string(value);
      break;
    case http::field::accept_encoding:
      if (!request_.accept_encoding.empty()) request_.accept_encoding += ", ";
      request_.accept_encoding.append(value.data(), value.size());
      break;
    case http::field::if_none_match:
      if (!request_.if_none_match.empty()) request_.if_none_match += ", ";
      request_.if_none_match.append(value.data(), value.size());
      break;
    case http::field::accept:
      if (!request_.accept.empty()) request_.accept += ", ";
      request_.accept.append(value.data(), value.size());
      break;
    case http::field::content_type:
      request_.content_type = std::string(value);
      break;
    case http::field::unknown:
      if (boost::beast::iequals(name_text, "X-Sluice-CSRF")) {
        request_.csrf = std::string(value);
      }
      break;
    case http::field::expect:
      if (boost::beast::iequals(value, "100-continue")) {
        expects_continue_ = true;
      }
      break;
    default:
      break;
  }
}

void RequestParser::on_header_impl(error_code&) {}

void RequestParser::on_body_init_impl(const boost::optional<std::uint64_t>&,
                                      error_code&) {
  // No reserve() from Content-Length: memory follows the bytes received.
}

std::size_t RequestParser::on_body_impl(string_view body, error_code&) {
  request_.body.append(body.data(), body.size());
  return body.size();
}

void RequestParser::on_chunk_header_impl(std::uint64_t, string_view,
                                         error_code&) {}

std::size_t RequestParser::on_chunk_body_impl(std::uint64_t, string_view body,
                                              error_code&) {
  request_.body.append(body.data(), body.size());
  return body.size();
}

void RequestParser::on_finish_impl(error_code&) {}

}  // namespace sluice
