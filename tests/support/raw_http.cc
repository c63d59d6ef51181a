#include "tests/support/raw_http.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>

namespace sluice::testing {
namespace {

using Clock = std::chrono::steady_clock;

int RemainingMs(Clock::time_point deadline) {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
      deadline - Clock::now());
  return left.count() < 0 ? 0 : static_cast<int>(left.count());
}

// Waits for `events` on `fd` up to `timeout_ms`; true when ready.
bool WaitFor(int fd, short events, int timeout_ms) {
  pollfd p{fd, events, 0};
  int rc;
  do {
    rc = ::poll(&p, 1, timeout_ms);
  } while (rc < 0 && errno == EINTR);
  return rc > 0;
}

bool ParseAddress(const std::string& text, uint16_t port, sockaddr_in* out) {
  *out = sockaddr_in{};
  out->sin_family = AF_INET;
  out->sin_port = htons(port);
  return ::inet_pton(AF_INET, text.c_str(), &out->sin_addr) == 1;
}

// The value of Content-Length in `head`, or -1.
long long ContentLength(const std::string& head) {
  RawResponse probe;
  probe.head = head;
  std::string value = probe.Header("Content-Length");
  if (value.empty()) return -1;
  return std::stoll(value);
}

}  // namespace

std::string RawResponse::Header(const std::string& name) const {
  size_t line = head.find("\r\n");
  while (line != std::string::npos) {
    size_t start = line + 2;
    size_t end = head.find("\r\n", start);
    if (end == std::string::npos) end = head.size();
    size_t colon = head.find(':', start);
    if (colon != std::string::npos && colon < end &&
        colon - start == name.size() &&
        ::strncasecmp(head.data() + start, name.data(), name.size()) == 0) {
      size_t value = head.find_first_not_of(' ', colon + 1);
      return value >= end ? "" : head.substr(value, end - value);
    }
    line = end < head.size() ? end : std::string::npos;
  }
  return "";
}

RawConnection::RawConnection(uint16_t port, const std::string& source,
                             const std::string& host) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) return;
  sockaddr_in from{};
  if (!source.empty() &&
      (!ParseAddress(source, 0, &from) ||
       ::bind(fd, reinterpret_cast<sockaddr*>(&from), sizeof(from)) != 0)) {
    ::close(fd);
    return;
  }
  sockaddr_in to{};
  if (!ParseAddress(host, port, &to)) {
    ::close(fd);
    return;
  }
  int rc = ::connect(fd, reinterpret_cast<sockaddr*>(&to), sizeof(to));
  if (rc != 0 && errno == EINPROGRESS && WaitFor(fd, POLLOUT, 5000)) {
    int error = 0;
    socklen_t len = sizeof(error);
    ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &len);
    rc = error == 0 ? 0 : -1;
  }
  if (rc != 0) {
    ::close(fd);
    return;
  }
  int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  fd_ = fd;
}

RawConnection::~RawConnection() {
  if (fd_ >= 0) ::close(fd_);
}

RawConnection::RawConnection(RawConnection&& other) noexcept
    : fd_(other.fd_), pending_(std::move(other.pending_)) {
  other.fd_ = -1;
}

bool RawConnection::Send(const std::string& bytes, int timeout_ms) {
  if (fd_ < 0) return false;
  const auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
  size_t sent = 0;
  while (sent < bytes.size()) {
    ssize_t n =
        ::send(fd_, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
    if (n > 0) {
      sent += static_cast<size_t>(n);
      continue;
    }
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
      if (!WaitFor(fd_, POLLOUT, RemainingMs(deadline))) return false;
      continue;
    }
    return false;
  }
  return true;
}

bool RawConnection::Fill(int timeout_ms) {
  if (fd_ < 0) return false;
  char buffer[16384];
  while (true) {
    ssize_t n = ::recv(fd_, buffer, sizeof(buffer), 0);
    if (n > 0) {
      pending_.append(buffer, static_cast<size_t>(n));
      return true;
    }
    if (n == 0) return false;
    if (errno == EINTR) continue;
    if (errno != EAGAIN) return false;
    if (!WaitFor(fd_, POLLIN, timeout_ms)) return false;
  }
}

RawResponse RawConnection::Read(int timeout_ms, bool to_head) {
  const auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
  RawResponse response;
  size_t end;
  while ((end = pending_.find("\r\n\r\n")) == std::string::npos) {
    if (!Fill(RemainingMs(deadline))) return response;
  }
  response.head = pending_.substr(0, end + 2);
  pending_.erase(0, end + 4);
  if (response.head.rfind("HTTP/1.", 0) == 0 && response.head.size() > 12) {
    response.status = std::atoi(response.head.c_str() + 9);
  }
  long long length = ContentLength(response.head);
  if (to_head || response.status == 204 || response.status == 304 ||
      (response.status >= 100 && response.status < 200)) {
    length = 0;
  }
  if (length < 0) {  // until the close
    while (Fill(RemainingMs(deadline))) {
    }
    response.body = std::move(pending_);
    pending_.clear();
    return response;
  }
  while (pending_.size() < static_cast<size_t>(length)) {
    if (!Fill(RemainingMs(deadline))) {
      response.status = 0;  // cut short
      return response;
    }
  }
  response.body = pending_.substr(0, static_cast<size_t>(length));
  pending_.erase(0, static_cast<size_t>(length));
  return response;
}

bool RawConnection::WaitClosed(int timeout_ms) {
  if (fd_ < 0) return true;
  const auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
  char buffer[16384];
  while (true) {
    ssize_t n = ::recv(fd_, buffer, sizeof(buffer), 0);
    if (n == 0) return true;
    if (n > 0) continue;
    if (errno == EINTR) continue;
    if (errno != EAGAIN) return true;  // reset
    int left = RemainingMs(deadline);
    if (left == 0 || !WaitFor(fd_, POLLIN, left)) return false;
  }
}

std::string RawRequest(const std::string& method, const std::string& target,
                       const std::vector<std::string>& headers,
                       const std::string& body) {
  std::string request = method + " " + target + " HTTP/1.1\r\nHost: test\r\n";
  for (const std::string& header : headers) request += header + "\r\n";
  if (!body.empty()) {
    request += "Content-Length: " + std::to_string(body.size()) + "\r\n";
  }
  return request + "\r\n" + body;
}

RawResponse RawExchange(uint16_t port, const std::string& request,
                        int timeout_ms) {
  RawConnection connection(port);
  if (!connection.Send(request, timeout_ms)) return RawResponse();
  return connection.Read(timeout_ms);
}

uint64_t RaiseOpenFileLimit() {
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) != 0) return 0;
  if (limit.rlim_cur < limit.rlim_max) {
    limit.rlim_cur = limit.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &limit);
    ::getrlimit(RLIMIT_NOFILE, &limit);
  }
  return limit.rlim_cur;
}

}  // namespace sluice::testing
