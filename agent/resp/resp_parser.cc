#include "agent/resp/resp_parser.h"

#include <algorithm>

namespace sluice {
namespace {

// "*<count>" and "$<len>" lines are short; a longer one is garbage.
constexpr size_t kMaxHeaderLine = 32;
// Offsets are kept as uint32_t.
constexpr size_t kMaxRequestBytesCap = size_t{1} << 30;

// Parses an optionally negative decimal integer of at most 18 digits (no
// '+', no spaces). False if `text` is not one.
bool ParseHeaderInt(std::string_view text, int64_t* out) {
  bool negative = false;
  if (!text.empty() && text[0] == '-') {
    negative = true;
    text.remove_prefix(1);
  }
  if (text.empty() || text.size() > 18) return false;
  int64_t value = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return false;
    value = value * 10 + (c - '0');
  }
  *out = negative ? -value : value;
  return true;
}

// A printable, bounded excerpt of client bytes for an error message.
std::string Excerpt(std::string_view bytes) {
  constexpr size_t kMax = 20;
  std::string out;
  for (size_t i = 0; i < bytes.size() && i < kMax; ++i) {
    unsigned char c = static_cast<unsigned char>(bytes[i]);
    out.push_back(c >= 0x20 && c < 0x7f && c != '\'' ? static_cast<char>(c)
                                                     : '?');
  }
  if (bytes.size() > kMax) out += "...";
  return out;
}

bool IsInlineSpace(char c) { return c == ' ' || c == '\t'; }

}  // namespace

RespParser::RespParser(RespParserOptions options) : options_(options) {
  options_.max_request_bytes =
      std::clamp<size_t>(options_.max_request_bytes, 16, kMaxRequestBytesCap);
  options_.max_args = std::max<size_t>(options_.max_args, 1);
  spans_.reserve(64);
  args_.reserve(64);
}

void RespParser::Reset() {
  phase_ = Phase::kStart;
  start_ = pos_ = scan_ = 0;
  args_total_ = bulk_len_ = 0;
  spans_.clear();
  args_.clear();
  consumed_ = 0;
  failed_ = false;
  error_.clear();
}

RespParser::Result RespParser::Fail(std::string message) {
  failed_ = true;
  error_ = "Protocol error: " + std::move(message);
  args_.clear();
  consumed_ = 0;
  return Result::kError;
}

RespParser::Result RespParser::Incomplete() {
  // Hand skipped empty requests back to the caller and rebase the offsets
  // on the request's first byte.
  consumed_ = start_;
  if (start_ > 0) {
    pos_ -= start_;
    scan_ = scan_ >= start_ ? scan_ - start_ : 0;
    for (Span& span : spans_) span.offset -= static_cast<uint32_t>(start_);
    start_ = 0;
  }
  return Result::kIncomplete;
}

RespParser::Result RespParser::FindHeaderEnd(std::string_view input,
                                             const char* what, size_t* cr) {
  const size_t limit = std::min(input.size(), pos_ + kMaxHeaderLine);
  for (size_t i = pos_ + 1; i < limit; ++i) {
    if (input[i] != '\r') continue;
    if (i + 1 >= input.size()) return Result::kIncomplete;
    if (input[i + 1] != '\n') {
      return Fail(std::string(what) + " line '" +
                  Excerpt(input.substr(pos_, i - pos_)) +
                  "' is followed by CR without LF: end it with CRLF");
    }
    *cr = i;
    return Result::kRequest;
  }
  if (limit == pos_ + kMaxHeaderLine) {
    return Fail(std::string(what) + " line '" +
                Excerpt(input.substr(pos_, kMaxHeaderLine)) +
                "' is too long: expected a number of at most 18 digits "
                "then CRLF");
  }
  return Result::kIncomplete;
}

