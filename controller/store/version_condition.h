// VersionCondition: the versions of an object that a change may apply to,
// checked by a store inside its transaction after locking the row, so a
// concurrent change cannot slip in between (optimistic concurrency).
//
// The default condition allows any version. OneOf() allows only the listed
// versions; an empty list allows none. The REST API builds one from an
// If-Match header (controller/api/if_match.h); stores know nothing of HTTP.
//
// Plain value; thread-compatible. Pure (no I/O).
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "common/status.h"

namespace sluice {

class VersionCondition {
 public:
  VersionCondition() = default;  // any version

  // `source` says where the condition came from, for the error message
  // ("If-Match \"3\"").
  static VersionCondition OneOf(std::vector<int64_t> versions,
                                std::string source) {
    VersionCondition condition;
    condition.any_ = false;
    condition.versions_ = std::move(versions);
    condition.source_ = std::move(source);
    return condition;
  }

  bool Allows(int64_t version) const {
    if (any_) return true;
    for (int64_t allowed : versions_) {
      if (allowed == version) return true;
    }
    return false;
  }

  // What a store returns when Allows(current) is false: Aborted, naming the
  // object (`what`: "rule 7", "the rule set") and its current version.
  Status Stale(const std::string& what, int64_t current) const {
    return Status::Aborted(
        source_ + " does not match " + what + ", which is now at version " +
        std::to_string(current) +
        ": someone changed it since you read it. Read it again, reapply your "
        "change, and send the new version (ETag)");
  }

 private:
  bool any_ = true;
  std::vector<int64_t> versions_;
  std::string source_;
};

}  // namespace sluice
