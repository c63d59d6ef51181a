#include "platform/http/request_parser.h"

#include <gtest/gtest.h>

#include <boost/asio/buffer.hpp>
#include <string>

namespace sluice {
namespace {

namespace http = boost::beast::http;

HttpLimits Limits() {
  HttpLimits limits;
  limits.max_header_bytes = 1024;
  limits.max_target_bytes = 100;
  limits.max_header_fields = 5;
  return limits;
}

// Feeds `bytes` to `parser` as far as it takes them (the header alone,
// unless the header is done); the error, if any ("need more" is none).
boost::beast::error_code Put(RequestParser* parser, std::string bytes) {
  boost::beast::error_code ec;
  while (!bytes.empty() && !parser->is_done()) {
    size_t n = parser->put(boost::asio::buffer(bytes), ec);
    if (ec == http::error::need_more) return {};
    if (ec || n == 0) return ec;
    bytes.erase(0, n);
  }
  return ec;
}

TEST(RequestParserTest, KeepsTheFieldsARequestNeedsAndTheBody) {
  RequestParser parser(Limits());
  ASSERT_FALSE(Put(&parser,
                   "PUT http://host:80/api/v1/rules/7?dry_run=true HTTP/1.1\r\n"
                   "Host: h\r\nAuthorization: Bearer t\r\nIf-Match: \"1\"\r\n"
                   "if-match: \"2\"\r\nContent-Length: 2\r\n\r\n"));
  EXPECT_TRUE(parser.is_header_done());
  EXPECT_EQ(parser.head().method, "PUT");
  EXPECT_EQ(parser.head().path, "/api/v1/rules/7");
  EXPECT_EQ(parser.head().query, "dry_run=true");
  EXPECT_EQ(parser.head().authorization, "Bearer t");
  EXPECT_EQ(parser.head().if_match, "\"1\", \"2\"");
  EXPECT_TRUE(parser.announces_body());
  parser.AllowBody(10);
  ASSERT_FALSE(Put(&parser, "{}"));
  EXPECT_TRUE(parser.is_done());
  EXPECT_EQ(parser.TakeRequest().body, "{}");
}

TEST(RequestParserTest, AContentLengthIsNotJudgedBeforeTheBodyIsAllowed) {
  RequestParser parser(Limits());
  ASSERT_FALSE(
      Put(&parser, "POST / HTTP/1.1\r\nContent-Length: 999999999999\r\n\r\n"));
  EXPECT_TRUE(parser.is_header_done());
  EXPECT_EQ(*parser.content_length(), 999999999999u);
}

TEST(RequestParserTest, AChunkedBodyStopsAtTheLimit) {
  RequestParser parser(Limits());
  ASSERT_FALSE(
      Put(&parser, "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"));
  EXPECT_TRUE(parser.announces_body());
  parser.AllowBody(4);
  EXPECT_EQ(Put(&parser, "3\r\nabc\r\n3\r\ndef\r\n0\r\n\r\n"),
            http::error::body_limit);
}

TEST(RequestParserTest, TooManyFieldsOrTooLongATargetAreHeaderLimits) {
  RequestParser fields(Limits());
  std::string request = "GET / HTTP/1.1\r\n";
  for (int i = 0; i < 6; ++i) request += "X-" + std::to_string(i) + ": v\r\n";
  EXPECT_EQ(Put(&fields, request + "\r\n"), http::error::header_limit);
  EXPECT_EQ(fields.problem(), RequestParser::Problem::kTooManyFields);

  RequestParser target(Limits());
  EXPECT_EQ(Put(&target, "GET /" + std::string(100, 'a') + " HTTP/1.1\r\n\r\n"),
            http::error::header_limit);
  EXPECT_EQ(target.problem(), RequestParser::Problem::kTargetTooLong);

  RequestParser header(Limits());
  EXPECT_EQ(Put(&header,
                "GET / HTTP/1.1\r\nX: " + std::string(2000, 'b') + "\r\n\r\n"),
            http::error::header_limit);
  EXPECT_EQ(header.problem(), RequestParser::Problem::kHeaderTooLong);

  RequestParser line(Limits());
  EXPECT_EQ(Put(&line, "GET /" + std::string(2000, 'c')),
            http::error::header_limit);
  EXPECT_EQ(line.problem(), RequestParser::Problem::kRequestLineTooLong);
}

TEST(RequestParserTest, ExpectContinueIsNoticed) {
  RequestParser parser(Limits());
  ASSERT_FALSE(Put(&parser,
                   "POST / HTTP/1.1\r\nExpect: 100-Continue\r\n"
                   "Content-Length: 1\r\n\r\n"));
  EXPECT_TRUE(parser.expects_continue());
  EXPECT_EQ(parser.version(), 11);
}

}  // namespace
}  // namespace sluice