namespace {

// Reads "<digits>\r\n" at *p (before `end`): at most 9 digits, no sign.
// Advances *p past the CRLF. False when it is not that (the state machine
// then decides what it is).
inline bool ReadSmallNumber(const char** p, const char* end, size_t* out) {
  const char* q = *p;
  // One or two digits, the usual case, without a loop.
  if (end - q >= 4) {
    const unsigned d0 = static_cast<unsigned char>(q[0]) - '0';
    const unsigned d1 = static_cast<unsigned char>(q[1]) - '0';
    if (d0 <= 9 && q[1] == '\r' && q[2] == '\n') {
      *out = d0;
      *p = q + 3;
      return true;
    }
    if (d0 <= 9 && d1 <= 9 && q[2] == '\r' && q[3] == '\n') {
      *out = d0 * 10 + d1;
      *p = q + 4;
      return true;
    }
  }
  constexpr size_t kMaxDigits = 9;
  size_t value = 0;
  const char* digits = q;
  while (q < end && *q >= '0' && *q <= '9') {
    value = value * 10 + static_cast<size_t>(*q - '0');
    if (static_cast<size_t>(++q - digits) > kMaxDigits) return false;
  }
  if (q == digits || end - q < 2 || q[0] != '\r' || q[1] != '\n') {
    return false;
  }
  *out = value;
  *p = q + 2;
  return true;
}

}  // namespace

bool RespParser::ParseWhole(std::string_view input) {
  const char* const begin = input.data();
  const char* const end = begin + input.size();
  const char* p = begin + 1;  // after '*'
  size_t count = 0;
  if (!ReadSmallNumber(&p, end, &count)) return false;
  if (count == 0 || count > options_.max_args) return false;
  args_.clear();
  for (size_t i = 0; i < count; ++i) {
    if (p >= end || *p != '$') return false;
    ++p;
    size_t len = 0;
    if (!ReadSmallNumber(&p, end, &len)) return false;
    if (static_cast<size_t>(end - p) < len + 2 || p[len] != '\r' ||
        p[len + 1] != '\n') {
      return false;
    }
    args_.emplace_back(p, len);
    p += len + 2;
  }
  // The state machine's bound: the request, framing included, within
  // max_request_bytes. (Checked once: the size only grows, so every
  // prefix is within it too.)
  if (static_cast<size_t>(p - begin) > options_.max_request_bytes) {
    return false;
  }
  consumed_ = static_cast<size_t>(p - begin);
  return true;
}

// Longer than the functions around it on purpose: this is the parser's
// state machine, one switch over the phases of a request in a loop. A
// request may stop (incomplete) in any phase and the next call resumes
// there; each case hands over to the next phase in a few lines. Cut into a
// function per phase, each would return "next phase / incomplete / error /
// done" to a loop that dispatches again: the same lines, with the flow
// between the phases no longer in one place.
RespParser::Result RespParser::Next(std::string_view input) {
  if (failed_) return Result::kError;
  consumed_ = 0;
  // The common case: a whole multibulk request at the start of the input.
  if (phase_ == Phase::kStart && pos_ == 0 && !input.empty() &&
      input[0] == '*' && ParseWhole(input)) {
    return Result::kRequest;
  }
  for (;;) {
    switch (phase_) {
      case Phase::kStart: {
        if (pos_ >= input.size()) return Incomplete();
        if (input[pos_] != '*') {
          phase_ = Phase::kInline;
          scan_ = pos_;
          break;
        }
        size_t cr = 0;
        Result r = FindHeaderEnd(input, "multibulk count", &cr);
        if (r != Result::kRequest) {
          return r == Result::kIncomplete ? Incomplete() : r;
        }
        std::string_view digits = input.substr(pos_ + 1, cr - pos_ - 1);
        int64_t count = 0;
        if (!ParseHeaderInt(digits, &count) || count < -1) {
          return Fail("invalid multibulk length '" + Excerpt(digits) +
                      "': expected '*<count>' with a count from 0 to " +
                      std::to_string(options_.max_args));
        }
        if (count > static_cast<int64_t>(options_.max_args)) {
          return Fail("too many arguments in one request (" +
                      std::to_string(count) + "): the limit is " +
                      std::to_string(options_.max_args));
        }
        pos_ = cr + 2;
        if (count <= 0) {  // "*0" and "*-1": an empty request, skipped
          start_ = pos_;
          break;
        }
        args_total_ = count;
        spans_.clear();
        phase_ = Phase::kBulkHeader;
        break;
      }
      case Phase::kBulkHeader: {
        if (pos_ >= input.size()) return Incomplete();
        if (input[pos_] != '$') {
          return Fail("expected '$' before argument " +
                      std::to_string(spans_.size() + 1) +
                      " of a multibulk request, got '" +
                      Excerpt(input.substr(pos_, 1)) + "'");
        }
        size_t cr = 0;
        Result r = FindHeaderEnd(input, "bulk length", &cr);
        if (r != Result::kRequest) {
          return r == Result::kIncomplete ? Incomplete() : r;
        }
        std::string_view digits = input.substr(pos_ + 1, cr - pos_ - 1);
        int64_t len = 0;
        if (!ParseHeaderInt(digits, &len) || len < 0) {
          return Fail("invalid bulk length '" + Excerpt(digits) +
                      "': expected '$<length>' with a length from 0 to " +
                      std::to_string(options_.max_request_bytes));
        }
        const size_t data_start = cr + 2;
        // Checked before adding so that a huge len cannot overflow.
        if (static_cast<uint64_t>(len) >
            options_.max_request_bytes -
                std::min(options_.max_request_bytes, data_start - start_ + 2)) {
          return Fail("request larger than the limit of " +
                      std::to_string(options_.max_request_bytes) +
                      " bytes (an argument of " + std::to_string(len) +
                      " bytes was announced)");
        }
        bulk_len_ = len;
        pos_ = data_start;
        phase_ = Phase::kBulkData;
        break;
      }
      case Phase::kBulkData: {
        const size_t len = static_cast<size_t>(bulk_len_);
        if (input.size() < pos_ + len + 2) return Incomplete();
        if (input[pos_ + len] != '\r' || input[pos_ + len + 1] != '\n') {
          return Fail("argument " + std::to_string(spans_.size() + 1) +
                      " is not followed by CRLF after its " +
                      std::to_string(len) +
                      " announced bytes: send exactly the announced length");
        }
        spans_.push_back(
            Span{static_cast<uint32_t>(pos_), static_cast<uint32_t>(len)});
        pos_ += len + 2;
        if (static_cast<int64_t>(spans_.size()) == args_total_) {
          return Finish(input, pos_);
        }
        phase_ = Phase::kBulkHeader;
        break;
      }
      case Phase::kInline: {
        Result r = ParseInline(input);
        if (r == Result::kIncomplete) return Incomplete();
        if (r == Result::kError) return r;
        if (!spans_.empty()) return Finish(input, pos_);
        // An empty line: skipped.
        start_ = pos_;
        phase_ = Phase::kStart;
        break;
      }
    }
  }
}

