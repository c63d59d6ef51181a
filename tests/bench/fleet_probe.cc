#include "tests/bench/fleet_probe.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <vector>

namespace fleet {

int PutRule(int port, const std::string& token, int64_t rule_id,
            const std::string& body, std::string* error) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) {
    *error = "socket() failed";
    return -1;
  }
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    close(fd);
    *error = "cannot connect to 127.0.0.1:" + std::to_string(port) +
             ": is the controller's --http there?";
    return -1;
  }
  const std::string request =
      "PUT /api/v1/rules/" + std::to_string(rule_id) +
      " HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer " + token +
      "\r\nContent-Type: application/json\r\nContent-Length: " +
      std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" + body;
  size_t off = 0;
  while (off < request.size()) {
    const ssize_t n = write(fd, request.data() + off, request.size() - off);
    if (n <= 0) break;
    off += static_cast<size_t>(n);
  }
  std::string response;
  char buf[4096];
  ssize_t n;
  while ((n = read(fd, buf, sizeof buf)) > 0) response.append(buf, n);
  close(fd);
  // "HTTP/1.1 200 OK"
  if (response.size() < 12 || response.compare(0, 5, "HTTP/") != 0) {
    *error = "no HTTP response from 127.0.0.1:" + std::to_string(port);
    return -1;
  }
  const int status = std::stoi(response.substr(9, 3));
  if (status != 200) *error = response;
  return status;
}

namespace {

// utime + stime from a /proc stat file, in seconds; -1 if unreadable.
double StatCpuSeconds(const std::string& path) {
  std::ifstream in(path);
  std::string text((std::istreambuf_iterator<char>(in)),
                   std::istreambuf_iterator<char>());
  const size_t paren = text.rfind(')');
  if (paren == std::string::npos) return -1;
  // After "pid (comm) ": state is field 3; utime and stime are 14 and 15.
  std::istringstream fields(text.substr(paren + 2));
  std::vector<std::string> f;
  std::string word;
  while (fields >> word && f.size() < 13) f.push_back(word);
  if (f.size() < 13) return -1;
  const double ticks = static_cast<double>(sysconf(_SC_CLK_TCK));
  return (std::stod(f[11]) + std::stod(f[12])) / ticks;
}

}  // namespace

double ProcessCpuSeconds(int pid) {
  return StatCpuSeconds("/proc/" + std::to_string(pid) + "/stat");
}

double ThreadCpuSeconds(int pid, const std::string& name) {
  double sum = 0;
  const std::string dir = "/proc/" + std::to_string(pid) + "/task";
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    std::ifstream comm(entry.path() / "comm");
    std::string thread_name;
    std::getline(comm, thread_name);
    if (thread_name != name) continue;
    const double cpu = StatCpuSeconds((entry.path() / "stat").string());
    if (cpu > 0) sum += cpu;
  }
  return sum;
}

int64_t ProcessRssBytes(int pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmRSS:", 0) == 0) {
      return std::stoll(line.substr(6)) * 1024;  // "VmRSS:  1234 kB"
    }
  }
  return -1;
}

}  // namespace fleet
