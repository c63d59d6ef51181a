#include "agent/check/owner_map.h"

#include <utility>

namespace sluice {

OwnerMap::OwnerMap(Ownership ownership, std::vector<int> member_connection,
                   std::vector<bool> reachable)
    : ownership_(std::move(ownership)),
      connection_reachable_(std::move(reachable)) {
  for (int c = 0; c < connection_count(); ++c) {
    if (connection_reachable_[c]) {
      fallback_ = c;
      break;
    }
  }
  if (ownership_.empty()) {
    all_ = any_ = fallback_ >= 0;
    return;
  }
  const size_t members = ownership_.set().members.size();
  member_connection_.assign(members, -1);
  all_ = true;
  for (size_t i = 0; i < members; ++i) {
    const int c = i < member_connection.size() ? member_connection[i] : -1;
    if (connection_reachable(c)) {
      member_connection_[i] = c;
      any_ = true;
    } else {
      all_ = false;
    }
  }
}

int OwnerMap::Route(std::string_view bucket_key) const {
  if (ownership_.empty()) return fallback_;
  const int owner = ownership_.Owner(StableHash(bucket_key));
  return owner < 0 ? -1 : member_connection_[static_cast<size_t>(owner)];
}

}  // namespace sluice
