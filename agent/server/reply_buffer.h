// ReplyBuffer: a connection's replies on their way to the socket. Commands
// append to pending(); Connection::Flush() hands pending bytes to the
// socket, directly (send) or, for what the socket would not take at once,
// through one asynchronous write, during which new replies gather in
// pending() again.
//
// The seam for the number of system calls per request: everything a
// connection writes goes through here and Connection::Flush(), which the
// server calls once per connection per round of its event loop (after all
// the requests read in that round ran), not once per request.
//
// Buffers that grew past kKeepCapacity are given back when they empty.
// Thread-compatible: the server's event loop only.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <utility>

namespace sluice {

class ReplyBuffer {
 public:
  static constexpr size_t kKeepCapacity = 64 * 1024;

  // Where replies are appended.
  std::string* pending() { return &pending_; }
  bool has_pending() const { return !pending_.empty(); }
  // Replies the client has not received yet: pending plus in flight.
  size_t unsent_bytes() const { return pending_.size() + in_flight_.size(); }
  bool write_in_flight() const { return write_in_flight_; }

  // All pending bytes were sent.
  void SentAll() { Release(&pending_); }
  // `sent` pending bytes were sent and the rest goes by an asynchronous
  // write: they become the write in flight, whose bytes are returned
  // (valid until WriteDone()).
  std::string_view StartWrite(size_t sent) {
    std::swap(pending_, in_flight_);
    write_in_flight_ = true;
    return std::string_view(in_flight_).substr(sent);
  }
  // The asynchronous write completed (or failed).
  void WriteDone() {
    write_in_flight_ = false;
    Release(&in_flight_);
  }

 private:
  static void Release(std::string* buffer) {
    buffer->clear();
    if (buffer->capacity() > kKeepCapacity) std::string().swap(*buffer);
  }

  std::string pending_;    // replies not yet handed to the socket
  std::string in_flight_;  // replies being written asynchronously
  bool write_in_flight_ = false;
};

}  // namespace sluice
