#include "tests/client/fake_agent.h"

#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <stdexcept>

namespace sluice::testing {
namespace {

// Parses one RESP array of bulk strings at the start of `buffer`; returns
// the bytes it took, 0 when incomplete.
size_t ParseArray(const std::string& buffer, std::vector<std::string>* args) {
  args->clear();
  size_t at = 0;
  auto line = [&](std::string* out) {
    size_t end = buffer.find("\r\n", at);
    if (end == std::string::npos) return false;
    *out = buffer.substr(at, end - at);
    at = end + 2;
    return true;
  };
  std::string header;
  if (!line(&header) || header.empty() || header[0] != '*') return 0;
  int count = std::stoi(header.substr(1));
  for (int i = 0; i < count; ++i) {
    std::string length;
    if (!line(&length) || length.empty() || length[0] != '$') return 0;
    size_t n = std::stoul(length.substr(1));
    if (buffer.size() < at + n + 2) return 0;
    args->push_back(buffer.substr(at, n));
    at += n + 2;
  }
  return at;
}

}  // namespace

std::string FakeAgent::Reply(int allowed, int limit, int remaining, int reset,
                             int retry) {
  return "*5\r\n:" + std::to_string(allowed) + "\r\n:" + std::to_string(limit) +
         "\r\n:" + std::to_string(remaining) + "\r\n:" + std::to_string(reset) +
         "\r\n:" + std::to_string(retry) + "\r\n";
}

FakeAgent::FakeAgent(Respond respond) : respond_(std::move(respond)) {
  char tmpl[] = "/tmp/sluice-fake-agent.XXXXXX";
  if (mkdtemp(tmpl) == nullptr) throw std::runtime_error("mkdtemp failed");
  dir_ = tmpl;
  socket_path_ = dir_ + "/agent.sock";
  listen_fd_ = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  strncpy(address.sun_path, socket_path_.c_str(), sizeof(address.sun_path) - 1);
  if (bind(listen_fd_, reinterpret_cast<sockaddr*>(&address),
           sizeof(address)) != 0 ||
      listen(listen_fd_, 64) != 0) {
    throw std::runtime_error("fake agent cannot listen on " + socket_path_);
  }
  acceptor_ = std::thread([this] { AcceptLoop(); });
}

FakeAgent::~FakeAgent() {
  stop_ = true;
  acceptor_.join();
  std::vector<std::thread> threads;
  {
    std::lock_guard<std::mutex> lock(mu_);
    threads.swap(threads_);
  }
  for (std::thread& t : threads) t.join();
  close(listen_fd_);
  unlink(socket_path_.c_str());
  rmdir(dir_.c_str());
}

void FakeAgent::AcceptLoop() {
  while (!stop_) {
    pollfd p{listen_fd_, POLLIN, 0};
    if (poll(&p, 1, 20) <= 0) continue;
    int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) continue;
    ++connections_;
    std::lock_guard<std::mutex> lock(mu_);
    threads_.emplace_back([this, fd] { Serve(fd); });
  }
}

void FakeAgent::Serve(int fd) {
  std::string buffer;
  std::vector<std::string> args;
  bool open = true;
  while (open && !stop_) {
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, 20) <= 0) continue;
    char chunk[4096];
    ssize_t n = recv(fd, chunk, sizeof(chunk), 0);
    if (n <= 0) break;
    buffer.append(chunk, static_cast<size_t>(n));
    while (open) {
      size_t used = ParseArray(buffer, &args);
      if (used == 0) break;
      buffer.erase(0, used);
      FakeAction action = respond_(requests_++, args);
      if (!action.reply.empty()) {
        send(fd, action.reply.data(), action.reply.size(), MSG_NOSIGNAL);
      }
      open = !action.close;
    }
  }
  close(fd);
}

}  // namespace sluice::testing
