// Non-throwing helpers for reading and writing nlohmann::json in the core.
//
// The core is built to run without exceptions, so it never calls a json
// accessor that can throw: types are checked before get<>(), and dump()
// replaces invalid UTF-8 instead of throwing.
//
// Internal to common/ (not part of its public API). Pure functions;
// thread-safe.
#pragma once

#include <cstdint>
#include <limits>
#include <nlohmann/json.hpp>
#include <string>

#include "common/text_util.h"

namespace sluice {
namespace json_util {

// dump() that never throws (invalid UTF-8 is replaced by U+FFFD).
inline std::string SafeDump(const nlohmann::json& j) {
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

// A short description of a value for "got ..." in error messages. Arrays and
// objects are named, not printed (they may be large or deeply nested).
inline std::string Describe(const nlohmann::json& j) {
  switch (j.type()) {
    case nlohmann::json::value_t::array:
      return "an array";
    case nlohmann::json::value_t::object:
      return "an object";
    case nlohmann::json::value_t::string:
      return text::Quote(j.get_ref<const std::string&>());
    case nlohmann::json::value_t::discarded:
      return "nothing";
    default:
      return SafeDump(j);
  }
}

// Reads an integer that fits int64_t; false for any other value (floats,
// strings, unsigned values above INT64_MAX, ...).
inline bool GetInt64(const nlohmann::json& j, int64_t* out) {
  if (j.is_number_unsigned()) {
    uint64_t u = j.get<uint64_t>();
    if (u > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
      return false;
    }
    *out = static_cast<int64_t>(u);
    return true;
  }
  if (j.is_number_integer()) {
    *out = j.get<int64_t>();
    return true;
  }
  return false;
}

// Reads a non-negative integer that fits uint64_t.
inline bool GetUint64(const nlohmann::json& j, uint64_t* out) {
  if (j.is_number_unsigned()) {
    *out = j.get<uint64_t>();
    return true;
  }
  if (j.is_number_integer()) {
    int64_t v = j.get<int64_t>();
    if (v < 0) return false;
    *out = static_cast<uint64_t>(v);
    return true;
  }
  return false;
}

}  // namespace json_util
}  // namespace sluice
