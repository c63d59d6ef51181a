#include "controller/if_match.h"

#include <utility>

namespace sluice {
namespace {

Status Malformed(std::string_view header) {
  return Status::InvalidArgument(
      "If-Match '" + std::string(header) +
          "' is not a list of entity tags; send the ETag of the version you "
          "read, quotes included (If-Match: \"3\"), or * for any version",
      "If-Match");
}

bool IsSpace(char c) { return c == ' ' || c == '\t'; }

}  // namespace

StatusOr<IfMatch> IfMatch::Parse(std::string_view header) {
  IfMatch result;
  size_t pos = 0;
  auto skip_space = [&] {
    while (pos < header.size() && IsSpace(header[pos])) ++pos;
  };
  skip_space();
  if (pos == header.size()) return result;  // absent or blank
  result.present_ = true;
  result.header_ = std::string(header);
  if (header.substr(pos) == "*" ||
      (header[pos] == '*' &&
       header.find_first_not_of(" \t", pos + 1) == std::string_view::npos)) {
    result.any_ = true;
    return result;
  }
  for (;;) {
    skip_space();
    if (header.substr(pos, 2) == "W/") pos += 2;
    if (pos >= header.size() || header[pos] != '"') return Malformed(header);
    size_t close = header.find('"', pos + 1);
    if (close == std::string_view::npos) return Malformed(header);
    result.tags_.emplace_back(header.substr(pos + 1, close - pos - 1));
    pos = close + 1;
    skip_space();
    if (pos == header.size()) break;
    if (header[pos] != ',') return Malformed(header);
    ++pos;
  }
  return result;
}

std::string IfMatch::ETag(int64_t version) {
  return "\"" + std::to_string(version) + "\"";
}

bool IfMatch::Allows(int64_t version) const {
  if (!present_ || any_) return true;
  const std::string wanted = std::to_string(version);
  for (const std::string& tag : tags_) {
    if (tag == wanted) return true;
  }
  return false;
}

Status IfMatch::Stale(const std::string& what, int64_t current) const {
  return Status::FailedPrecondition(
      std::string(kStalePrefix) + "If-Match " + header_ + " does not match " +
      what + ", which is now at ETag " + ETag(current) +
      ": someone changed it since you read it. Read it again, reapply your "
      "change, and send the new ETag");
}

bool IfMatch::IsStale(const Status& status) {
  return status.code() == Status::Code::kFailedPrecondition &&
         status.message().rfind(kStalePrefix, 0) == 0;
}

}  // namespace sluice
