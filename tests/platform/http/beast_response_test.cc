#include "platform/http/beast_response.h"

#include <gtest/gtest.h>

#include <string>

namespace sluice {
namespace {

HttpResponse Sample(int status, const std::string& body) {
  HttpResponse response;
  response.status = status;
  response.body = body;
  response.headers.emplace_back("ETag", "\"3\"");
  return response;
}

TEST(BeastResponseTest, FramesTheBodyAndTheConnection) {
  const std::string bytes = ResponseBytes(Sample(503, "{\"error\": {}}"));
  EXPECT_EQ(bytes.rfind("HTTP/1.1 503 Service Unavailable\r\n", 0), 0u)
      << bytes;
  EXPECT_NE(bytes.find("ETag: \"3\"\r\n"), std::string::npos);
  EXPECT_NE(bytes.find("Content-Type: application/json\r\n"),
            std::string::npos);
  EXPECT_NE(bytes.find("Content-Length: 13\r\n"), std::string::npos);
  EXPECT_NE(bytes.find("Connection: close\r\n"), std::string::npos);
  EXPECT_EQ(bytes.substr(bytes.size() - 13), "{\"error\": {}}");
}

TEST(BeastResponseTest, NoContentHasNoLengthAndHeadNoBody) {
  auto empty = ToBeastResponse(Sample(204, ""), 11, true, false);
  EXPECT_EQ(empty.count("Content-Length"), 0u);
  EXPECT_EQ(empty.count("Content-Type"), 0u);
  EXPECT_EQ(empty.count("Connection"), 0u);  // keep-alive is 1.1's default

  auto head = ToBeastResponse(Sample(200, "12345"), 11, true, true);
  EXPECT_EQ(head["Content-Length"], "5");
  EXPECT_TRUE(head.body().empty());

  auto old = ToBeastResponse(Sample(200, "x"), 10, true, false);
  EXPECT_EQ(old["Connection"], "keep-alive");
}

}  // namespace
}  // namespace sluice
