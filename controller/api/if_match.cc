#include "controller/api/if_match.h"

#include <utility>
#include <vector>

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

// The version an entity tag names, or -1 when it names none.
int64_t TagVersion(std::string_view tag) {
  if (tag.empty() || tag.size() > 18) return -1;
  int64_t version = 0;
  for (char c : tag) {
    if (c < '0' || c > '9') return -1;
    version = version * 10 + (c - '0');
  }
  return version;
}

}  // namespace

StatusOr<VersionCondition> IfMatch::Parse(std::string_view header) {
  size_t pos = 0;
  auto skip_space = [&] {
    while (pos < header.size() && IsSpace(header[pos])) ++pos;
  };
  skip_space();
  if (pos == header.size()) return VersionCondition();  // absent or blank
  if (header[pos] == '*' &&
      header.find_first_not_of(" \t", pos + 1) == std::string_view::npos) {
    return VersionCondition();
  }
  std::vector<int64_t> versions;
  for (;;) {
    skip_space();
    if (header.substr(pos, 2) == "W/") pos += 2;
    if (pos >= header.size() || header[pos] != '"') return Malformed(header);
    size_t close = header.find('"', pos + 1);
    if (close == std::string_view::npos) return Malformed(header);
    int64_t version = TagVersion(header.substr(pos + 1, close - pos - 1));
    if (version >= 0) versions.push_back(version);
    pos = close + 1;
    skip_space();
    if (pos == header.size()) break;
    if (header[pos] != ',') return Malformed(header);
    ++pos;
  }
  return VersionCondition::OneOf(std::move(versions),
                                 "If-Match " + std::string(header));
}

std::string IfMatch::ETag(int64_t version) {
  return "\"" + std::to_string(version) + "\"";
}

}  // namespace sluice
