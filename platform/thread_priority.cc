#include "platform/thread_priority.h"

#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <string>

namespace sluice {

Status LowerThisThreadPriority(int steps) {
  if (steps < 0 || steps > 39) {
    return Status::InvalidArgument(
        "a priority is lowered by 0 to 39 nice steps, got " +
        std::to_string(steps));
  }
  if (steps == 0) return Status::Ok();
  // On Linux, PRIO_PROCESS with a thread id reads and sets that thread only.
  const auto tid = static_cast<id_t>(::syscall(SYS_gettid));
  errno = 0;
  const int current = ::getpriority(PRIO_PROCESS, tid);
  if (current == -1 && errno != 0) {
    return Status::FailedPrecondition(
        std::string("could not read this thread's nice value: ") +
        std::strerror(errno));
  }
  const int nice = std::min(19, current + steps);
  if (::setpriority(PRIO_PROCESS, tid, nice) != 0) {
    return Status::FailedPrecondition(
        "could not set this thread's nice value to " + std::to_string(nice) +
        ": " + std::strerror(errno));
  }
  return Status::Ok();
}

}  // namespace sluice
