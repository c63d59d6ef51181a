// AllowedAgentKeys: the set of agent public keys allowed on the CurveZMQ
// agent channel, in memory, so that the ZAP handler and the lease server
// decide without the database.
//
// It follows agent_keys (controller/store/agent_key_store.h) two ways:
//   - Allow()/Revoke(): a change this process just committed, effective at
//     once (the API calls them right after its commit);
//   - BeginReload()/FinishReload(): the database's set, every second or so (the
//   controller's
//     sync loop), which brings in changes made through other controllers.
// A reload that read the database before a local change committed must not
// undo that change: each local change gets a sequence number, and
// FinishReload() re-applies the local changes made after its
// BeginReload(). So a revocation, once Revoke() returned, is never
// reinstated by a stale read, and an addition is never dropped by one.
//
// Readers take Get(): an immutable snapshot, shared, never changed in
// place; version() changes whenever the set does, so a reader on a hot path
// keeps its snapshot and compares versions (an atomic load).
//
// Until the first FinishReload() the set is empty: every agent is refused.
//
// Thread-safe.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/status.h"
#include "platform/mutex.h"

namespace sluice {

struct AllowedAgentKey {
  int64_t id = 0;
  std::string name;
  std::string public_key;  // Z85, 40 characters

  bool operator==(const AllowedAgentKey& o) const {
    return id == o.id && name == o.name && public_key == o.public_key;
  }
};

class AllowedAgentKeys {
 public:
  // By Z85 public key.
  using Map = std::unordered_map<std::string, AllowedAgentKey>;

  AllowedAgentKeys();

  // The current set; never null.
  std::shared_ptr<const Map> Get() const EXCLUDES(mu_);
  // Changes (increases) whenever Get() returns a different set.
  uint64_t version() const { return version_.load(); }
  // The key's entry when `public_key` (Z85) is allowed now.
  bool Find(const std::string& public_key, AllowedAgentKey* out) const
      EXCLUDES(mu_);

  // A key just committed as allowed / revoked (by id) in this process.
  void Allow(AllowedAgentKey key) EXCLUDES(mu_);
  void Revoke(int64_t id) EXCLUDES(mu_);

  // Replacing the set with the database's, keeping local changes made
  // meanwhile, in two halves around the read: BeginReload() before reading,
  // FinishReload() with what was read. A FinishReload() older than one
  // already finished is ignored. On a failed read, skip FinishReload(): the
  // set is left as it was.
  uint64_t BeginReload() EXCLUDES(mu_);
  void FinishReload(uint64_t begin, const std::vector<AllowedAgentKey>& keys)
      EXCLUDES(mu_);

 private:
  struct LocalChange {
    uint64_t seq;
    bool allow;           // true: Allow(key); false: Revoke(key.id)
    AllowedAgentKey key;  // for Revoke, only id is set
  };
  static void ApplyLocked(const LocalChange& change, Map* map);
  // Publishes `next` when it differs from the current set.
  void PublishLocked(Map next) REQUIRES(mu_);

  mutable Mutex mu_;
  std::shared_ptr<const Map> current_ GUARDED_BY(mu_);
  uint64_t next_seq_ GUARDED_BY(mu_) = 1;
  // Local changes that a reload in flight may not have seen, oldest first.
  std::vector<LocalChange> changes_ GUARDED_BY(mu_);
  uint64_t finished_begin_ GUARDED_BY(mu_) = 0;
  // Bumped under mu_ with current_; read without it by version().
  std::atomic<uint64_t> version_{1};
};

}  // namespace sluice
