#include "connection.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

namespace sluice::client::internal {
namespace {

constexpr size_t kReadChunk = 4096;
constexpr std::chrono::microseconds kTimeoutSlack{1000};

timeval ToTimeval(std::chrono::microseconds wait) {
  if (wait.count() < 1) wait = std::chrono::microseconds(1);
  timeval tv;
  tv.tv_sec = static_cast<time_t>(wait.count() / 1000000);
  tv.tv_usec = static_cast<suseconds_t>(wait.count() % 1000000);
  return tv;
}

bool SetTimeout(int fd, int option, std::chrono::microseconds wait) {
  timeval tv = ToTimeval(wait);
  return setsockopt(fd, SOL_SOCKET, option, &tv, sizeof(tv)) == 0;
}

std::string Errno(const char* what) {
  return std::string(what) + ": " + strerror(errno);
}

}  // namespace

std::unique_ptr<Connection> Connection::Open(
    const std::string& path, std::chrono::milliseconds connect_timeout,
    std::chrono::milliseconds call_timeout, std::string* error) {
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  if (path.empty() || path.size() >= sizeof(address.sun_path)) {
    *error = "socket path '" + path + "' must be 1 to " +
             std::to_string(sizeof(address.sun_path) - 1) + " bytes";
    return nullptr;
  }
  memcpy(address.sun_path, path.data(), path.size());
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    *error = Errno("socket");
    return nullptr;
  }
  std::unique_ptr<Connection> connection(new Connection(fd, call_timeout));
  // A blocking connect to a Unix socket whose backlog is full waits up to
  // SO_SNDTIMEO, then fails with EAGAIN.
  if (!SetTimeout(fd, SO_SNDTIMEO, connect_timeout)) {
    *error = Errno("setsockopt");
    return nullptr;
  }
  int rc;
  do {
    rc = connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address));
  } while (rc != 0 && errno == EINTR);
  if (rc != 0) {
    *error = errno == EAGAIN ? "connect to " + path +
                                   ": no room in the agent's backlog "
                                   "within the connect timeout"
                             : "connect to " + path + ": " + strerror(errno);
    return nullptr;
  }
  if (!SetTimeout(fd, SO_SNDTIMEO, call_timeout) ||
      !SetTimeout(fd, SO_RCVTIMEO, call_timeout)) {
    *error = Errno("setsockopt");
    return nullptr;
  }
  return connection;
}

Connection::Connection(int fd, std::chrono::milliseconds call_timeout)
    : fd_(fd), call_timeout_(call_timeout) {
  input_.resize(kReadChunk);
}

Connection::~Connection() { close(fd_); }

bool Connection::ArmTimeout(int option, Clock::time_point deadline) {
  bool& shortened =
      option == SO_SNDTIMEO ? send_timeout_shortened_ : recv_timeout_shortened_;
  auto left = std::chrono::duration_cast<std::chrono::microseconds>(
      deadline - Clock::now());
  if (left.count() <= 0) return false;
  // Within kTimeoutSlack of a whole timeout the socket's stays: a call's
  // first send and recv (microseconds after its start) then cost no
  // setsockopt, and a call waits at most call_timeout + kTimeoutSlack.
  if (left + kTimeoutSlack < call_timeout_) {
    SetTimeout(fd_, option, left);
    shortened = true;
  } else if (shortened) {
    SetTimeout(fd_, option, call_timeout_);
    shortened = false;
  }
  return true;
}

Error Connection::Send(Clock::time_point deadline, std::string* error) {
  size_t sent = 0;
  while (sent < request_.size()) {
    if (!ArmTimeout(SO_SNDTIMEO, deadline)) {
      *error = "the agent did not take the request within the call timeout";
      return Error::kTimeout;
    }
    ssize_t n =
        send(fd_, request_.data() + sent, request_.size() - sent, MSG_NOSIGNAL);
    if (n > 0) {
      sent += static_cast<size_t>(n);
    } else if (n < 0 && errno == EINTR) {
      continue;
    } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      continue;  // the socket timeout passed; ArmTimeout decides
    } else {
      *error = Errno("send to the agent");
      return Error::kConnectionLost;
    }
  }
  request_.clear();
  return Error::kNone;
}

Error Connection::ReadReply(Clock::time_point deadline, CheckReply* reply,
                            std::string* error) {
  while (true) {
    if (read_start_ < read_end_) {
      size_t consumed = 0;
      std::string_view pending(input_.data() + read_start_,
                               read_end_ - read_start_);
      ParseResult parsed = ParseCheckReply(pending, reply, &consumed, error);
      if (parsed == ParseResult::kMalformed) {
        *error = "malformed reply from the agent: " + *error;
        return Error::kMalformedReply;
      }
      if (parsed == ParseResult::kReply) {
        read_start_ += consumed;
        if (read_start_ == read_end_) read_start_ = read_end_ = 0;
        return Error::kNone;
      }
    }
    // Room to read: move what is pending to the front, grow if full.
    if (read_start_ > 0) {
      memmove(input_.data(), input_.data() + read_start_,
              read_end_ - read_start_);
      read_end_ -= read_start_;
      read_start_ = 0;
    }
    if (read_end_ == input_.size()) input_.resize(input_.size() * 2);
    if (!ArmTimeout(SO_RCVTIMEO, deadline)) {
      *error = "the agent did not answer within the call timeout";
      return Error::kTimeout;
    }
    ssize_t n =
        recv(fd_, input_.data() + read_end_, input_.size() - read_end_, 0);
    if (n > 0) {
      read_end_ += static_cast<size_t>(n);
    } else if (n == 0) {
      *error = "the agent closed the connection";
      return Error::kConnectionLost;
    } else if (errno != EINTR && errno != EAGAIN && errno != EWOULDBLOCK) {
      *error = Errno("recv from the agent");
      return Error::kConnectionLost;
    }
  }
}

}  // namespace sluice::client::internal
