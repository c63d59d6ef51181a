#include "common/wire.h"

#include <gtest/gtest.h>

#include <string>

#include "tests/common/test_rule.h"

namespace sluice {
namespace {

using testing_rules::MakeRule;

// Encodes, decodes and returns the decoded message of the same type.
template <typename T>
T RoundTrip(const T& message) {
  std::string bytes = EncodeWireMessage(message);
  StatusOr<WireMessage> decoded = DecodeWireMessage(bytes);
  EXPECT_TRUE(decoded.ok()) << decoded.status().ToString() << "\n" << bytes;
  if (!decoded.ok()) return T();
  EXPECT_TRUE(std::holds_alternative<T>(*decoded)) << bytes;
  if (!std::holds_alternative<T>(*decoded)) return T();
  return std::get<T>(*decoded);
}

Status DecodeError(std::string_view bytes) {
  StatusOr<WireMessage> decoded = DecodeWireMessage(bytes);
  EXPECT_FALSE(decoded.ok()) << bytes;
  return decoded.ok() ? Status::Ok() : decoded.status();
}

TEST(WireTest, HelloRoundTrips) {
  Hello m;
  m.agent_id = "host-1:agent";
  m.rules_version = 17;
  m.protocol = 3;
  Hello back = RoundTrip(m);
  EXPECT_EQ(back.agent_id, "host-1:agent");
  EXPECT_EQ(back.rules_version, 17);
  EXPECT_EQ(back.protocol, 3);
}

TEST(WireTest, EachMessageCarriesItsType) {
  EXPECT_NE(EncodeWireMessage(Hello{}).find("\"type\":\"hello\""),
            std::string::npos);
  EXPECT_EQ(EncodeWireMessage(SnapshotRequest{}),
            "{\"type\":\"snapshot_request\"}");
  EXPECT_NE(EncodeWireMessage(LeaseGrant{}).find("\"type\":\"lease_grant\""),
            std::string::npos);
}

TEST(WireTest, SnapshotRequestRoundTrips) {
  StatusOr<WireMessage> decoded =
      DecodeWireMessage(EncodeWireMessage(SnapshotRequest{}));
  ASSERT_TRUE(decoded.ok());
  EXPECT_TRUE(std::holds_alternative<SnapshotRequest>(*decoded));
}

TEST(WireTest, HeartbeatCarriesControllersVersionOnlyWhenSet) {
  Heartbeat plain{41, 3};
  EXPECT_EQ(EncodeWireMessage(plain).find("controllers_version"),
            std::string::npos);
  Heartbeat with{41, 3, 9};
  EXPECT_EQ(RoundTrip(with).controllers_version, 9);
  // From a controller that knows nothing of controller sets: 0.
  StatusOr<WireMessage> old =
      DecodeWireMessage(R"({"type":"heartbeat","rules_version":2,"agents":1})");
  ASSERT_TRUE(old.ok());
  EXPECT_EQ(std::get<Heartbeat>(*old).controllers_version, 0);
  Status bad =
      DecodeError(R"({"type":"heartbeat","rules_version":2,"agents":1,)"
                  R"("controllers_version":"x"})");
  EXPECT_NE(bad.message().find("heartbeat.controllers_version"),
            std::string::npos)
      << bad.message();
}

TEST(WireTest, ControllersRoundTrip) {
  Controllers m;
  m.set.version = 12;
  m.set.members = {{"c-1", "tcp://10.0.0.1:7070"},
                   {"c-2", "tcp://10.0.0.2:7070"}};
  m.self_id = "c-2";
  Controllers back = RoundTrip(m);
  EXPECT_EQ(back.set, m.set);
  EXPECT_EQ(back.self_id, "c-2");
  EXPECT_EQ(RoundTrip(Controllers{}).set.version, 0);
}

TEST(WireTest, ControllersRefusesABadSet) {
  Status unsorted = DecodeError(
      R"({"type":"controllers","version":3,"self_id":"b","members":[)"
      R"({"id":"b","endpoint":"tcp://b:1"},{"id":"a","endpoint":"tcp://a:1"}]})");
  EXPECT_NE(unsorted.message().find("member 1"), std::string::npos)
      << unsorted.message();
  Status no_endpoint = DecodeError(
      R"({"type":"controllers","version":3,"self_id":"a","members":[)"
      R"({"id":"a"}]})");
  EXPECT_NE(no_endpoint.message().find("controllers.members[0].endpoint"),
            std::string::npos)
      << no_endpoint.message();
  Status not_object = DecodeError(
      R"({"type":"controllers","version":3,"self_id":"a","members":[1]})");
  EXPECT_NE(not_object.message().find("must be an object"), std::string::npos);
}

TEST(WireTest, HeartbeatRoundTrips) {
  Heartbeat back = RoundTrip(Heartbeat{41, 3});
  EXPECT_EQ(back.rules_version, 41);
  EXPECT_EQ(back.agents, 3);
}

TEST(WireTest, RulesSnapshotRoundTrips) {
  Rule a = MakeRule(1, "api", {{"client_id", "*"}, {"route", "/search"}}, 100,
                    1000, 200);
  Rule b = MakeRule(2, "login", {}, 5, 60000);
  b.enabled = false;
  b.mode = RuleMode::kShadow;
  b.failure_mode = FailureMode::kClosed;
  b.version = 4;
  RulesSnapshot m{9, 2, {a, b}};
  RulesSnapshot back = RoundTrip(m);
  EXPECT_EQ(back.version, 9);
  EXPECT_EQ(back.agents, 2);
  ASSERT_EQ(back.rules.size(), 2u);
  EXPECT_EQ(back.rules[0], a);
  EXPECT_EQ(back.rules[1], b);
}

TEST(WireTest, RulesDeltaRoundTrips) {
  RulesDelta m{4, 6, {MakeRule(3, "api", {{"k", "v"}})}, {1, 2}};
  RulesDelta back = RoundTrip(m);
  EXPECT_EQ(back.base_version, 4);
  EXPECT_EQ(back.version, 6);
  ASSERT_EQ(back.upserts.size(), 1u);
  EXPECT_EQ(back.upserts[0], m.upserts[0]);
  EXPECT_EQ(back.deletes, (std::vector<int64_t>{1, 2}));
}

TEST(WireTest, LeaseRequestRoundTrips) {
  LeaseRequest m;
  m.seq = 18446744073709551615ULL;
  m.items.push_back({7, {"42", "/search"}, 10, 5, 2, 1});
  m.items.push_back({8, {}, 0, 0, 0, 0});
  LeaseRequest back = RoundTrip(m);
  EXPECT_EQ(back.seq, m.seq);
  ASSERT_EQ(back.items.size(), 2u);
  EXPECT_EQ(back.items[0].rule_id, 7);
  EXPECT_EQ(back.items[0].values, (std::vector<std::string>{"42", "/search"}));
  EXPECT_EQ(back.items[0].want, 10);
  EXPECT_EQ(back.items[0].admitted, 5);
  EXPECT_EQ(back.items[0].refused, 2);
  EXPECT_EQ(back.items[0].unleased, 1);
  EXPECT_EQ(back.items[1].rule_id, 8);
  EXPECT_TRUE(back.items[1].values.empty());
}

TEST(WireTest, LeaseGrantRoundTrips) {
  LeaseGrant m;
  m.seq = 12;
  m.items.push_back({7, {"42"}, 100, 2000});
  LeaseGrant back = RoundTrip(m);
  EXPECT_EQ(back.seq, 12u);
  ASSERT_EQ(back.items.size(), 1u);
  EXPECT_EQ(back.items[0].rule_id, 7);
  EXPECT_EQ(back.items[0].values, (std::vector<std::string>{"42"}));
  EXPECT_EQ(back.items[0].tokens, 100);
  EXPECT_EQ(back.items[0].ttl_ms, 2000);
}

TEST(WireTest, ErrorMessageRoundTrips) {
  ErrorMessage back = RoundTrip(ErrorMessage{"protocol 2 is not supported"});
  EXPECT_EQ(back.message, "protocol 2 is not supported");
}

TEST(WireTest, BinaryValuesSurviveExactly) {
  // Descriptor values are whatever bytes a client sent, not always UTF-8.
  std::vector<std::string> values = {std::string("\xff\xfe\x00x", 4), "Zürich",
                                     std::string("a\0b", 3), ""};
  LeaseGrant m;
  m.items.push_back({1, values, 1, 1});
  LeaseGrant back = RoundTrip(m);
  ASSERT_EQ(back.items.size(), 1u);
  EXPECT_EQ(back.items[0].values, values);
  LeaseRequest r;
  r.items.push_back({1, values, 1, 0, 0, 0});
  EXPECT_EQ(RoundTrip(r).items[0].values, values);
}

TEST(WireTest, InvalidUtf8InStringsDoesNotBreakEncoding) {
  std::string bytes = EncodeWireMessage(Hello{"agent\xff", 0, 1});
  StatusOr<WireMessage> decoded = DecodeWireMessage(bytes);
  ASSERT_TRUE(decoded.ok()) << decoded.status().ToString();
  EXPECT_EQ(std::get<Hello>(*decoded).agent_id.substr(0, 5), "agent");
}

TEST(WireTest, RefusesOversizeMessages) {
  std::string big(kMaxWireMessageBytes + 1, ' ');
  Status st = DecodeError(big);
  EXPECT_NE(st.message().find("the most allowed is 16777216"),
            std::string::npos)
      << st.message();
}

TEST(WireTest, RefusesMalformedJson) {
  for (const char* bytes : {"", "{", "{\"type\": \"hello\"", "nonsense",
                            "{\"type\": \"hello\"} trailing", "\xff"}) {
    Status st = DecodeError(bytes);
    EXPECT_EQ(st.code(), Status::Code::kInvalidArgument);
    EXPECT_NE(st.message().find("not valid JSON"), std::string::npos)
        << st.message();
  }
}

TEST(WireTest, RefusesDeepNestingWithoutCrashing) {
  std::string deep(100000, '[');
  deep += std::string(100000, ']');
  Status st = DecodeError(deep);
  EXPECT_NE(st.message().find("must be a JSON object"), std::string::npos)
      << st.message();
}

TEST(WireTest, RefusesMissingOrUnknownType) {
  Status st = DecodeError("[1, 2]");
  EXPECT_NE(st.message().find("must be a JSON object"), std::string::npos);
  st = DecodeError("{}");
  EXPECT_NE(st.message().find("needs a \"type\" string"), std::string::npos);
  st = DecodeError("{\"type\": 5}");
  EXPECT_NE(st.message().find("got 5"), std::string::npos);
  st = DecodeError("{\"type\": \"helo\"}");
  EXPECT_EQ(
      st.message(),
      "unknown wire message type \"helo\"; expected hello, "
      "snapshot_request, heartbeat, rules_snapshot, rules_delta, "
      "lease_request, lease_grant, usage_report, usage_ack, controllers or "
      "error");
}

struct BadCase {
  const char* bytes;
  const char* expected_part;
};

TEST(WireTest, RefusesMissingAndIllTypedFields) {
  const BadCase cases[] = {
      {R"({"type":"hello","rules_version":0,"protocol":1})",
       "hello.agent_id is missing; expected a string"},
      {R"({"type":"hello","agent_id":7,"rules_version":0,"protocol":1})",
       "hello.agent_id must be a string, got 7"},
      {R"({"type":"hello","agent_id":"a","rules_version":-1,"protocol":1})",
       "hello.rules_version must be an integer, 0 or more, got -1"},
      {R"({"type":"hello","agent_id":"a","rules_version":0,"protocol":0})",
       "hello.protocol must be an integer from 1 to 2147483647, got 0"},
      {R"({"type":"heartbeat","rules_version":"1","agents":1})",
       "heartbeat.rules_version must be an integer, 0 or more, got \"1\""},
      {R"({"type":"heartbeat","rules_version":1})",
       "heartbeat.agents is missing"},
      {R"({"type":"rules_snapshot","version":1,"agents":1,"rules":{}})",
       "rules_snapshot.rules must be an array, got an object"},
      {R"({"type":"rules_snapshot","version":1,"agents":1,"rules":[
          {"id":1,"version":1,"name":"n","domain":"d","limit":0,
           "period":"1s"}]})",
       "rules_snapshot.rules[0]: limit must be an integer from 1"},
      {R"({"type":"rules_snapshot","version":1,"agents":1,"rules":[
          {"name":"n","domain":"d","limit":1,"period":"1s"}]})",
       "rules_snapshot.rules[0].id must be an integer, 1 or more"},
      {R"({"type":"rules_snapshot","version":1,"agents":1,"rules":[
          {"id":3,"name":"n","domain":"d","limit":1,"period":"1s"}]})",
       "rules_snapshot.rules[0].version must be an integer, 1 or more"},
      {R"({"type":"rules_delta","base_version":1,"version":2,"upserts":[],
          "deletes":[1,"2"]})",
       "rules_delta.deletes[1] must be a rule id (an integer, 1 or more), "
       "got \"2\""},
      {R"({"type":"rules_delta","base_version":1,"version":2,"deletes":[]})",
       "rules_delta.upserts is missing; expected an array"},
      {R"({"type":"lease_request","seq":-1,"items":[]})",
       "lease_request.seq must be an integer, 0 or more, got -1"},
      {R"({"type":"lease_request","seq":1,"items":[5]})",
       "lease_request.items[0] must be an object, got 5"},
      {R"({"type":"lease_request","seq":1,"items":[{"rule_id":1,
          "values":[],"want":-3,"admitted":0,"refused":0,"unleased":0}]})",
       "lease_request.items[0].want must be an integer, 0 or more, got -3"},
      {R"({"type":"lease_request","seq":1,"items":[{"rule_id":0,
          "values":[],"want":1,"admitted":0,"refused":0,"unleased":0}]})",
       "lease_request.items[0].rule_id must be an integer, 1 or more, got 0"},
      {R"({"type":"lease_request","seq":1,"items":[{"rule_id":1,
          "values":[1],"want":1,"admitted":0,"refused":0,"unleased":0}]})",
       "lease_request.items[0].values[0] must be a string or {\"hex\""},
      {R"({"type":"lease_grant","seq":1,"items":[{"rule_id":1,
          "values":[{"hex":"abc"}],"tokens":1,"ttl_ms":1}]})",
       "lease_grant.items[0].values[0] must be a string or {\"hex\""},
      {R"({"type":"lease_grant","seq":1,"items":[{"rule_id":1,
          "values":[{"hex":"zz"}],"tokens":1,"ttl_ms":1}]})",
       "lease_grant.items[0].values[0] must be a string or {\"hex\""},
      {R"({"type":"lease_grant","seq":1,"items":[{"rule_id":1,
          "values":[],"tokens":1.5,"ttl_ms":1}]})",
       "lease_grant.items[0].tokens must be an integer, 0 or more, got 1.5"},
      {R"({"type":"lease_grant","seq":1,"items":[{"rule_id":1,
          "values":[],"tokens":1}]})",
       "lease_grant.items[0].ttl_ms is missing"},
      {R"({"type":"error"})", "error.message is missing; expected a string"},
  };
  for (const BadCase& c : cases) {
    Status st = DecodeError(c.bytes);
    EXPECT_EQ(st.code(), Status::Code::kInvalidArgument);
    EXPECT_NE(st.message().find(c.expected_part), std::string::npos)
        << c.bytes << "\n"
        << st.message();
  }
}

TEST(WireTest, IgnoresUnknownFieldsForForwardCompatibility) {
  StatusOr<WireMessage> decoded = DecodeWireMessage(
      R"({"type":"heartbeat","rules_version":3,"agents":2,"future":true})");
  ASSERT_TRUE(decoded.ok()) << decoded.status().ToString();
  EXPECT_EQ(std::get<Heartbeat>(*decoded).rules_version, 3);
}

}  // namespace
}  // namespace sluice
