// Status: the outcome of an operation that can fail, as a value.
//
// A Status is either OK (cheap: no allocation) or carries a code, a message
// that says what was wrong and what would be right, and optionally the name
// of the input field at fault (used by the REST API's error body).
//
// Thread-safety: a Status is an immutable value; const methods may be called
// concurrently without synchronisation.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <utility>

namespace sluice {

class Status {
 public:
  enum class Code {
    kOk = 0,
    kInvalidArgument,  // the input is malformed or out of range
    kNotFound,
    kAlreadyExists,
    kFailedPrecondition,  // the system is not in a state to do this
    kAborted,      // a concurrent change won (a stale version); re-read, retry
    kUnavailable,  // a dependency is down; retrying may help
    kResourceExhausted,  // a limit was reached
    kInternal,
  };

  Status() = default;  // OK

  static Status Ok() { return Status(); }
  static Status InvalidArgument(std::string message, std::string field = "") {
    return Status(Code::kInvalidArgument, std::move(message), std::move(field));
  }
  static Status NotFound(std::string message) {
    return Status(Code::kNotFound, std::move(message), "");
  }
  static Status AlreadyExists(std::string message, std::string field = "") {
    return Status(Code::kAlreadyExists, std::move(message), std::move(field));
  }
  static Status FailedPrecondition(std::string message) {
    return Status(Code::kFailedPrecondition, std::move(message), "");
  }
  static Status Aborted(std::string message) {
    return Status(Code::kAborted, std::move(message), "");
  }
  static Status Unavailable(std::string message) {
    return Status(Code::kUnavailable, std::move(message), "");
  }
  static Status ResourceExhausted(std::string message) {
    return Status(Code::kResourceExhausted, std::move(message), "");
  }
  static Status Internal(std::string message) {
    return Status(Code::kInternal, std::move(message), "");
  }

  bool ok() const { return rep_ == nullptr; }
  Code code() const { return rep_ ? rep_->code : Code::kOk; }
  // Empty when ok().
  const std::string& message() const { return rep_ ? rep_->message : Empty(); }
  // The offending input field ("limit", "match.client_id"), or empty.
  const std::string& field() const { return rep_ ? rep_->field : Empty(); }

  // "INVALID_ARGUMENT: limit must be at least 1 (field limit)".
  std::string ToString() const;

  static std::string_view CodeName(Code code);

 private:
  struct Rep {
    Code code;
    std::string message;
    std::string field;
  };
  Status(Code code, std::string message, std::string field)
      : rep_(std::make_shared<const Rep>(
            Rep{code, std::move(message), std::move(field)})) {}
  static const std::string& Empty();

  std::shared_ptr<const Rep> rep_;  // null means OK
};

// StatusOr<T>: either a T or a non-OK Status. Accessing value() of a failed
// StatusOr is a programming error (checked by assert in debug builds).
template <typename T>
class StatusOr {
 public:
  StatusOr(T value) : value_(std::move(value)), has_value_(true) {}  // NOLINT
  StatusOr(Status status) : status_(std::move(status)) {}            // NOLINT

  bool ok() const { return has_value_; }
  const Status& status() const { return status_; }
  const T& value() const& { return value_; }
  T& value() & { return value_; }
  T&& value() && { return std::move(value_); }
  const T& operator*() const& { return value_; }
  T& operator*() & { return value_; }
  const T* operator->() const { return &value_; }
  T* operator->() { return &value_; }

 private:
  Status status_;
  T value_{};
  bool has_value_ = false;
};

}  // namespace sluice
