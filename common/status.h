// Status: the outcome of an operation that can fail, as a value.
//
// A Status is either OK (cheap: no allocation) or carries a code, a message
// that says what was wrong and what would be right, and optionally the name
// of the input field at fault (used by the REST API's error body).
//
// Status and StatusOr are [[nodiscard]]: a caller that drops one gets a
// warning (an error with -Werror). Where dropping an error is right, say
// so with IgnoreError() and a comment on why.
//
// Thread-safety: a Status is an immutable value; const methods may be called
// concurrently without synchronisation.
#pragma once

#include <cassert>
#include <memory>
#include <string>
#include <string_view>
#include <utility>

namespace sluice {

class [[nodiscard]] Status {
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

  // Drops this status on purpose: the caller has a reason (given in a
  // comment where it is called) why a failure changes nothing there.
  void IgnoreError() const {}

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

// StatusOr<T>: either a T or a non-OK Status. Accessing the value of a
// failed StatusOr is a programming error, checked by assert in debug
// builds. Built from a Status, that Status must be an error: an OK Status
// with no value asserts in debug builds and becomes an Internal error in
// release builds, so ok() always means a value is there.
template <typename T>
class [[nodiscard]] StatusOr {
 public:
  StatusOr(T value) : value_(std::move(value)), has_value_(true) {}  // NOLINT
  StatusOr(Status status) : status_(std::move(status)) {             // NOLINT
    assert(!status_.ok() && "StatusOr needs a value or an error, not OK");
    if (status_.ok()) {
      status_ = Status::Internal(
          "StatusOr was built from an OK Status without a value (a bug: "
          "return the value, or an error)");
    }
  }

  bool ok() const { return has_value_; }
  const Status& status() const { return status_; }
  const T& value() const& {
    CheckHasValue();
    return value_;
  }
  T& value() & {
    CheckHasValue();
    return value_;
  }
  T&& value() && {
    CheckHasValue();
    return std::move(value_);
  }
  const T& operator*() const& { return value(); }
  T& operator*() & { return value(); }
  const T* operator->() const { return &value(); }
  T* operator->() { return &value(); }

  // Drops this result on purpose (see Status::IgnoreError).
  void IgnoreError() const {}

 private:
  void CheckHasValue() const {
    assert(has_value_ && "value() of a failed StatusOr; check ok() first");
  }

  Status status_;
  T value_{};
  bool has_value_ = false;
};

}  // namespace sluice
