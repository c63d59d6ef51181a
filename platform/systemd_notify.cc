#include "platform/systemd_notify.h"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

namespace sluice {

Status NotifySystemd(const std::string& state) {
  const char* env = std::getenv("NOTIFY_SOCKET");
  if (env == nullptr || env[0] == '\0') return Status::Ok();
  const std::string path = env;
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  if ((path[0] != '/' && path[0] != '@') ||
      path.size() >= sizeof(address.sun_path)) {
    return Status::InvalidArgument(
        "NOTIFY_SOCKET='" + path +
        "' is not a Unix socket address (an absolute path or @name of at "
        "most " +
        std::to_string(sizeof(address.sun_path) - 1) + " characters)");
  }
  std::memcpy(address.sun_path, path.data(), path.size());
  // An abstract address starts with a NUL byte in place of the '@'.
  if (path[0] == '@') address.sun_path[0] = '\0';
  const socklen_t length =
      static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + path.size());
  const int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    return Status::Unavailable(std::string("cannot notify the service "
                                           "manager: socket: ") +
                               std::strerror(errno));
  }
  ssize_t sent;
  do {
    sent = sendto(fd, state.data(), state.size(), MSG_NOSIGNAL,
                  reinterpret_cast<const sockaddr*>(&address), length);
  } while (sent < 0 && errno == EINTR);
  const int error = errno;
  close(fd);
  if (sent < 0) {
    return Status::Unavailable("cannot notify the service manager at " + path +
                               ": " + std::strerror(error));
  }
  return Status::Ok();
}

}  // namespace sluice
