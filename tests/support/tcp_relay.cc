#include "tests/support/tcp_relay.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <stdexcept>
#include <vector>

namespace sluice::testing {
namespace {

sockaddr_in Loopback(uint16_t port) {
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return addr;
}

// Writes all of `data`; false when the peer is gone.
bool WriteAll(int fd, const char* data, size_t size) {
  while (size > 0) {
    ssize_t n = send(fd, data, size, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    data += n;
    size -= static_cast<size_t>(n);
  }
  return true;
}

}  // namespace

TcpRelay::TcpRelay(uint16_t target_port, bool capture)
    : target_port_(target_port), capture_(capture) {
  listen_fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr = Loopback(0);
  socklen_t len = sizeof(addr);
  if (listen_fd_ < 0 ||
      bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
      listen(listen_fd_, 16) != 0 ||
      getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len) != 0 ||
      pipe2(wake_, O_CLOEXEC) != 0) {
    const std::string error = std::strerror(errno);
    if (listen_fd_ >= 0) close(listen_fd_);
    throw std::runtime_error("TcpRelay: cannot listen on 127.0.0.1: " + error);
  }
  port_ = ntohs(addr.sin_port);
  thread_ = std::thread([this] { Run(); });
}

TcpRelay::~TcpRelay() {
  Wake(0);
  thread_.join();
  close(listen_fd_);
  close(wake_[0]);
  close(wake_[1]);
}

std::string TcpRelay::Captured() const {
  MutexLock lock(&mu_);
  return captured_;
}

void TcpRelay::Wake(char what) {
  ssize_t ignored = write(wake_[1], &what, 1);
  (void)ignored;
}

void TcpRelay::SetDown(bool down) {
  down_.store(down);
  const int64_t request = down_requests_.fetch_add(1) + 1;
  Wake(1);
  // The thread applies it within one poll round; bounded all the same.
  const auto deadline =
      std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (down_applied_.load() < request &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
}

void TcpRelay::Run() {
  // Connections as pairs of fds: [2k] from the client, [2k+1] to the target.
  std::vector<int> fds;
  while (Step(&fds)) {
  }
  for (int fd : fds) close(fd);
}

bool TcpRelay::Step(std::vector<int>* fds_out) {
  std::vector<int>& fds = *fds_out;
  std::vector<pollfd> items;
  items.push_back({wake_[0], POLLIN, 0});
  items.push_back({listen_fd_, POLLIN, 0});
  for (int fd : fds) items.push_back({fd, POLLIN, 0});
  if (poll(items.data(), items.size(), 1000) < 0 && errno != EINTR) {
    return false;
  }
  if (items[0].revents != 0) {
    char what = 0;
    if (read(wake_[0], &what, 1) != 1 || what == 0) return false;
  }
  const int64_t requests = down_requests_.load();
  if (down_.load()) {
    for (int fd : fds) close(fd);
    fds.clear();
    items.resize(2);
  }
  down_applied_.store(requests);
  std::vector<size_t> dead;  // pair indexes
  for (size_t i = 2; i < items.size(); ++i) {
    if (items[i].revents == 0) continue;
    const size_t index = i - 2;
    const int from = fds[index];
    const int to = fds[index ^ 1];
    char buf[16384];
    ssize_t n = recv(from, buf, sizeof(buf), 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      dead.push_back(index / 2);
      continue;
    }
    if (capture_) {
      MutexLock lock(&mu_);
      captured_.append(buf, static_cast<size_t>(n));
    }
    if (!WriteAll(to, buf, static_cast<size_t>(n))) dead.push_back(index / 2);
  }
  // Close dead pairs, highest first so indexes stay valid.
  std::vector<bool> gone(fds.size() / 2, false);
  for (size_t pair : dead) gone[pair] = true;
  for (size_t pair = gone.size(); pair-- > 0;) {
    if (!gone[pair]) continue;
    close(fds[2 * pair]);
    close(fds[2 * pair + 1]);
    fds.erase(fds.begin() + static_cast<ptrdiff_t>(2 * pair),
              fds.begin() + static_cast<ptrdiff_t>(2 * pair + 2));
  }
  if (items[1].revents & POLLIN) {
    int client = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (client < 0) return true;
    if (down_.load()) {  // a stopped server: the connection fails at once
      close(client);
      return true;
    }
    int target = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr = Loopback(target_port_);
    if (target < 0 || connect(target, reinterpret_cast<sockaddr*>(&addr),
                              sizeof(addr)) != 0) {
      close(client);
      if (target >= 0) close(target);
      return true;
    }
    fds.push_back(client);
    fds.push_back(target);
    connections_.fetch_add(1);
  }
  return true;
}

}  // namespace sluice::testing
