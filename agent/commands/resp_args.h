// RespArgs: a request's arguments (args[0] is the command name) as views
// into the caller's buffer, given as a pointer and a count, so that the
// server passes them to a command without copying them into a vector.
//
// A view: valid as long as the buffer it points into. Thread-compatible.
#pragma once

#include <cstddef>
#include <string_view>
#include <vector>

namespace sluice {

class RespArgs {
 public:
  RespArgs(const std::string_view* data, size_t size)
      : data_(data), size_(size) {}
  explicit RespArgs(const std::vector<std::string_view>& args)
      : data_(args.data()), size_(args.size()) {}
  size_t size() const { return size_; }
  const std::string_view& operator[](size_t i) const { return data_[i]; }
  const std::string_view* begin() const { return data_; }
  const std::string_view* end() const { return data_ + size_; }

 private:
  const std::string_view* data_;
  size_t size_;
};

}  // namespace sluice
