// RespParser: an incremental parser for RESP2 requests, as Redis clients send
// them, that yields each request's arguments as string_views into the
// caller's buffer (no copy).
//
// Accepted forms (what Redis itself accepts from clients):
//   - multibulk: "*<n>\r\n" then n bulk strings "$<len>\r\n<len bytes>\r\n".
//     "*0" and "*-1" are empty requests and are skipped.
//   - inline: a line of words separated by spaces or tabs, ended by "\n"
//     (an optional "\r" before it is dropped), as typed into telnet or sent
//     by redis-cli/redis-benchmark for some commands. A word may be quoted
//     with "..." or '...' to hold spaces; no escapes are interpreted inside
//     quotes. Empty lines are skipped.
//
// Limits (RespParserOptions): a request larger than max_request_bytes, or
// with more than max_args arguments, is a protocol error, detected as soon
// as its header announces it ("$999999999999", "*100000000") rather than
// after buffering it. Defaults: 64 KiB per request and 4096 arguments. An
// RL.CHECK with 100 descriptor pairs of 100-byte values is about 21 KiB, so
// 64 KiB leaves room for any sane check while bounding what one connection
// can make the agent buffer.
//
// Usage: the caller keeps the not-yet-consumed bytes contiguous and passes
// them, starting at the first unconsumed byte, to Next(). After every call
// the caller drops the first consumed() bytes:
//   - kRequest: args() holds the request's arguments (at least one; empty
//     requests are skipped); consumed() covers the request and any empty
//     requests before it.
//   - kIncomplete: consumed() covers only skipped empty requests (often 0).
//     Call Next() again once more bytes have been appended; the buffer may
//     have moved (the parser keeps offsets, not pointers), but the bytes
//     already seen must be passed again, unchanged, at the start.
//   - kError: error() says what was wrong and what was expected. The stream
//     cannot be resynchronised: close the connection. Next() keeps
//     returning kError until Reset().
//
// Allocation: none once args() has grown to the largest argument count seen
// (room for 64 is reserved up front); only error() allocates.
//
// Thread-compatible: one parser per connection.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace sluice {

struct RespParserOptions {
  // Bytes in one request, framing included. Default 64 KiB.
  size_t max_request_bytes = 64 * 1024;
  // Arguments in one request. Default 4096.
  size_t max_args = 4096;
};

class RespParser {
 public:
  enum class Result { kRequest, kIncomplete, kError };

  explicit RespParser(RespParserOptions options = {});

  // Parses the next request from `input` (see the header comment).
  Result Next(std::string_view input);

  // After kRequest: the arguments (at least one), views into the `input`
  // given to Next(). Valid until that buffer changes.
  const std::vector<std::string_view>& args() const { return args_; }
  // After any result: bytes at the start of `input` to drop.
  size_t consumed() const { return consumed_; }
  // After kError: what was wrong and what was expected, one line without CR
  // or LF, e.g. "Protocol error: invalid bulk length '-5': expected ...".
  std::string_view error() const { return error_; }

  // Forgets a partially parsed request (after the caller drops its buffer).
  void Reset();

  const RespParserOptions& options() const { return options_; }

 private:
  enum class Phase {
    kStart,       // at the first byte of a request
    kBulkHeader,  // expecting "$<len>\r\n" of argument args_done_
    kBulkData,    // expecting bulk_len_ bytes and "\r\n"
    kInline,      // scanning for the end of an inline line
  };
  struct Span {
    uint32_t offset;
    uint32_t size;
  };

  // A whole, well-formed multibulk request at the start of `input` (which
  // starts with '*'), parsed straight into args_ and consumed_. False when
  // it is incomplete, malformed, over a limit or unusual (long numbers,
  // "*0"): the state machine then parses it from the start and reports
  // any error. Same results as the state machine whenever it is true.
  bool ParseWhole(std::string_view input);
  Result Fail(std::string message);
  // Looks for the "\r\n" ending a header line ("*3", "$5") that starts at
  // pos_. Returns kRequest with *cr set when found, kIncomplete, or kError
  // (line too long, or '\r' not followed by '\n').
  Result FindHeaderEnd(std::string_view input, const char* what, size_t* cr);
  Result ParseInline(std::string_view input);
  Result Finish(std::string_view input, size_t end);
  Result Incomplete();

  RespParserOptions options_;
  Phase phase_ = Phase::kStart;
  // Offsets into the current input. Invariant: start_ <= pos_ <= scan_
  // (scan_ is used by kInline only), and every span lies in [start_, pos_).
  size_t start_ = 0;        // first byte of the current request
  size_t pos_ = 0;          // parse cursor
  size_t scan_ = 0;         // where to resume looking for an inline line's end
  int64_t args_total_ = 0;  // arguments announced by "*<n>"
  int64_t bulk_len_ = 0;    // length announced by the current "$<len>"
  std::vector<Span> spans_;
  std::vector<std::string_view> args_;
  size_t consumed_ = 0;
  bool failed_ = false;
  std::string error_;
};

}  // namespace sluice
