#include "platform/http/http_events.h"

#include "platform/log.h"

namespace sluice {
namespace {

constexpr std::chrono::seconds kLogEvery(10);

const char* Describe(HttpEvent event) {
  switch (event) {
    case HttpEvent::kTooManyConnections:
      return "connections refused with 503: the server holds its maximum "
             "of connections";
    case HttpEvent::kTooManyConnectionsFromClient:
      return "connections refused with 503: their address holds its "
             "maximum of connections";
    case HttpEvent::kHeaderTimeout:
      return "connections closed: no complete request header (or TLS "
             "handshake) in time";
    case HttpEvent::kBodyTooSlow:
      return "connections closed: a request body arrived under the minimum "
             "rate";
    case HttpEvent::kResponseNotRead:
      return "connections closed: a response was not read at the minimum "
             "rate";
    case HttpEvent::kMalformed:
      return "requests refused with 400: malformed HTTP";
    case HttpEvent::kHeaderTooLarge:
      return "requests refused with 414/431: header or target too long";
    case HttpEvent::kBodyTooLarge:
      return "requests refused with 413: body too large";
    case HttpEvent::kAcceptFailed:
      return "accepts failed (out of file descriptors?), retrying in 100 ms";
    case HttpEvent::kCount:
      break;
  }
  return "events";
}

}  // namespace

void HttpEvents::Note(HttpEvent event, const std::string& client) {
  const auto now = std::chrono::steady_clock::now();
  uint64_t count = 0;
  {
    std::lock_guard<std::mutex> lock(mu_);
    Tally& tally = tallies_[static_cast<size_t>(event)];
    ++tally.since_log;
    if (tally.logged && now - tally.last_log < kLogEvery) return;
    count = tally.since_log;
    tally.since_log = 0;
    tally.last_log = now;
    tally.logged = true;
  }
  LogWarn("http", std::to_string(count) + " " + Describe(event) +
                      " (the last from " + client +
                      "); see docs/operations.md, limits of the REST API");
}

}  // namespace sluice
