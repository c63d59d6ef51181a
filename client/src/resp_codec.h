// The client's side of RL.CHECK in RESP2: the request as an array of bulk
// strings, and a parser for exactly the replies RL.CHECK has, `*5` of
// integers or an `-ERR` line. Anything else is malformed: the client does
// not speak general RESP, which keeps a check free of allocations.
//
// Pure functions; thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "sluice/client.h"

namespace sluice::client::internal {

// Appends `RL.CHECK domain cost key value ...` to *out.
void AppendCheck(std::string_view domain, int64_t cost, const Entry* entries,
                 size_t count, std::string* out);

enum class ParseResult { kReply, kNeedMore, kMalformed };

struct CheckReply {
  bool is_error = false;
  int64_t values[5] = {0, 0, 0, 0, 0};  // when !is_error
  std::string_view error;               // the -ERR text, a view into the input
};

// Longest -ERR line accepted (the agent's are under 200 bytes).
constexpr size_t kMaxErrorLine = 4096;

// Parses the reply at the start of `data`. kReply: *reply is set and
// *consumed says how many bytes it took. kNeedMore: `data` holds the start
// of a well-formed reply. kMalformed: *problem says what was wrong.
ParseResult ParseCheckReply(std::string_view data, CheckReply* reply,
                            size_t* consumed, std::string* problem);

}  // namespace sluice::client::internal
