#include "common/wire_lease_codec.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "common/wire.h"

namespace sluice {
namespace {

using wire_internal::DecodeWireMessageGeneric;
using wire_internal::EncodeWireMessageGeneric;
using wire_internal::FastDecodeLeaseGrant;
using wire_internal::FastDecodeLeaseRequest;

constexpr int64_t kMax = std::numeric_limits<int64_t>::max();

bool Same(const LeaseRequest& a, const LeaseRequest& b) {
  if (a.seq != b.seq || a.items.size() != b.items.size()) return false;
  for (size_t i = 0; i < a.items.size(); ++i) {
    const LeaseWant& x = a.items[i];
    const LeaseWant& y = b.items[i];
    if (x.rule_id != y.rule_id || x.values != y.values || x.want != y.want ||
        x.admitted != y.admitted || x.refused != y.refused ||
        x.unleased != y.unleased) {
      return false;
    }
  }
  return true;
}

bool Same(const LeaseGrant& a, const LeaseGrant& b) {
  if (a.seq != b.seq || a.items.size() != b.items.size()) return false;
  for (size_t i = 0; i < a.items.size(); ++i) {
    const LeaseGrantItem& x = a.items[i];
    const LeaseGrantItem& y = b.items[i];
    if (x.rule_id != y.rule_id || x.values != y.values ||
        x.tokens != y.tokens || x.ttl_ms != y.ttl_ms) {
      return false;
    }
  }
  return true;
}

class Random {
 public:
  explicit Random(uint32_t seed) : gen_(seed) {}
  int64_t Int(int64_t lo, int64_t hi) {
    return std::uniform_int_distribution<int64_t>(lo, hi)(gen_);
  }
  // Mostly small counts, sometimes the extremes.
  int64_t Count(int64_t min) {
    switch (Int(0, 5)) {
      case 0:
        return min;
      case 1:
        return kMax;
      case 2:
        return Int(min, kMax);
      default:
        return Int(min, 100000);
    }
  }
  // Plain ASCII most of the time; sometimes characters that need escaping,
  // UTF-8, or bytes that are not UTF-8 at all.
  std::string Value() {
    static const char* const kSpecial[] = {"\"",
                                           "\\",
                                           "\n",
                                           "\r",
                                           "\t",
                                           "\b",
                                           "\f",
                                           "\x01",
                                           "\x1f",
                                           "\x7f",
                                           "/",
                                           "\xc3\xa9",
                                           "\xe2\x82\xac",
                                           "\xf0\x9f\x98\x80",
                                           "\xff",
                                           "\xc3",
                                           "\xed\xa0\x80",
                                           std::string_view("\0", 1).data()};
    std::string out;
    const int64_t n = Int(0, 14);
    const bool plain = Int(0, 2) != 0;
    for (int64_t i = 0; i < n; ++i) {
      if (plain || Int(0, 3) != 0) {
        out.push_back(static_cast<char>(Int(0x20, 0x7e)));
      } else {
        const size_t k = static_cast<size_t>(Int(0, std::size(kSpecial) - 1));
        if (k == std::size(kSpecial) - 1) {
          out.push_back('\0');
        } else {
          out += kSpecial[k];
        }
      }
    }
    return out;
  }
  std::vector<std::string> Values() {
    std::vector<std::string> out(static_cast<size_t>(Int(0, 3)));
    for (std::string& v : out) v = Value();
    return out;
  }
  LeaseRequest Request() {
    LeaseRequest m;
    m.seq = Int(0, 3) == 0 ? std::numeric_limits<uint64_t>::max()
                           : static_cast<uint64_t>(Int(0, kMax));
    const int64_t n = Int(0, 6);
    for (int64_t i = 0; i < n; ++i) {
      m.items.push_back(LeaseWant{Count(1), Values(), Count(0), Count(0),
                                  Count(0), Count(0)});
    }
    return m;
  }
  LeaseGrant Grant() {
    LeaseGrant m;
    m.seq = static_cast<uint64_t>(Int(0, kMax));
    const int64_t n = Int(0, 6);
    for (int64_t i = 0; i < n; ++i) {
      m.items.push_back(LeaseGrantItem{Count(1), Values(), Count(0), Count(0)});
    }
    return m;
  }
  // A random edit of `bytes`: a byte changed, inserted or removed, white
  // space inserted, or the end cut off.
  std::string Mutate(std::string bytes) {
    static const char kBytes[] = "{}[],:\"\\ 0123456789-.eE+abtx\n";
    if (bytes.empty()) return bytes;
    const size_t pos = static_cast<size_t>(Int(0, bytes.size() - 1));
    const char c = kBytes[Int(0, sizeof(kBytes) - 2)];
    switch (Int(0, 4)) {
      case 0:
        bytes[pos] = c;
        break;
      case 1:
        bytes.insert(bytes.begin() + pos, c);
        break;
      case 2:
        bytes.erase(pos, 1);
        break;
      case 3:
        bytes.insert(pos, Int(0, 1) ? " " : "\r\n\t");
        break;
      default:
        bytes.resize(pos);
    }
    return bytes;
  }

