#include "agent/resp/resp_parser.h"

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "tests/agent/allocation_counter.h"

namespace sluice {
namespace {

using Request = std::vector<std::string>;

// What a connection would see: requests in order, then maybe an error.
struct Parsed {
  std::vector<Request> requests;
  bool error = false;
  std::string error_text;
  size_t leftover = 0;  // bytes still buffered at the end
};

// Feeds `stream` to a parser in chunks of the given sizes (the last chunk
// takes the rest), dropping consumed bytes like the server does.
Parsed Feed(std::string_view stream, const std::vector<size_t>& chunks,
            RespParserOptions options = {}) {
  RespParser parser(options);
  Parsed parsed;
  std::string buffer;
  size_t fed = 0;
  for (size_t chunk = 0; chunk <= chunks.size(); ++chunk) {
    const size_t n = chunk < chunks.size()
                         ? std::min(chunks[chunk], stream.size() - fed)
                         : stream.size() - fed;
    buffer.append(stream.substr(fed, n));
    fed += n;
    for (;;) {
      RespParser::Result r = parser.Next(buffer);
      if (r == RespParser::Result::kError) {
        parsed.error = true;
        parsed.error_text = std::string(parser.error());
        parsed.leftover = buffer.size();
        return parsed;
      }
      if (r == RespParser::Result::kRequest) {
        parsed.requests.emplace_back(parser.args().begin(),
                                     parser.args().end());
      }
      buffer.erase(0, parser.consumed());
      if (r == RespParser::Result::kIncomplete) break;
    }
  }
  parsed.leftover = buffer.size();
  return parsed;
}

Parsed FeedAll(std::string_view stream, RespParserOptions options = {}) {
  return Feed(stream, {stream.size()}, options);
}

// Every split of the stream into two chunks, and byte by byte, must parse
// the same as the whole stream.
void ExpectSplitInvariant(std::string_view stream,
                          RespParserOptions options = {}) {
  const Parsed whole = FeedAll(stream, options);
  for (size_t cut = 0; cut <= stream.size(); ++cut) {
    const Parsed split = Feed(stream, {cut}, options);
    ASSERT_EQ(split.requests, whole.requests) << "cut at " << cut;
    ASSERT_EQ(split.error, whole.error) << "cut at " << cut;
    // (At an error, how much was buffered depends on the chunking.)
    if (!whole.error) {
      ASSERT_EQ(split.leftover, whole.leftover) << "cut at " << cut;
    }
  }
  const Parsed bytewise =
      Feed(stream, std::vector<size_t>(stream.size(), 1), options);
  EXPECT_EQ(bytewise.requests, whole.requests);
  EXPECT_EQ(bytewise.error, whole.error);
}

std::string Multibulk(const Request& args) {
  std::string out = "*" + std::to_string(args.size()) + "\r\n";
  for (const auto& arg : args) {
    out += "$" + std::to_string(arg.size()) + "\r\n" + arg + "\r\n";
  }
  return out;
}

TEST(RespParserTest, ParsesOneMultibulkRequest) {
  Parsed p = FeedAll("*3\r\n$4\r\nPING\r\n$0\r\n\r\n$3\r\nabc\r\n");
  ASSERT_FALSE(p.error) << p.error_text;
  ASSERT_EQ(p.requests.size(), 1u);
  EXPECT_EQ(p.requests[0], (Request{"PING", "", "abc"}));
  EXPECT_EQ(p.leftover, 0u);
}

TEST(RespParserTest, ArgumentsAreViewsIntoTheBuffer) {
  RespParser parser;
  const std::string buffer = "*2\r\n$4\r\nECHO\r\n$2\r\nhi\r\n";
  ASSERT_EQ(parser.Next(buffer), RespParser::Result::kRequest);
  ASSERT_EQ(parser.args().size(), 2u);
  EXPECT_EQ(parser.args()[1].data(), buffer.data() + 18);
  EXPECT_EQ(parser.consumed(), buffer.size());
}

TEST(RespParserTest, ArgumentsAreBinarySafe) {
  const Request args = {"SET", std::string("a\r\nb\0c", 6), "*3\r\n$1"};
  Parsed p = FeedAll(Multibulk(args));
  ASSERT_EQ(p.requests.size(), 1u);
  EXPECT_EQ(p.requests[0], args);
}

TEST(RespParserTest, ParsesPipelinedRequestsInOrder) {
  std::string stream;
  std::vector<Request> expected;
  for (int i = 0; i < 50; ++i) {
    Request r = {"RL.CHECK", "api", std::to_string(i), "client",
                 std::to_string(i * 7)};
    expected.push_back(r);
    stream += Multibulk(r);
  }
  Parsed p = FeedAll(stream);
  EXPECT_EQ(p.requests, expected);
  EXPECT_EQ(p.leftover, 0u);
}

TEST(RespParserTest, PartialFramesGiveTheSameResultAtEverySplit) {
  ExpectSplitInvariant(Multibulk({"RL.CHECK", "api", "1", "client", "42"}) +
                       "PING\r\n" + Multibulk({"ECHO", "x\r\ny"}) + "*0\r\n" +
                       "\r\n" + Multibulk({"PING"}));
}

TEST(RespParserTest, IncompleteRequestIsKeptUntilComplete) {
  RespParser parser;
  std::string buffer = "*2\r\n$4\r\nECHO\r\n$5\r\nhel";
  EXPECT_EQ(parser.Next(buffer), RespParser::Result::kIncomplete);
  EXPECT_EQ(parser.consumed(), 0u);
  // The buffer may move between calls: the parser keeps offsets.
  std::string moved = buffer + "lo\r\n";
  buffer.assign(moved.size(), 'X');
  ASSERT_EQ(parser.Next(moved), RespParser::Result::kRequest);
  EXPECT_EQ(parser.args()[1], "hello");
  EXPECT_EQ(parser.consumed(), moved.size());
}

TEST(RespParserTest, InlineCommands) {
  Parsed p =
      FeedAll("PING\r\nRL.CHECK api 1  client\t42\nECHO \"a b\" 'c d'\n");
  ASSERT_FALSE(p.error) << p.error_text;
  ASSERT_EQ(p.requests.size(), 3u);
  EXPECT_EQ(p.requests[0], (Request{"PING"}));
  EXPECT_EQ(p.requests[1], (Request{"RL.CHECK", "api", "1", "client", "42"}));
  EXPECT_EQ(p.requests[2], (Request{"ECHO", "a b", "c d"}));
}

TEST(RespParserTest, InlineEmptyQuotedWordIsAnArgument) {
  Parsed p = FeedAll("ECHO \"\"\r\n");
  ASSERT_EQ(p.requests.size(), 1u);
  EXPECT_EQ(p.requests[0], (Request{"ECHO", ""}));
}

TEST(RespParserTest, EmptyRequestsAreSkipped) {
  Parsed p = FeedAll("\r\n\n   \r\n*0\r\n*-1\r\nPING\r\n");
  ASSERT_FALSE(p.error) << p.error_text;
  ASSERT_EQ(p.requests.size(), 1u);
  EXPECT_EQ(p.requests[0], (Request{"PING"}));
}

TEST(RespParserTest, SkippedBytesAreConsumedEvenWhenTheNextIsIncomplete) {
  RespParser parser;
  std::string buffer = "*0\r\n\r\n*1\r\n$4\r\nPI";
  EXPECT_EQ(parser.Next(buffer), RespParser::Result::kIncomplete);
  EXPECT_EQ(parser.consumed(), 6u);
  buffer.erase(0, 6);
  buffer += "NG\r\n";
  ASSERT_EQ(parser.Next(buffer), RespParser::Result::kRequest);
  EXPECT_EQ(parser.args()[0], "PING");
}

struct BadInput {
  const char* name;
  std::string bytes;
  const char* error_contains;
};

void PrintTo(const BadInput& bad, std::ostream* os) { *os << bad.name; }

class RespParserErrorTest : public ::testing::TestWithParam<BadInput> {};

TEST_P(RespParserErrorTest, IsAProtocolError) {
  const BadInput& bad = GetParam();
  Parsed p = FeedAll(bad.bytes);
  EXPECT_TRUE(p.error) << bad.name;
  EXPECT_NE(p.error_text.find("Protocol error"), std::string::npos);
  EXPECT_NE(p.error_text.find(bad.error_contains), std::string::npos)
      << p.error_text;
  EXPECT_EQ(p.error_text.find_first_of("\r\n"), std::string::npos);
  // Split anywhere, the outcome is the same.
  ExpectSplitInvariant(bad.bytes);
}

INSTANTIATE_TEST_SUITE_P(
    Malformed, RespParserErrorTest,
    ::testing::Values(
        BadInput{"letters in count", "*x\r\n", "invalid multibulk length"},
        BadInput{"empty count", "*\r\n", "invalid multibulk length"},
        BadInput{"negative count", "*-5\r\n", "invalid multibulk length"},
        BadInput{"plus sign", "*+1\r\n", "invalid multibulk length"},
        BadInput{"huge count", "*100000000\r\n", "too many arguments"},
        BadInput{"endless count", "*99999999999999999999999999999999999\r\n",
                 "too long"},
        BadInput{"cr without lf", "*1\rX", "CR without LF"},
        BadInput{"missing dollar", "*1\r\n+PING\r\n", "expected '$'"},
        BadInput{"null bulk", "*1\r\n$-1\r\n", "invalid bulk length"},
        BadInput{"letters in length", "*1\r\n$abc\r\n", "invalid bulk length"},
        BadInput{"huge length", "*1\r\n$999999999999\r\n", "larger than"},
        BadInput{"length over limit", "*1\r\n$65536\r\n", "larger than"},
        BadInput{"data longer than announced", "*1\r\n$2\r\nabc\r\n",
                 "not followed by CRLF"},
        BadInput{"unbalanced quotes", "ECHO \"abc\r\n", "unbalanced quotes"},
        BadInput{"text after quote", "ECHO \"a\"b\r\n", "closing quote"}),
    [](const ::testing::TestParamInfo<BadInput>& info) {
      std::string name = info.param.name;
      for (char& c : name) {
        if (c == ' ') c = '_';
      }
      return name;
    });

TEST(RespParserTest, AbsurdLengthsFailBeforeTheirDataArrives) {
  for (const char* header : {"*100000000\r\n", "*1\r\n$999999999999\r\n"}) {
    RespParser parser;
    EXPECT_EQ(parser.Next(header), RespParser::Result::kError) << header;
  }
}

TEST(RespParserTest, RequestOverTheLimitFailsWithoutBeingBuffered) {
  RespParserOptions options;
  options.max_request_bytes = 1024;
  // Two arguments that each fit, together over the limit.
  std::string stream =
      Multibulk({std::string(600, 'a'), std::string(600, 'b')});
  Parsed p = FeedAll(stream, options);
  EXPECT_TRUE(p.error);
  EXPECT_NE(p.error_text.find("1024"), std::string::npos) << p.error_text;
  // Exactly at the limit is fine.
  std::string fits = Multibulk({std::string(1024 - 13, 'a')});
  ASSERT_EQ(fits.size(), 1024u);
  EXPECT_FALSE(FeedAll(fits, options).error);
  std::string over = Multibulk({std::string(1024 - 12, 'a')});
  EXPECT_TRUE(FeedAll(over, options).error);
}

TEST(RespParserTest, InlineLineOverTheLimitFails) {
  RespParserOptions options;
  options.max_request_bytes = 100;
  Parsed p = FeedAll(std::string(200, 'a'), options);
  EXPECT_TRUE(p.error);
  EXPECT_NE(p.error_text.find("inline request longer"), std::string::npos);
  // Shorter and not yet ended: waits for more.
  Parsed wait = FeedAll(std::string(99, 'a'), options);
  EXPECT_FALSE(wait.error);
  EXPECT_EQ(wait.leftover, 99u);
}

TEST(RespParserTest, TooManyArgumentsFails) {
  RespParserOptions options;
  options.max_args = 3;
  EXPECT_FALSE(FeedAll(Multibulk({"a", "b", "c"}), options).error);
  EXPECT_TRUE(FeedAll(Multibulk({"a", "b", "c", "d"}), options).error);
  EXPECT_FALSE(FeedAll("a b c\r\n", options).error);
  EXPECT_TRUE(FeedAll("a b c d\r\n", options).error);
}

TEST(RespParserTest, ErrorIsStickyUntilReset) {
  RespParser parser;
  EXPECT_EQ(parser.Next("*x\r\n"), RespParser::Result::kError);
  EXPECT_EQ(parser.Next("PING\r\n"), RespParser::Result::kError);
  parser.Reset();
  EXPECT_EQ(parser.Next("PING\r\n"), RespParser::Result::kRequest);
}

TEST(RespParserTest, RandomBytesNeverCrashAndAlwaysTerminate) {
  std::mt19937 rng(12345);
  const std::string alphabet = "*$\r\n0123456789-abc \"'\t";
  RespParserOptions options;
  options.max_request_bytes = 256;
  options.max_args = 8;
  for (int round = 0; round < 3000; ++round) {
    std::string stream;
    const size_t len = rng() % 80;
    for (size_t i = 0; i < len; ++i) {
      stream.push_back(rng() % 4 == 0 ? static_cast<char>(rng() % 256)
                                      : alphabet[rng() % alphabet.size()]);
    }
    const Parsed whole = FeedAll(stream, options);
    // Every argument of every request lies within the stream.
    for (const Request& r : whole.requests) {
      EXPECT_FALSE(r.empty());
      for (const std::string& arg : r) EXPECT_LE(arg.size(), stream.size());
    }
    const Parsed bytewise =
        Feed(stream, std::vector<size_t>(stream.size(), 1), options);
    ASSERT_EQ(bytewise.requests, whole.requests) << "round " << round;
    ASSERT_EQ(bytewise.error, whole.error) << "round " << round;
  }
}

// Frames that are valid or nearly so (a digit, a CR or a length changed,
// limits just reached) parse the same whole (the parser's fast path for a
// complete request) as byte by byte (its state machine), errors included.
TEST(RespParserTest, NearlyValidFramesParseTheSameWholeAndBytewise) {
  std::mt19937 rng(777);
  const std::string edits = "*$\r\n0123456789-+ x";
  RespParserOptions options;
  options.max_request_bytes = 120;
  options.max_args = 6;
  int with_requests = 0;
  int with_errors = 0;
  for (int round = 0; round < 5000; ++round) {
    std::string stream;
    const int frames = static_cast<int>(rng() % 4) + 1;
    for (int f = 0; f < frames; ++f) {
      Request args(rng() % 8);  // 0 (skipped) to 7 (over max_args)
      for (std::string& arg : args) {
        arg.assign(rng() % 3 == 0 ? rng() % 60 : rng() % 8, 'a');
      }
      std::string frame = Multibulk(args);
      if (rng() % 4 == 0) frame.insert(1, "0");  // a leading zero
      stream += frame;
    }
    const int changes = static_cast<int>(rng() % 3);
    for (int c = 0; c < changes && !stream.empty(); ++c) {
      stream[rng() % stream.size()] = edits[rng() % edits.size()];
    }
    const Parsed whole = FeedAll(stream, options);
    const Parsed bytewise =
        Feed(stream, std::vector<size_t>(stream.size(), 1), options);
    ASSERT_EQ(bytewise.requests, whole.requests) << "round " << round;
    ASSERT_EQ(bytewise.error, whole.error) << "round " << round;
    ASSERT_EQ(bytewise.error_text, whole.error_text) << "round " << round;
    if (!whole.requests.empty()) ++with_requests;
    if (whole.error) ++with_errors;
  }
  EXPECT_GT(with_requests, 1000);
  EXPECT_GT(with_errors, 1000);
}

TEST(RespParserTest, SteadyStateParsesWithoutAllocating) {
  RespParser parser;
  std::string pipeline;
  for (int i = 0; i < 16; ++i) {
    pipeline += Multibulk({"RL.CHECK", "api", "1", "client", "12345"});
  }
  pipeline += "PING\r\n";
  auto parse_all = [&] {
    std::string_view rest = pipeline;
    int requests = 0;
    while (parser.Next(rest) == RespParser::Result::kRequest) {
      rest.remove_prefix(parser.consumed());
      ++requests;
    }
    return requests;
  };
  ASSERT_EQ(parse_all(), 17);  // warm-up
  const int64_t before = testing::ThreadAllocations();
  ASSERT_EQ(parse_all(), 17);
  EXPECT_EQ(testing::ThreadAllocations() - before, 0);
}

}  // namespace
}  // namespace sluice
