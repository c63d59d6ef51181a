// ConnectionGate: counts a server's open connections, in all and per client
// address, and admits a new one only below both caps, so no client can take
// every connection (and file descriptor) by opening many.
//
// Thread-safe.
#pragma once

#include <cstddef>
#include <mutex>
#include <string>
#include <unordered_map>

namespace sluice {

class ConnectionGate {
 public:
  enum class Verdict { kAdmitted, kTooManyInAll, kTooManyFromClient };

  // Holds one admitted connection's place; gives it back when destroyed.
  // Movable; the gate must outlive it.
  class Ticket {
   public:
    Ticket() = default;
    Ticket(Ticket&& other) noexcept { *this = std::move(other); }
    Ticket& operator=(Ticket&& other) noexcept;
    ~Ticket() { Release(); }
    bool held() const { return gate_ != nullptr; }

   private:
    friend class ConnectionGate;
    void Release();
    ConnectionGate* gate_ = nullptr;
    std::string client_;
  };

  ConnectionGate(size_t max_total, size_t max_per_client)
      : max_total_(max_total), max_per_client_(max_per_client) {}
  ConnectionGate(const ConnectionGate&) = delete;
  ConnectionGate& operator=(const ConnectionGate&) = delete;

  // `client` names the peer's address. kAdmitted fills *ticket.
  Verdict Admit(const std::string& client, Ticket* ticket);

  size_t open() const;
  size_t open_from(const std::string& client) const;

 private:
  void Release(const std::string& client);

  const size_t max_total_;
  const size_t max_per_client_;
  mutable std::mutex mu_;
  size_t total_ = 0;                                 // GUARDED_BY(mu_)
  std::unordered_map<std::string, size_t> clients_;  // GUARDED_BY(mu_)
};

}  // namespace sluice
