// RequestBatch: the requests the server parsed ahead of running them
// (Server::Ready: those of one read of a connection), so that their
// checks can be prepared together (CommandHandler::Prepare).
// Each request's arguments are views into its connection's read buffer,
// kept here in one array.
//
// Bounded by kMaxRequests (about Checker::kMaxPrepared: beyond it checks
// are simply not prefetched). Allocation: none once the arrays have grown
// (Clear() keeps their capacity).
//
// Thread-compatible: the server's event loop only.
#pragma once

#include <cstddef>
#include <string_view>
#include <vector>

#include "agent/commands/resp_args.h"

namespace sluice {

class RequestBatch {
 public:
  static constexpr size_t kMaxRequests = 1024;

  struct Request {
    size_t first_arg;  // in the batch's argument array
    size_t arg_count;
    size_t end;  // offset of the request's end in its connection's buffer
  };

  bool full() const { return requests_.size() >= kMaxRequests; }
  size_t size() const { return requests_.size(); }
  const Request& operator[](size_t i) const { return requests_[i]; }
  RespArgs args(const Request& request) const {
    return RespArgs(args_.data() + request.first_arg, request.arg_count);
  }

  void Add(const std::vector<std::string_view>& args, size_t end) {
    requests_.push_back(Request{args_.size(), args.size(), end});
    args_.insert(args_.end(), args.begin(), args.end());
  }
  void Clear() {
    requests_.clear();
    args_.clear();
  }

 private:
  std::vector<Request> requests_;
  std::vector<std::string_view> args_;
};

}  // namespace sluice
