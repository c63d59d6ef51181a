// Reading the fields of one JSON object of a wire message, with errors
// that name the field's path ("lease_request.items[2].want") and what was
// expected. Internal to common/'s wire codec (wire.cc and its siblings).
//
// Pure; thread-compatible (a Fields refers to its object: keep that alive).
#pragma once

#include <cstdint>
#include <limits>
#include <nlohmann/json.hpp>
#include <string>

#include "common/json_util.h"
#include "common/status.h"

namespace sluice::wire_internal {

using json = nlohmann::json;
constexpr int64_t kInt64Max = std::numeric_limits<int64_t>::max();

// Reads the fields of one JSON object; `where` names it in messages
// ("lease_request.items[2]").
class Fields {
 public:
  Fields(const json& object, std::string where)
      : object_(object), where_(std::move(where)) {}

  Status Int(const char* name, int64_t min, int64_t max, int64_t* out) const {
    const json* v = nullptr;
    std::string expected =
        "an integer from " + std::to_string(min) + " to " + std::to_string(max);
    if (max == kInt64Max) {
      expected = "an integer, " + std::to_string(min) + " or more";
    }
    Status st = Get(name, expected, &v);
    if (!st.ok()) return st;
    if (!json_util::GetInt64(*v, out) || *out < min || *out > max) {
      return Wrong(name, expected, *v);
    }
    return Status::Ok();
  }

  Status Uint(const char* name, uint64_t* out) const {
    const json* v = nullptr;
    const char* expected = "an integer, 0 or more";
    Status st = Get(name, expected, &v);
    if (!st.ok()) return st;
    if (!json_util::GetUint64(*v, out)) return Wrong(name, expected, *v);
    return Status::Ok();
  }

  Status Str(const char* name, std::string* out) const {
    const json* v = nullptr;
    Status st = Get(name, "a string", &v);
    if (!st.ok()) return st;
    if (!v->is_string()) return Wrong(name, "a string", *v);
    *out = v->get<std::string>();
    return Status::Ok();
  }

  Status Array(const char* name, const json** out) const {
    Status st = Get(name, "an array", out);
    if (!st.ok()) return st;
    if (!(*out)->is_array()) return Wrong(name, "an array", **out);
    return Status::Ok();
  }

  bool Has(const char* name) const { return object_.contains(name); }
  std::string Path(const char* name) const { return where_ + "." + name; }

 private:
  Status Get(const char* name, const std::string& expected,
             const json** out) const {
    auto it = object_.find(name);
    if (it == object_.end()) {
      return Status::InvalidArgument(Path(name) + " is missing; expected " +
                                     expected);
    }
    *out = &*it;
    return Status::Ok();
  }

  Status Wrong(const char* name, const std::string& expected,
               const json& got) const {
    return Status::InvalidArgument(Path(name) + " must be " + expected +
                                   ", got " + json_util::Describe(got));
  }

  const json& object_;
  std::string where_;
};

}  // namespace sluice::wire_internal
