// RequestParser: one HTTP/1.x request parsed by Boost.Beast, keeping only
// what an HttpRequest (platform/http/http_message.h) carries, within
// HttpLimits:
//   - the header (request line and fields) at most max_header_bytes:
//     Beast's error::header_limit;
//   - the request target at most max_target_bytes, and at most
//     max_header_fields fields: error::header_limit as well, with problem()
//     saying which (and kRequestLine when the limit came before the end of
//     the request line: its target is too long);
//   - the body is not limited here until the server allows it:
//     AllowBody() sets the limit (a chunked body beyond it fails with
//     error::body_limit); the server compares a Content-Length itself.
// Fields other than Authorization, If-Match and Expect are counted and
// dropped, so a header costs no memory beyond its bytes in the read buffer.
//
// Read the header with http::async_read_header, then the body with
// http::async_read_some until is_done(). One parser per request.
// Thread-compatible.
#pragma once

#include <boost/beast/http/basic_parser.hpp>
#include <cstddef>
#include <cstdint>
#include <string>

#include "platform/http/http_limits.h"
#include "platform/http/http_message.h"

namespace sluice {

class RequestParser : public boost::beast::http::basic_parser<true> {
 public:
  enum class Problem {
    kNone,
    kRequestLineTooLong,  // header_limit before the line's end
    kTargetTooLong,
    kHeaderTooLong,  // header_limit after the request line
    kTooManyFields
  };

  explicit RequestParser(const HttpLimits& limits);

  // After an error::header_limit: why it came.
  Problem problem() const;
  // The request without its body, once the header is done.
  const HttpRequest& head() const { return request_; }
  int version() const { return version_; }
  bool expects_continue() const { return expects_continue_; }
  // Content-Length above 0, or a chunked body.
  bool announces_body() const;
  // Body bytes received so far (after chunked decoding).
  size_t body_bytes() const { return request_.body.size(); }
  // Lets the body be read, up to `max_body_bytes`.
  void AllowBody(size_t max_body_bytes);
  // The whole request; call once, after is_done().
  HttpRequest TakeRequest() { return std::move(request_); }

 private:
  void on_request_impl(boost::beast::http::verb method,
                       boost::beast::string_view method_text,
                       boost::beast::string_view target, int version,
                       boost::beast::error_code& ec) override;
  void on_response_impl(int code, boost::beast::string_view reason, int version,
                        boost::beast::error_code& ec) override;
  void on_field_impl(boost::beast::http::field name,
                     boost::beast::string_view name_text,
                     boost::beast::string_view value,
                     boost::beast::error_code& ec) override;
  void on_header_impl(boost::beast::error_code& ec) override;
  void on_body_init_impl(const boost::optional<std::uint64_t>& content_length,
                         boost::beast::error_code& ec) override;
  std::size_t on_body_impl(boost::beast::string_view body,
                           boost::beast::error_code& ec) override;
  void on_chunk_header_impl(std::uint64_t size,
                            boost::beast::string_view extensions,
                            boost::beast::error_code& ec) override;
  std::size_t on_chunk_body_impl(std::uint64_t remain,
                                 boost::beast::string_view body,
                                 boost::beast::error_code& ec) override;
  void on_finish_impl(boost::beast::error_code& ec) override;

  const size_t max_target_bytes_;
  const size_t max_header_fields_;
  size_t fields_ = 0;
  int version_ = 11;
  bool expects_continue_ = false;
  bool request_line_done_ = false;
  Problem problem_ = Problem::kNone;
  HttpRequest request_;
};

}  // namespace sluice
