// Bucket keys: the identity of one rule applied to one set of wildcard
// values (rule 7, client_id=42).
//
// Encoded form (an opaque byte string, used as a hash-table key and on the
// wire inside JSON as its parts):
//   8 bytes rule id (little-endian), then for each wildcard key of the rule,
//   in match order: 4-byte little-endian length, then the value bytes.
//
// Pure functions; thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/descriptor.h"
#include "common/rule.h"

namespace sluice {

// Clears *out and writes the key of `rule`'s bucket for descriptor `d`.
// Precondition: `rule` applies to `d` (every match key is present).
// Allocation-free once *out has the capacity.
void BuildBucketKey(const Rule& rule, const Descriptor& d, std::string* out);

// The key from its parts: wildcard values in the rule's match order.
std::string MakeBucketKey(int64_t rule_id,
                          const std::vector<std::string>& wildcard_values);
// The same into *out (cleared first); allocation-free once *out has the
// capacity.
void MakeBucketKey(int64_t rule_id,
                   const std::vector<std::string>& wildcard_values,
                   std::string* out);

// Splits a key into its parts; false if it is not a well-formed key.
bool ParseBucketKey(std::string_view key, int64_t* rule_id,
                    std::vector<std::string>* wildcard_values);

// The rule id of a well-formed key (first 8 bytes).
int64_t BucketKeyRuleId(std::string_view key);

}  // namespace sluice
