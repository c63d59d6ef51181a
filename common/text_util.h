// Small text helpers for the core's error messages and encodings.
//
// Internal to common/ (not part of its public API). Pure functions;
// thread-safe.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace sluice {
namespace text {

// The length of the well-formed UTF-8 sequence starting at text[i] (1 for
// ASCII), or 0 if none starts there (no overlong forms, no surrogates,
// nothing above U+10FFFF).
inline size_t Utf8SequenceLength(std::string_view text, size_t i) {
  unsigned char c = static_cast<unsigned char>(text[i]);
  if (c < 0x80) return 1;
  size_t len;
  unsigned char lo = 0x80, hi = 0xbf;  // range of the second byte
  if (c >= 0xc2 && c <= 0xdf) {
    len = 2;
  } else if (c == 0xe0) {
    len = 3;
    lo = 0xa0;
  } else if ((c >= 0xe1 && c <= 0xec) || c == 0xee || c == 0xef) {
    len = 3;
  } else if (c == 0xed) {
    len = 3;
    hi = 0x9f;
  } else if (c == 0xf0) {
    len = 4;
    lo = 0x90;
  } else if (c >= 0xf1 && c <= 0xf3) {
    len = 4;
  } else if (c == 0xf4) {
    len = 4;
    hi = 0x8f;
  } else {
    return 0;
  }
  if (text.size() - i < len) return 0;
  unsigned char c1 = static_cast<unsigned char>(text[i + 1]);
  if (c1 < lo || c1 > hi) return 0;
  for (size_t k = 2; k < len; ++k) {
    unsigned char ck = static_cast<unsigned char>(text[i + k]);
    if (ck < 0x80 || ck > 0xbf) return 0;
  }
  return len;
}

// True when `text` is well-formed UTF-8.
inline bool IsValidUtf8(std::string_view text) {
  size_t i = 0;
  while (i < text.size()) {
    size_t len = Utf8SequenceLength(text, i);
    if (len == 0) return false;
    i += len;
  }
  return true;
}

// The character (UTF-8 sequence, or the single byte if it starts none) at
// byte `i` of `text`.
inline std::string_view CharAt(std::string_view text, size_t i) {
  size_t len = Utf8SequenceLength(text, i);
  return text.substr(i, len == 0 ? 1 : len);
}

// `text` in double quotes, for an error message. The result is always valid
// UTF-8 (it may end up in a JSON error body): printable ASCII and whole
// UTF-8 characters as they are, '"' and '\' escaped, control characters
// and stray bytes as \xNN; cut after about `max_bytes` with "..." (never
// inside a character).
inline std::string Quote(std::string_view text, size_t max_bytes = 64) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out = "\"";
  size_t i = 0;
  while (i < text.size()) {
    if (i >= max_bytes) {
      out += "...";
      break;
    }
    unsigned char c = static_cast<unsigned char>(text[i]);
    size_t len = Utf8SequenceLength(text, i);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c < 0x20 || c == 0x7f || len == 0) {
      out += "\\x";
      out += kHex[c >> 4];
      out += kHex[c & 0xf];
    } else {
      out.append(text.data() + i, len);
      i += len;
      continue;
    }
    ++i;
  }
  out += '"';
  return out;
}

}  // namespace text
}  // namespace sluice
