#include "platform/http/connection_gate.h"

#include <utility>

namespace sluice {

ConnectionGate::Ticket& ConnectionGate::Ticket::operator=(
    Ticket&& other) noexcept {
  if (this != &other) {
    Release();
    gate_ = other.gate_;
    client_ = std::move(other.client_);
    other.gate_ = nullptr;
  }
  return *this;
}

void ConnectionGate::Ticket::Release() {
  if (gate_ == nullptr) return;
  gate_->Release(client_);
  gate_ = nullptr;
}

ConnectionGate::Verdict ConnectionGate::Admit(const std::string& client,
                                              Ticket* ticket) {
  std::lock_guard<std::mutex> lock(mu_);
  if (total_ >= max_total_) return Verdict::kTooManyInAll;
  size_t& from_client = clients_[client];
  if (from_client >= max_per_client_) return Verdict::kTooManyFromClient;
  ++from_client;
  ++total_;
  Ticket admitted;
  admitted.gate_ = this;
  admitted.client_ = client;
  *ticket = std::move(admitted);
  return Verdict::kAdmitted;
}

size_t ConnectionGate::open() const {
  std::lock_guard<std::mutex> lock(mu_);
  return total_;
}

size_t ConnectionGate::open_from(const std::string& client) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto found = clients_.find(client);
  return found == clients_.end() ? 0 : found->second;
}

void ConnectionGate::Release(const std::string& client) {
  std::lock_guard<std::mutex> lock(mu_);
  auto found = clients_.find(client);
  if (found == clients_.end()) return;
  --total_;
  if (--found->second == 0) clients_.erase(found);
}

}  // namespace sluice
