// IfMatch: the If-Match precondition of a request (RFC 9110 13.1.1) against
// an integer version, and the ETag that names a version.
//
// An ETag is the version in quotes: "3" for a rule at version 3 (the
// config's ETag is its revision). If-Match may be "*" (any current
// version) or a comma-separated list of entity tags; a weak tag (W/"3") is
// accepted like the strong one, since a proxy may have weakened it and the
// version is exact either way.
//
// Stores take an IfMatch and check it inside their transaction, after
// locking the row, so a concurrent change cannot slip in between.
//
// Plain value; thread-compatible. Pure (no I/O).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace sluice {

class IfMatch {
 public:
  // No condition: Allows() everything.
  IfMatch() = default;

  // "" is no condition. InvalidArgument (field "If-Match") for a header
  // that is not "*" or a list of quoted entity tags.
  static StatusOr<IfMatch> Parse(std::string_view header);

  // The ETag header value for `version`: "\"3\"".
  static std::string ETag(int64_t version);

  bool unconditional() const { return !present_; }
  // Whether the object at `version` meets the condition.
  bool Allows(int64_t version) const;

  // What stores return when Allows(current) is false: FailedPrecondition
  // whose message starts with kStalePrefix. `what` names the object
  // ("rule 7", "the rule set").
  Status Stale(const std::string& what, int64_t current) const;
  // Whether `status` came from Stale() (the API answers 412 rather than the
  // 409 of other FailedPreconditions; common/status.h has no code of its
  // own for it).
  static bool IsStale(const Status& status);
  static constexpr std::string_view kStalePrefix = "precondition failed: ";

 private:
  bool present_ = false;
  bool any_ = false;
  std::vector<std::string> tags_;  // the opaque tags, without quotes
  std::string header_;
};

}  // namespace sluice
