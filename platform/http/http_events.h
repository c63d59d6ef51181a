// HttpEvents: what an HttpServer did to clients that broke its limits
// (connections refused, timed out, requests refused), logged without
// letting a flood of them flood the log: the first of a kind at once, then
// at most one line per kind every 10 s with the count since the last line
// and the last client address.
//
// Thread-safe.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>

namespace sluice {

enum class HttpEvent {
  kTooManyConnections,            // over max_connections
  kTooManyConnectionsFromClient,  // over max_connections_per_client
  kHeaderTimeout,                 // header (or TLS handshake) too slow
  kBodyTooSlow,                   // body under the minimum rate
  kResponseNotRead,               // response not read at the minimum rate
  kMalformed,                     // 400
  kHeaderTooLarge,                // 414, 431
  kBodyTooLarge,                  // 413
  kAcceptFailed,                  // accept() failed (file descriptors?)
  kCount
};

class HttpEvents {
 public:
  void Note(HttpEvent event, const std::string& client);

 private:
  struct Tally {
    uint64_t since_log = 0;
    std::chrono::steady_clock::time_point last_log{};
    bool logged = false;
  };
  std::mutex mu_;
  std::array<Tally, static_cast<size_t>(HttpEvent::kCount)> tallies_;
};

}  // namespace sluice
