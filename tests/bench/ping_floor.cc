// ping_floor: the least a server can spend per request on this host, for
// tests/bench/agent_vs_redis.sh's case `floor`. It answers RESP requests on
// a Unix socket with the calls every such server makes (level-triggered
// epoll_wait, then one recv and one send per ready client) and nothing
// else: +PONG to PING, an empty value to redis-benchmark's CONFIG GET, an
// empty array to anything else. What the agent or Redis spends above it per
// request is their own work; the floor itself is mostly system calls
// (docs/performance.md).
//
//   ping_floor SOCKET     (runs until killed)
//
// A benchmark tool: no limits on clients or request sizes beyond a 4 KiB
// read; not for hostile clients.
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <unordered_map>

namespace {

// Appends the replies to the complete requests (RESP arrays of bulk
// strings) at the front of `in` to `out`, and drops them from `in`.
void Answer(std::string* in, std::string* out) {
  size_t pos = 0;
  while (pos < in->size() && (*in)[pos] == '*') {
    size_t end = in->find("\r\n", pos);
    if (end == std::string::npos) break;
    const long args = std::atol(in->c_str() + pos + 1);
    size_t at = end + 2;
    std::string name, param;
    bool complete = true;
    for (long i = 0; i < args && complete; ++i) {
      end = in->find("\r\n", at);
      if (end == std::string::npos) {
        complete = false;
        break;
      }
      const size_t len = std::strtoul(in->c_str() + at + 1, nullptr, 10);
      at = end + 2;
      if (at + len + 2 > in->size()) {
        complete = false;
        break;
      }
      if (i == 0) name = in->substr(at, len);
      if (i == 2) param = in->substr(at, len);
      at += len + 2;
    }
    if (!complete) break;
    if (name == "PING" || name == "ping") {
      *out += "+PONG\r\n";
    } else if ((name == "CONFIG" || name == "config") && args == 3) {
      *out += "*2\r\n$" + std::to_string(param.size()) + "\r\n" + param +
              "\r\n$0\r\n\r\n";
    } else {
      *out += "*0\r\n";
    }
    pos = at;
  }
  in->erase(0, pos);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: ping_floor SOCKET\n");
    return 2;
  }
  const int listener = ::socket(AF_UNIX, SOCK_STREAM, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, argv[1], sizeof(addr.sun_path) - 1);
  ::unlink(argv[1]);
  if (::bind(listener, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
      ::listen(listener, 512) != 0) {
    std::fprintf(stderr, "ping_floor: cannot listen on %s: %s\n", argv[1],
                 std::strerror(errno));
    return 1;
  }
  const int ep = ::epoll_create1(0);
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.fd = listener;
  ::epoll_ctl(ep, EPOLL_CTL_ADD, listener, &ev);
  std::unordered_map<int, std::string> pending;  // partial requests
  std::string out;
  char buf[4096];
  epoll_event ready[128];
  for (;;) {
    const int n = ::epoll_wait(ep, ready, 128, -1);
    for (int i = 0; i < n; ++i) {
      const int fd = ready[i].data.fd;
      if (fd == listener) {
        const int client = ::accept4(listener, nullptr, nullptr, SOCK_NONBLOCK);
        if (client < 0) continue;
        epoll_event cev{};
        cev.events = EPOLLIN;
        cev.data.fd = client;
        ::epoll_ctl(ep, EPOLL_CTL_ADD, client, &cev);
        pending[client].clear();
        continue;
      }
      const ssize_t got = ::recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
      if (got < 0 && errno == EAGAIN) continue;
      if (got <= 0) {
        ::close(fd);
        pending.erase(fd);
        continue;
      }
      std::string& in = pending[fd];
      in.append(buf, static_cast<size_t>(got));
      out.clear();
      Answer(&in, &out);
      if (!out.empty()) ::send(fd, out.data(), out.size(), MSG_NOSIGNAL);
    }
  }
}
