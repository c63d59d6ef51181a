// libFuzzer target for the core's JSON readers: arbitrary bytes decoded as
// an agent <-> controller wire message (common/wire.h) and, when they are
// JSON, read as a rule (common/rule_json.h). common/ is compiled as in the
// daemons, without exceptions (common/CMakeLists.txt): nlohmann_json
// aborts where it would throw, so any access the core makes without
// checking first is a crash here.
//
// Checked for every input:
//   1. DecodeWireMessage answers (a message or an error), never aborts.
//   2. A decoded message encodes to bytes that decode again to a message
//      encoding to the same bytes.
//   3. The generic decoder agrees with DecodeWireMessage (which tries the
//      fast lease codec first): both accept or both refuse, and what they
//      accept encodes the same.
//   4. Read as a rule, RuleFromJson succeeds exactly when RuleJsonProblems
//      finds nothing, and fails with the first problem it lists; a rule
//      read passes ValidateRule and survives RuleToJson and back unchanged.
// Byte mutations rarely turn a well-formed field into one of another type,
// so when the input is a small JSON document, 1 to 4 are also checked on
// every variant that puts a value of another type (null, a boolean, an
// integer, a float, a string, an array, an object) in place of one of its
// values: every field of every message and rule meets every type.
#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "common/rule_json.h"
#include "common/wire.h"
#include "common/wire_lease_codec.h"
#include "tests/fuzz/fuzz_check.h"

namespace sluice {
namespace {

void CheckWire(std::string_view bytes) {
  StatusOr<WireMessage> decoded = DecodeWireMessage(bytes);
  StatusOr<WireMessage> generic =
      wire_internal::DecodeWireMessageGeneric(bytes);
  FUZZ_CHECK(decoded.ok() == generic.ok());
  if (!decoded.ok()) {
    FUZZ_CHECK(!decoded.status().message().empty());
    return;
  }
  const std::string encoded = EncodeWireMessage(*decoded);
  FUZZ_CHECK(EncodeWireMessage(*generic) == encoded);
  StatusOr<WireMessage> again = DecodeWireMessage(encoded);
  FUZZ_CHECK(again.ok());
  FUZZ_CHECK(EncodeWireMessage(*again) == encoded);
}

void CheckRule(std::string_view bytes) {
  const nlohmann::json j =
      nlohmann::json::parse(bytes.begin(), bytes.end(), nullptr,
                            /*allow_exceptions=*/false);
  if (j.is_discarded()) return;
  const std::vector<Status> problems = RuleJsonProblems(j);
  StatusOr<Rule> rule = RuleFromJson(j);
  FUZZ_CHECK(rule.ok() == problems.empty());
  if (!rule.ok()) {
    FUZZ_CHECK(rule.status().ToString() == problems.front().ToString());
    return;
  }
  FUZZ_CHECK(ValidateRule(*rule).ok());
  StatusOr<Rule> again = RuleFromJson(RuleToJson(*rule));
  FUZZ_CHECK(again.ok());
  FUZZ_CHECK(*again == *rule);
}

void Check(std::string_view bytes) {
  CheckWire(bytes);
  CheckRule(bytes);
}

// The values of `j` in post-order (children before their parent), at most
// `max` of them; false when there are more.
bool CollectPostOrder(nlohmann::json* j, size_t max,
                      std::vector<nlohmann::json*>* out) {
  if (j->is_structured()) {
    for (auto& child : *j) {
      if (!CollectPostOrder(&child, max, out)) return false;
    }
  }
  out->push_back(j);
  return out->size() <= max;
}

// Checks every variant of `root` with one value replaced by one of another
// type. Post-order keeps the pointers valid: a value is replaced and put
// back only after all of its children were visited.
void CheckTypeSwaps(nlohmann::json root) {
  constexpr size_t kMaxValues = 24;
  std::vector<nlohmann::json*> values;
  if (!CollectPostOrder(&root, kMaxValues, &values)) return;
  const nlohmann::json kOthers[] = {nullptr,
                                    true,
                                    -1,
                                    18446744073709551615u,
                                    0.5,
                                    "x",
                                    nlohmann::json::array({1}),
                                    nlohmann::json::object({{"hex", 1}})};
  for (nlohmann::json* value : values) {
    const nlohmann::json saved = *value;
    for (const nlohmann::json& other : kOthers) {
      if (other.type() == saved.type()) continue;
      *value = other;
      Check(root.dump());
    }
    *value = saved;
  }
}

}  // namespace
}  // namespace sluice

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  sluice::Check(bytes);
  nlohmann::json j = nlohmann::json::parse(bytes.begin(), bytes.end(), nullptr,
                                           /*allow_exceptions=*/false);
  if (!j.is_discarded() && j.is_structured()) {
    sluice::CheckTypeSwaps(std::move(j));
  }
  return 0;
}
