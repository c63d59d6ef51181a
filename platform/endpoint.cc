#include "platform/endpoint.h"

#include <cstdlib>

namespace sluice {
namespace {

constexpr std::string_view kForm =
    "; write HOST:PORT, e.g. 127.0.0.1:8080, localhost:8080 or [::1]:8080";

bool IsDigits(std::string_view text) {
  if (text.empty()) return false;
  for (char c : text) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}

// Dotted-quad IPv4 ("127.0.0.1"): four decimal parts 0..255. Writes the
// first part to *first.
bool ParseIpv4(std::string_view host, int* first) {
  int parts = 0;
  while (true) {
    size_t dot = host.find('.');
    std::string_view part = host.substr(0, dot);
    if (!IsDigits(part) || part.size() > 3) return false;
    int value = std::atoi(std::string(part).c_str());
    if (value > 255) return false;
    if (parts == 0) *first = value;
    ++parts;
    if (dot == std::string_view::npos) break;
    host.remove_prefix(dot + 1);
  }
  return parts == 4;
}

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    char x =
        a[i] >= 'A' && a[i] <= 'Z' ? static_cast<char>(a[i] - 'A' + 'a') : a[i];
    if (x != b[i]) return false;
  }
  return true;
}

}  // namespace

StatusOr<HostPort> ParseHostPort(std::string_view text, bool allow_zero) {
  const std::string quoted = "'" + std::string(text) + "'";
  size_t colon = text.rfind(':');
  if (colon == std::string_view::npos || colon + 1 == text.size()) {
    return Status::InvalidArgument("address " + quoted + " has no port" +
                                   std::string(kForm));
  }
  std::string_view host = text.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  } else if (host.find(':') != std::string_view::npos) {
    return Status::InvalidArgument("address " + quoted +
                                   ": an IPv6 host needs brackets" +
                                   std::string(kForm));
  }
  if (host.empty()) {
    return Status::InvalidArgument("address " + quoted + " has no host" +
                                   std::string(kForm));
  }
  for (char c : host) {
    if (c == ' ' || c == '/' || c == '[' || c == ']' ||
        static_cast<unsigned char>(c) < 0x20) {
      return Status::InvalidArgument(
          "address " + quoted + " has a malformed host" + std::string(kForm));
    }
  }
  std::string_view port_text = text.substr(colon + 1);
  if (!IsDigits(port_text)) {
    return Status::InvalidArgument("address " + quoted + ": port '" +
                                   std::string(port_text) +
                                   "' is not a number" + std::string(kForm));
  }
  // Leading zeros are harmless; more than 5 significant digits is too big.
  size_t first_nonzero = port_text.find_first_not_of('0');
  std::string_view digits = first_nonzero == std::string_view::npos
                                ? std::string_view("0")
                                : port_text.substr(first_nonzero);
  long port = digits.size() > 5
                  ? 100000
                  : std::strtol(std::string(digits).c_str(), nullptr, 10);
  const long min_port = allow_zero ? 0 : 1;
  if (port < min_port || port > 65535) {
    return Status::InvalidArgument(
        "address " + quoted + ": port " + std::string(port_text) +
        " is out of range; use " + (allow_zero ? "0" : "1") + " to 65535" +
        (allow_zero ? " (0 picks a free port)" : ""));
  }
  return HostPort{std::string(host), static_cast<uint16_t>(port)};
}

bool IsLoopbackHost(std::string_view host) {
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  if (EqualsIgnoreCase(host, "localhost") || host == "::1" ||
      host == "0:0:0:0:0:0:0:1") {
    return true;
  }
  // An IPv4-mapped IPv6 address of 127/8.
  for (std::string_view prefix : {"::ffff:", "::FFFF:"}) {
    if (host.substr(0, prefix.size()) == prefix) {
      host.remove_prefix(prefix.size());
      break;
    }
  }
  int first = -1;
  return ParseIpv4(host, &first) && first == 127;
}

bool IsLoopbackZmqEndpoint(std::string_view endpoint) {
  if (endpoint.rfind("inproc://", 0) == 0 || endpoint.rfind("ipc://", 0) == 0) {
    return true;
  }
  if (endpoint.rfind("tcp://", 0) != 0) return false;
  std::string_view rest = endpoint.substr(6);
  // "tcp://SOURCE;HOST:PORT" connects from SOURCE to HOST: HOST decides.
  size_t semicolon = rest.rfind(';');
  if (semicolon != std::string_view::npos) rest.remove_prefix(semicolon + 1);
  size_t colon = rest.rfind(':');
  if (colon == std::string_view::npos) return false;
  return IsLoopbackHost(rest.substr(0, colon));
}

Status CheckAgentChannel(std::string_view flag, std::string_view endpoint,
                         bool have_keys, bool insecure,
                         std::string_view keys_hint) {
  if (have_keys || insecure || IsLoopbackZmqEndpoint(endpoint)) {
    return Status::Ok();
  }
  return Status::FailedPrecondition(
      std::string(flag) + " " + std::string(endpoint) +
      " is not a loopback endpoint and no CurveZMQ key is given: the agent "
      "channel would be neither encrypted nor authenticated. Give " +
      std::string(keys_hint) +
      ", use a loopback endpoint such as tcp://127.0.0.1:7070, or pass "
      "--insecure (SLUICE_INSECURE=1) on a network you trust");
}

}  // namespace sluice
