// RESP2 reply encoding: appends replies to a connection's output buffer.
//
// Allocation-free once the buffer has the capacity (std::string::clear()
// keeps it). Simple strings and errors must not contain CR or LF; callers
// pass text they built, and AppendError replaces any CR/LF that came from
// client input with a space so a reply can never be split.
//
// Pure functions; thread-safe.
#pragma once

#include <charconv>
#include <cstdint>
#include <string>
#include <string_view>

namespace sluice {

inline void AppendRespInteger(std::string* out, int64_t value) {
  char buf[24];
  buf[0] = ':';
  auto res = std::to_chars(buf + 1, buf + sizeof(buf) - 2, value);
  res.ptr[0] = '\r';
  res.ptr[1] = '\n';
  out->append(buf, static_cast<size_t>(res.ptr + 2 - buf));
}

// "*<count>\r\n"; the caller appends `count` elements after it.
inline void AppendRespArrayHeader(std::string* out, int64_t count) {
  char buf[24];
  buf[0] = '*';
  auto res = std::to_chars(buf + 1, buf + sizeof(buf) - 2, count);
  res.ptr[0] = '\r';
  res.ptr[1] = '\n';
  out->append(buf, static_cast<size_t>(res.ptr + 2 - buf));
}

inline void AppendRespBulkString(std::string* out, std::string_view value) {
  char buf[24];
  buf[0] = '$';
  auto res = std::to_chars(buf + 1, buf + sizeof(buf) - 2,
                           static_cast<int64_t>(value.size()));
  res.ptr[0] = '\r';
  res.ptr[1] = '\n';
  out->append(buf, static_cast<size_t>(res.ptr + 2 - buf));
  out->append(value);
  out->append("\r\n", 2);
}

// "$-1\r\n": the null bulk string.
inline void AppendRespNull(std::string* out) { out->append("$-1\r\n", 5); }

// "+<text>\r\n". `text` must not contain CR or LF.
inline void AppendRespSimpleString(std::string* out, std::string_view text) {
  out->push_back('+');
  out->append(text);
  out->append("\r\n", 2);
}

// "-<text>\r\n"; `text` starts with the error code ("ERR ...",
// "NOPROTO ..."). CR and LF in `text` become spaces.
inline void AppendRespError(std::string* out, std::string_view text) {
  out->push_back('-');
  const size_t start = out->size();
  out->append(text);
  for (size_t i = start; i < out->size(); ++i) {
    char& c = (*out)[i];
    if (c == '\r' || c == '\n') c = ' ';
  }
  out->append("\r\n", 2);
}

}  // namespace sluice
