// RawHttp: HTTP/1.1 by hand over plain sockets, for tests that must send
// what no well-behaved client would (half a header, a body that never
// ends, garbage, thousands of connections) and watch exactly what the
// server answers and when it closes. Every call is bounded in time.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace sluice::testing {

// One response read off a socket.
struct RawResponse {
  int status = 0;    // 0: none (timeout, or the connection closed first)
  std::string head;  // status line and header fields
  std::string body;
  // A header field's value ("" if absent); the name is case-insensitive.
  std::string Header(const std::string& name) const;
};

// An owned TCP connection to 127.0.0.1 (or `host`); closed on destruction.
class RawConnection {
 public:
  // Connects to host:port from `source` (an address on this host, e.g.
  // "127.0.3.7", to look like another client; "" lets the kernel pick).
  // connected() is false on failure.
  RawConnection(uint16_t port, const std::string& source = "",
                const std::string& host = "127.0.0.1");
  ~RawConnection();
  RawConnection(RawConnection&& other) noexcept;
  RawConnection& operator=(RawConnection&&) = delete;
  RawConnection(const RawConnection&) = delete;

  bool connected() const { return fd_ >= 0; }
  int fd() const { return fd_; }

  // Sends all of `bytes` within `timeout_ms`; false when the connection
  // broke or the time ran out.
  bool Send(const std::string& bytes, int timeout_ms = 5000);
  // Reads one response (Content-Length framing, or until the close) within
  // `timeout_ms`; `to_head` for the answer to a HEAD request (no body
  // whatever Content-Length says). Bytes after it stay for the next call.
  RawResponse Read(int timeout_ms = 5000, bool to_head = false);
  // True once the server closed the connection (EOF or reset), waiting up
  // to `timeout_ms`; input that arrives meanwhile is discarded.
  bool WaitClosed(int timeout_ms);
  // Whether the server closed it already (no wait).
  bool Closed() { return WaitClosed(0); }

 private:
  // Reads what is there within `timeout_ms` into pending_; false on EOF,
  // error or timeout.
  bool Fill(int timeout_ms);

  int fd_ = -1;
  std::string pending_;
};

// A whole request: `method` `target` HTTP/1.1 with Host, the extra header
// lines (each "Name: value"), Content-Length when `body` is not empty.
std::string RawRequest(const std::string& method, const std::string& target,
                       const std::vector<std::string>& headers = {},
                       const std::string& body = "");

// Sends one request on a new connection and reads the response.
RawResponse RawExchange(uint16_t port, const std::string& request,
                        int timeout_ms = 5000);

// Raises this process's soft RLIMIT_NOFILE to its hard limit; returns the
// new soft limit.
uint64_t RaiseOpenFileLimit();

}  // namespace sluice::testing