RespParser::Result RespParser::ParseInline(std::string_view input) {
  const size_t limit =
      std::min(input.size(), start_ + options_.max_request_bytes);
  size_t newline = std::string_view::npos;
  for (size_t i = scan_; i < limit; ++i) {
    if (input[i] == '\n') {
      newline = i;
      break;
    }
  }
  if (newline == std::string_view::npos) {
    if (limit - start_ >= options_.max_request_bytes) {
      return Fail("inline request longer than the limit of " +
                  std::to_string(options_.max_request_bytes) +
                  " bytes without a line end: end inline requests with "
                  "LF, or send a multibulk ('*<count>') request");
    }
    scan_ = limit;
    return Result::kIncomplete;
  }
  size_t end = newline;
  if (end > pos_ && input[end - 1] == '\r') --end;
  spans_.clear();
  size_t i = pos_;
  while (i < end) {
    while (i < end && IsInlineSpace(input[i])) ++i;
    if (i >= end) break;
    if (spans_.size() >= options_.max_args) {
      return Fail("too many arguments in one inline request: the limit is " +
                  std::to_string(options_.max_args));
    }
    const char quote = input[i];
    if (quote == '"' || quote == '\'') {
      const size_t open = i + 1;
      size_t close = open;
      while (close < end && input[close] != quote) ++close;
      if (close >= end) {
        return Fail(
            "unbalanced quotes in inline request: close each quoted word "
            "with the same quote");
      }
      if (close + 1 < end && !IsInlineSpace(input[close + 1])) {
        return Fail(
            "a closing quote in an inline request must be followed by a "
            "space or the line end");
      }
      spans_.push_back(Span{static_cast<uint32_t>(open),
                            static_cast<uint32_t>(close - open)});
      i = close + 1;
    } else {
      const size_t word = i;
      while (i < end && !IsInlineSpace(input[i])) ++i;
      spans_.push_back(
          Span{static_cast<uint32_t>(word), static_cast<uint32_t>(i - word)});
    }
  }
  pos_ = newline + 1;
  scan_ = pos_;
  return Result::kRequest;
}

RespParser::Result RespParser::Finish(std::string_view input, size_t end) {
  args_.clear();
  for (const Span& span : spans_) {
    args_.push_back(input.substr(span.offset, span.size));
  }
  consumed_ = end;
  phase_ = Phase::kStart;
  start_ = pos_ = scan_ = 0;
  spans_.clear();
  return Result::kRequest;
}

}  // namespace sluice
