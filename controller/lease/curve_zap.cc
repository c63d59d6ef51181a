#include "controller/lease/curve_zap.h"

#include <cerrno>
#include <chrono>
#include <iterator>
#include <string_view>
#include <zmq_addon.hpp>

#include "platform/curve_keys.h"
#include "platform/log.h"

namespace sluice {
namespace {

constexpr std::string_view kLog = "zap";
constexpr std::chrono::milliseconds kPollInterval{20};
constexpr int64_t kRelogNanos = 60LL * 1000 * 1000 * 1000;
constexpr size_t kMaxLoggedKeys = 4096;

int64_t SteadyNanos() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

std::vector<std::string> Reply(const std::string& request_id,
                               const char* status, const std::string& text,
                               const std::string& user_id) {
  return {"1.0", request_id, status, text, user_id, ""};
}

}  // namespace

ZapHandler::ZapHandler(zmq::context_t* context, const AllowedAgentKeys* allowed)
    : context_(context), allowed_(allowed) {}

ZapHandler::~ZapHandler() { Stop(); }

Status ZapHandler::Start() {
  if (thread_.joinable()) {
    return Status::FailedPrecondition("the ZAP handler is already running");
  }
  try {
    auto socket =
        std::make_unique<zmq::socket_t>(*context_, zmq::socket_type::rep);
    socket->set(zmq::sockopt::linger, 0);
    socket->bind(kEndpoint);
    socket_ = std::move(socket);
  } catch (const zmq::error_t& e) {
    return Status::Unavailable(
        std::string("cannot bind the CurveZMQ authentication handler on ") +
        kEndpoint + ": " + e.what() +
        "; expected one handler per ZeroMQ context");
  }
  stop_.store(false);
  thread_ = std::thread([this] { Run(); });
  return Status::Ok();
}

void ZapHandler::Stop() {
  stop_.store(true);
  if (thread_.joinable()) thread_.join();
  socket_.reset();
}

void ZapHandler::Run() {
  while (!stop_.load()) {
    try {
      zmq::pollitem_t item{socket_->handle(), 0, ZMQ_POLLIN, 0};
      zmq::poll(&item, 1, kPollInterval);
      if ((item.revents & ZMQ_POLLIN) == 0) continue;
      std::vector<zmq::message_t> parts;
      if (!zmq::recv_multipart(*socket_, std::back_inserter(parts),
                               zmq::recv_flags::dontwait)) {
        continue;
      }
      std::vector<std::string> request;
      request.reserve(parts.size());
      for (const zmq::message_t& part : parts) {
        request.push_back(part.to_string());
      }
      const std::vector<std::string> reply = Answer(request);
      for (size_t i = 0; i < reply.size(); ++i) {
        socket_->send(zmq::buffer(reply[i]), i + 1 < reply.size()
                                                 ? zmq::send_flags::sndmore
                                                 : zmq::send_flags::none);
      }
    } catch (const zmq::error_t& e) {
      if (e.num() == ETERM) break;
      if (e.num() != EINTR) {
        LogError(kLog, std::string("ZeroMQ error on the ZAP handler: ") +
                           e.what() + "; continuing");
      }
    }
  }
}

std::vector<std::string> ZapHandler::Answer(
    const std::vector<std::string>& request) {
  // [version, request id, domain, address, routing id, mechanism, key...]
  const std::string request_id = request.size() > 1 ? request[1] : "";
  if (request.size() < 6 || request[0] != "1.0") {
    refused_.fetch_add(1);
    LogRefusal("", "", "a malformed ZAP request");
    return Reply(request_id, "500", "malformed ZAP request", "");
  }
  const std::string& address = request[3];
  const std::string& mechanism = request[5];
  if (mechanism != "CURVE" || request.size() != 7 ||
      request[6].size() != kCurveKeyBytes) {
    refused_.fetch_add(1);
    LogRefusal("", address, "mechanism " + mechanism + " (CURVE expected)");
    return Reply(request_id, "400", "CurveZMQ required", "");
  }
  const std::string key = EncodeCurveKey(request[6]);
  AllowedAgentKey entry;
  if (!allowed_->Find(key, &entry)) {
    refused_.fetch_add(1);
    LogRefusal(key, address, "the key is not an allowed agent key");
    return Reply(request_id, "400", "unknown or revoked agent key", "");
  }
  accepted_.fetch_add(1);
  return Reply(request_id, "200", "OK", key);
}

void ZapHandler::LogRefusal(const std::string& key, const std::string& address,
                            const std::string& why) {
  const int64_t now = SteadyNanos();
  const std::string slot = key.empty() ? "-" + address : key;
  auto it = logged_.find(slot);
  if (it != logged_.end() && now - it->second < kRelogNanos) return;
  if (logged_.size() >= kMaxLoggedKeys) logged_.clear();
  logged_[slot] = now;
  std::string line = "refused an agent";
  if (!address.empty()) line += " from " + address;
  if (!key.empty()) line += " with public key " + key;
  line += ": " + why +
          "; to let it in, an admin adds its public key with POST "
          "/api/v1/agent-keys (logged once a minute per key)";
  LogWarn(kLog, line);
}

}  // namespace sluice
