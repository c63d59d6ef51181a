// Deadlines that keep a slow client from holding a connection: a body or a
// response may take as long as it needs at HttpLimits::min_bytes_per_second
// or faster, after a grace (header_timeout_ms) for a slow start; a client
// below that average is cut off. Times are milliseconds on any monotonic
// clock, so these are tested without one.
//
// Pure functions; thread-safe.
#pragma once

#include <algorithm>
#include <cstdint>

namespace sluice {

// When more of a body must have arrived, `received` bytes having come since
// `start_ms`: the moment its average rate since the start would fall under
// `min_bytes_per_second` after `grace_ms`, but never more than `grace_ms`
// after `now_ms` (a body that stalls is cut off then, however fast it began).
// May be before `now_ms`: the body is already too slow.
inline int64_t BodyDeadlineMs(int64_t start_ms, uint64_t received,
                              int64_t now_ms, int64_t grace_ms,
                              int64_t min_bytes_per_second) {
  const int64_t earned =
      static_cast<int64_t>(std::min<uint64_t>(received, 1ull << 40) * 1000 /
                           static_cast<uint64_t>(min_bytes_per_second));
  return std::min(start_ms + grace_ms + earned, now_ms + grace_ms);
}

// When a response of `bytes` started at `now_ms` must have been written.
inline int64_t WriteDeadlineMs(int64_t now_ms, uint64_t bytes, int64_t grace_ms,
                               int64_t min_bytes_per_second) {
  return now_ms + grace_ms +
         static_cast<int64_t>(std::min<uint64_t>(bytes, 1ull << 40) * 1000 /
                              static_cast<uint64_t>(min_bytes_per_second));
}

}  // namespace sluice
