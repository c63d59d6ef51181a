// The client's RL.CHECK encoding and its reply parser (client/src).
#include "client/src/resp_codec.h"

#include <gtest/gtest.h>

namespace sluice::client::internal {
namespace {

TEST(RespCodecTest, EncodesRlCheckAsAnArrayOfBulkStrings) {
  std::string out;
  Entry entries[] = {{"client_id", "42"}, {"route", ""}};
  AppendCheck("api", 3, entries, 2, &out);
  EXPECT_EQ(out,
            "*7\r\n$8\r\nRL.CHECK\r\n$3\r\napi\r\n$1\r\n3\r\n"
            "$9\r\nclient_id\r\n$2\r\n42\r\n$5\r\nroute\r\n$0\r\n\r\n");
  // Appends: a pipeline is the concatenation.
  AppendCheck("x", -1, entries, 0, &out);
  EXPECT_NE(out.find("*3\r\n$8\r\nRL.CHECK\r\n$1\r\nx\r\n$2\r\n-1\r\n"),
            std::string::npos);
}

TEST(RespCodecTest, ParsesFiveIntegersAndSaysHowMuchItTook) {
  const std::string data = "*5\r\n:1\r\n:5\r\n:-1\r\n:200\r\n:0\r\n*5";
  CheckReply reply;
  size_t consumed = 0;
  std::string problem;
  ASSERT_EQ(ParseCheckReply(data, &reply, &consumed, &problem),
            ParseResult::kReply);
  EXPECT_FALSE(reply.is_error);
  EXPECT_EQ(reply.values[0], 1);
  EXPECT_EQ(reply.values[1], 5);
  EXPECT_EQ(reply.values[2], -1);
  EXPECT_EQ(reply.values[3], 200);
  EXPECT_EQ(reply.values[4], 0);
  EXPECT_EQ(consumed, data.size() - 2);
}

TEST(RespCodecTest, EveryPrefixOfAReplyNeedsMore) {
  const std::string full = "*5\r\n:0\r\n:10\r\n:0\r\n:9000\r\n:123456789\r\n";
  for (size_t n = 0; n < full.size(); ++n) {
    CheckReply reply;
    size_t consumed = 0;
    std::string problem;
    EXPECT_EQ(ParseCheckReply(full.substr(0, n), &reply, &consumed, &problem),
              ParseResult::kNeedMore)
        << "prefix of " << n << " bytes: " << problem;
  }
}

TEST(RespCodecTest, ParsesAnErrorLine) {
  CheckReply reply;
  size_t consumed = 0;
  std::string problem;
  ASSERT_EQ(
      ParseCheckReply("-ERR invalid domain\r\n", &reply, &consumed, &problem),
      ParseResult::kReply);
  EXPECT_TRUE(reply.is_error);
  EXPECT_EQ(reply.error, "ERR invalid domain");
  EXPECT_EQ(consumed, 21u);
}

TEST(RespCodecTest, RefusesWhatRlCheckNeverAnswers) {
  const char* cases[] = {
      "+OK\r\n",                                 // a status
      "$5\r\nhello\r\n",                         // a bulk string
      "*3\r\n:1\r\n:2\r\n:3\r\n",                // three elements
      "*5\r\n:1\r\n$1\r\n",                      // a bulk element
      "*5\r\n:1x\r\n",                           // not an integer
      "*5\r\n:\r\n",                             // empty integer
      "*5\r\n:1\r:",                             // \r without \n
      "*5\r\n:123456789012345678901234567\r\n",  // too long
      "*5\r\n:1234567890123456789012345",        // too long, unterminated
  };
  for (const char* data : cases) {
    CheckReply reply;
    size_t consumed = 0;
    std::string problem;
    EXPECT_EQ(ParseCheckReply(data, &reply, &consumed, &problem),
              ParseResult::kMalformed)
        << data;
    EXPECT_FALSE(problem.empty()) << data;
  }
  std::string long_error = "-" + std::string(kMaxErrorLine + 1, 'E');
  CheckReply reply;
  size_t consumed = 0;
  std::string problem;
  EXPECT_EQ(ParseCheckReply(long_error, &reply, &consumed, &problem),
            ParseResult::kMalformed);
}

}  // namespace
}  // namespace sluice::client::internal
