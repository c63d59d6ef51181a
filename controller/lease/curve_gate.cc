#include "controller/lease/curve_gate.h"

#include <utility>

#include "platform/curve_keys.h"

namespace sluice {
namespace {

constexpr size_t kMaxRefusedPeers = 4096;

}  // namespace

StatusOr<std::unique_ptr<CurveGate>> CurveGate::Configure(
    zmq::context_t* context, zmq::socket_t* router,
    const std::string& secret_key, const AllowedAgentKeys* allowed) {
  if (allowed == nullptr) {
    return Status::FailedPrecondition(
        "the lease server has a CurveZMQ key but no set of allowed agent "
        "keys: without one every agent that knows the server's public key "
        "would get in; give LeaseServerOptions::allowed_agent_keys");
  }
  StatusOr<std::string> secret =
      DecodeCurveKey(secret_key, "the controller's secret key");
  if (!secret.ok()) return secret.status();
  // The handler must be bound before the ROUTER accepts a handshake.
  auto zap = std::make_unique<ZapHandler>(context, allowed);
  Status started = zap->Start();
  if (!started.ok()) return started;
  std::unique_ptr<CurveGate> gate(new CurveGate(allowed, std::move(zap)));
  router->set(zmq::sockopt::curve_server, true);
  router->set(zmq::sockopt::curve_secretkey, *secret);
  router->set(zmq::sockopt::zap_domain, "sluice-agents");
  return gate;
}

CurveGate::CurveGate(const AllowedAgentKeys* allowed,
                     std::unique_ptr<ZapHandler> zap)
    : allowed_keys_(allowed),
      zap_(std::move(zap)),
      allowed_version_(allowed->version()),
      allowed_(allowed->Get()) {}

const char* CurveGate::KeyOf(const zmq::message_t& frame) {
  return zmq_msg_gets(frame.handle(), "User-Id");
}

const std::string* CurveGate::AllowedKeyOf(const zmq::message_t& frame) const {
  const char* key = KeyOf(frame);
  if (key == nullptr) return nullptr;
  auto it = allowed_->find(key);
  return it == allowed_->end() ? nullptr : &it->first;
}

bool CurveGate::Refresh() {
  const uint64_t version = allowed_keys_->version();
  if (version == allowed_version_) return false;
  allowed_ = allowed_keys_->Get();
  allowed_version_ = version;
  return true;
}

bool CurveGate::FirstRefusal(const std::string& peer) {
  if (refused_peers_.size() >= kMaxRefusedPeers) refused_peers_.clear();
  return refused_peers_.insert(peer).second;
}

}  // namespace sluice