 private:
  std::mt19937 gen_;
};

TEST(WireLeaseCodecTest, EncodesTheSameBytesAsTheGenericEncoder) {
  Random random(1);
  for (int i = 0; i < 2000; ++i) {
    const LeaseRequest request = random.Request();
    ASSERT_EQ(EncodeWireMessage(request), EncodeWireMessageGeneric(request));
    const LeaseGrant grant = random.Grant();
    ASSERT_EQ(EncodeWireMessage(grant), EncodeWireMessageGeneric(grant));
  }
}

TEST(WireLeaseCodecTest, EveryMessageRoundTripsExactly) {
  Random random(2);
  for (int i = 0; i < 2000; ++i) {
    const LeaseRequest request = random.Request();
    StatusOr<WireMessage> decoded =
        DecodeWireMessage(EncodeWireMessage(request));
    ASSERT_TRUE(decoded.ok()) << decoded.status().ToString();
    ASSERT_TRUE(Same(std::get<LeaseRequest>(*decoded), request));
    const LeaseGrant grant = random.Grant();
    decoded = DecodeWireMessage(EncodeWireMessage(grant));
    ASSERT_TRUE(decoded.ok()) << decoded.status().ToString();
    ASSERT_TRUE(Same(std::get<LeaseGrant>(*decoded), grant));
  }
}

TEST(WireLeaseCodecTest, FastPathTakesTheCommonShape) {
  LeaseRequest request;
  request.seq = 7;
  request.items.push_back({3, {"client-42", "/search"}, 10, 5, 2, 1});
  request.items.push_back({4, {}, 0, 0, 0, 0});
  LeaseRequest fast_request;
  ASSERT_TRUE(
      FastDecodeLeaseRequest(EncodeWireMessage(request), &fast_request));
  EXPECT_TRUE(Same(fast_request, request));

  LeaseGrant grant;
  grant.seq = std::numeric_limits<uint64_t>::max();
  grant.items.push_back({3, {"client-42"}, 100, 2000});
  LeaseGrant fast_grant;
  ASSERT_TRUE(FastDecodeLeaseGrant(EncodeWireMessage(grant), &fast_grant));
  EXPECT_TRUE(Same(fast_grant, grant));

  // White space and another key order are still the common shape.
  ASSERT_TRUE(FastDecodeLeaseGrant(
      " { \"type\" : \"lease_grant\" , \"seq\" : 5 , \"items\" : [ { "
      "\"values\" : [ \"a\" ] , \"ttl_ms\" : 0 , \"tokens\" : 1 , "
      "\"rule_id\" : 2 } ] }\n",
      &fast_grant));
  EXPECT_EQ(fast_grant.seq, 5u);
  ASSERT_EQ(fast_grant.items.size(), 1u);
  EXPECT_EQ(fast_grant.items[0].rule_id, 2);
  EXPECT_EQ(fast_grant.items[0].values, std::vector<std::string>{"a"});
}

TEST(WireLeaseCodecTest, FastPathLeavesTheRestToTheGenericDecoder) {
  const std::string ok_item = R"({"rule_id":2,"tokens":1,"ttl_ms":0,)";
  const std::vector<std::string> cases = {
      // Unknown field (the generic decoder ignores it).
      R"({"extra":1,"items":[],"seq":1,"type":"lease_grant"})",
      // Repeated field.
      R"({"items":[],"seq":1,"seq":2,"type":"lease_grant"})",
      // Escapes, non-ASCII and hex values.
      "{\"items\":[" + ok_item +
          R"("values":["a\"b"]}],"seq":1,"type":"lease_grant"})",
      "{\"items\":[" + ok_item +
          "\"values\":[\"\xc3\xa9\"]}],\"seq\":1,\"type\":\"lease_grant\"}",
      "{\"items\":[" + ok_item +
          R"("values":[{"hex":"ff"}]}],"seq":1,"type":"lease_grant"})",
      // Numbers that are not plain in-range integers.
      R"({"items":[],"seq":1.0,"type":"lease_grant"})",
      R"({"items":[],"seq":1e3,"type":"lease_grant"})",
      R"({"items":[],"seq":01,"type":"lease_grant"})",
      R"({"items":[],"seq":-1,"type":"lease_grant"})",
      R"({"items":[],"seq":18446744073709551616,"type":"lease_grant"})",
      R"({"items":[{"rule_id":0,"tokens":1,"ttl_ms":0,"values":[]}],"seq":1,"type":"lease_grant"})",
      R"({"items":[{"rule_id":1,"tokens":9223372036854775808,"ttl_ms":0,"values":[]}],"seq":1,"type":"lease_grant"})",
      // Missing fields, wrong types, other message types.
      R"({"items":[{"rule_id":1,"tokens":1,"values":[]}],"seq":1,"type":"lease_grant"})",
      R"({"items":{},"seq":1,"type":"lease_grant"})",
      R"({"items":[],"seq":1,"type":"lease_request"})",
      R"({"items":[],"type":"lease_grant"})",
      R"({"items":[],"seq":1,"type":"lease_grant"} x)",
  };
  for (const std::string& bytes : cases) {
    LeaseGrant grant;
    EXPECT_FALSE(FastDecodeLeaseGrant(bytes, &grant)) << bytes;
    // Whatever the generic decoder makes of it is the answer.
    StatusOr<WireMessage> generic = DecodeWireMessageGeneric(bytes);
    StatusOr<WireMessage> decoded = DecodeWireMessage(bytes);
    ASSERT_EQ(decoded.ok(), generic.ok()) << bytes;
    if (!generic.ok()) {
      EXPECT_EQ(decoded.status().message(), generic.status().message());
    }
  }
  // The unknown field is ignored, as before.
  StatusOr<WireMessage> decoded = DecodeWireMessage(cases[0]);
  ASSERT_TRUE(decoded.ok());
  EXPECT_EQ(std::get<LeaseGrant>(*decoded).seq, 1u);
}

