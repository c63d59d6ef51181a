// IfMatch: the If-Match precondition of a request (RFC 9110 13.1.1) and the
// ETag that names a version.
//
// An ETag is the version in quotes: "3" for a rule at version 3 (the
// config's ETag is its revision). If-Match may be "*" (any current
// version) or a comma-separated list of entity tags; a weak tag (W/"3") is
// accepted like the strong one, since a proxy may have weakened it and the
// version is exact either way. A tag that is not a version matches nothing.
//
// Parse() turns the header into the VersionCondition that stores check
// inside their transaction; a stale condition comes back as Aborted, which
// the API answers with 412.
//
// Pure (no I/O); stateless.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "common/status.h"
#include "controller/store/version_condition.h"

namespace sluice {

class IfMatch {
 public:
  // "" (or blank) is no condition: any version. InvalidArgument (field
  // "If-Match") for a header that is not "*" or a list of quoted entity
  // tags.
  static StatusOr<VersionCondition> Parse(std::string_view header);

  // The ETag header value for `version`: "\"3\"".
  static std::string ETag(int64_t version);
};

}  // namespace sluice
