// The HTTP check's request target, GET /v1/check/{domain}?cost=N&key=value&...
// parsed into one RL.CHECK: the domain, the cost and the descriptor.
// Pure: no I/O; thread-safe.
//
// Rules (each broken one is a CheckError, 400, saying what was wrong and
// what would be right):
//   - the path is /v1/check/{domain}: one path segment, not empty; any
//     other path is "unknown_path";
//   - the domain, keys and values are percent-decoded (%2F is '/', '+' is a
//     space, as in an HTML form; write %2B for a '+'); a '%' not followed
//     by two hex digits is an error;
//   - `cost` is a whole number from 0 to 2^53 (0 peeks: nothing is taken),
//     1 when absent; given twice is an error. A descriptor key named
//     "cost" therefore cannot be sent through this door;
//   - every other parameter is a key=value pair of the descriptor, in
//     order: at least one (as RL.CHECK), at most kMaxPairs, each key once
//     (RL.CHECK lets the first of a repeated key win; here a repeat is an
//     error, since it is a mistake in a proxy's configuration more often
//     than not), keys not empty, values may be;
//   - the whole target is at most kMaxTargetBytes.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace sluice::http_check {

constexpr size_t kMaxTargetBytes = 4096;
constexpr size_t kMaxPairs = 128;

// One check, decoded.
struct CheckQuery {
  std::string domain;
  int64_t cost = 1;
  std::vector<std::pair<std::string, std::string>> pairs;
};

// A request refused before any check: the HTTP status, a short code for
// programs ("invalid_argument", "unknown_path", ...), a message for people,
// and the parameter at fault ("cost", "domain", a key), if any.
struct CheckError {
  int status = 400;
  std::string code;
  std::string message;
  std::string field;
};

// Parses an origin-form request target ("/v1/check/api?client_id=42").
// True and *out filled, or false and *error filled.
bool ParseCheckTarget(std::string_view target, CheckQuery* out,
                      CheckError* error);

// A printable, bounded copy of client bytes for an error message: printable
// ASCII as is, anything else as '?', cut after 64 bytes with "...".
std::string Quoted(std::string_view bytes);

}  // namespace sluice::http_check
