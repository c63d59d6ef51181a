// syscall_cost: what one system call costs on this host, the floor under
// every request a server answers (a read, a write and a share of a wait).
// Times a million getppid() calls (no work in the kernel but the call
// itself) and prints the mean in nanoseconds. On bare metal this is tens
// of nanoseconds; under some hypervisors it is over a microsecond, and then
// the number of calls per request, not the work between them, decides a
// server's CPU per request (docs/performance.md).
//
//   syscall_cost [CALLS]
#include <sys/syscall.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>

int main(int argc, char** argv) {
  const long calls = argc > 1 ? std::atol(argv[1]) : 1000000;
  if (calls <= 0) {
    std::fprintf(stderr, "usage: syscall_cost [CALLS], CALLS > 0\n");
    return 2;
  }
  const auto start = std::chrono::steady_clock::now();
  for (long i = 0; i < calls; ++i) ::syscall(SYS_getppid);
  const std::chrono::duration<double, std::nano> took =
      std::chrono::steady_clock::now() - start;
  std::printf("%.0f\n", took.count() / static_cast<double>(calls));
  return 0;
}