// Whenever the fast path accepts a (mutated) message, the generic decoder
// accepts it too and reads the same message.
TEST(WireLeaseCodecTest, FastPathNeverDisagreesWithTheGenericDecoder) {
  Random random(3);
  int fast_accepted = 0;
  int fast_refused = 0;
  for (int i = 0; i < 20000; ++i) {
    const bool request_case = i % 2 == 0;
    std::string bytes = request_case ? EncodeWireMessage(random.Request())
                                     : EncodeWireMessage(random.Grant());
    const int edits = static_cast<int>(random.Int(1, 3));
    for (int e = 0; e < edits; ++e) bytes = random.Mutate(bytes);
    const StatusOr<WireMessage> generic = DecodeWireMessageGeneric(bytes);
    if (request_case) {
      LeaseRequest fast;
      if (!FastDecodeLeaseRequest(bytes, &fast)) {
        ++fast_refused;
        continue;
      }
      ++fast_accepted;
      ASSERT_TRUE(generic.ok()) << bytes;
      ASSERT_TRUE(std::holds_alternative<LeaseRequest>(*generic)) << bytes;
      ASSERT_TRUE(Same(fast, std::get<LeaseRequest>(*generic))) << bytes;
    } else {
      LeaseGrant fast;
      if (!FastDecodeLeaseGrant(bytes, &fast)) {
        ++fast_refused;
        continue;
      }
      ++fast_accepted;
      ASSERT_TRUE(generic.ok()) << bytes;
      ASSERT_TRUE(std::holds_alternative<LeaseGrant>(*generic)) << bytes;
      ASSERT_TRUE(Same(fast, std::get<LeaseGrant>(*generic))) << bytes;
    }
  }
  // Both outcomes were exercised.
  EXPECT_GT(fast_accepted, 200);
  EXPECT_GT(fast_refused, 1000);
}

}  // namespace
}  // namespace sluice
