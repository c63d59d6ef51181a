#include "platform/wake_fd.h"

#include <sys/eventfd.h>
#include <unistd.h>

#include <cstdint>

namespace sluice {

WakeFd::WakeFd() : fd_(eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) {}

WakeFd::~WakeFd() {
  if (fd_ >= 0) close(fd_);
}

void WakeFd::Signal() {
  if (fd_ < 0) return;
  const uint64_t one = 1;
  // Fails only when the counter is about to overflow (it is then readable
  // anyway) or the fd is gone: nothing to do either way.
  ssize_t written = write(fd_, &one, sizeof(one));
  (void)written;
}

void WakeFd::Drain() {
  if (fd_ < 0) return;
  uint64_t count = 0;
  ssize_t got = read(fd_, &count, sizeof(count));  // EAGAIN: nothing to drain
  (void)got;
}

}  // namespace sluice
