#include "platform/file_limit.h"

#include <sys/resource.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <string>

namespace sluice {

StatusOr<FileLimit> RaiseFileLimit() {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0) {
    return Status::Internal(std::string("getrlimit(RLIMIT_NOFILE): ") +
                            std::strerror(errno));
  }
  FileLimit out;
  out.before = limit.rlim_cur;
  out.hard = limit.rlim_max;
  // Linux caps descriptors at fs.nr_open (2^20 by default) whatever the
  // hard limit says; "unlimited" means that.
  constexpr rlim_t kNrOpen = 1 << 20;
  const rlim_t target =
      limit.rlim_max == RLIM_INFINITY ? kNrOpen : limit.rlim_max;
  if (limit.rlim_cur < target) {
    limit.rlim_cur = target;
    if (setrlimit(RLIMIT_NOFILE, &limit) != 0) {
      return Status::Internal(std::string("setrlimit(RLIMIT_NOFILE) to ") +
                              std::to_string(target) + ": " +
                              std::strerror(errno));
    }
  }
  out.soft = limit.rlim_cur;
  return out;
}

size_t ConnectionsWithin(uint64_t soft, size_t wanted, size_t reserve) {
  if (soft <= reserve + 1) return 1;
  return static_cast<size_t>(
      std::min<uint64_t>(wanted, soft - static_cast<uint64_t>(reserve)));
}

}  // namespace sluice
