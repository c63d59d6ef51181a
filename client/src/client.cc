#include "sluice/client.h"

#include <algorithm>
#include <atomic>
#include <mutex>
#include <utility>

#include "connection.h"
#include "resp_codec.h"

namespace sluice::client {

using internal::CheckReply;
using internal::Clock;
using internal::Connection;

std::string_view ErrorName(Error error) {
  switch (error) {
    case Error::kNone:
      return "none";
    case Error::kUnreachable:
      return "unreachable";
    case Error::kTimeout:
      return "timeout";
    case Error::kConnectionLost:
      return "connection_lost";
    case Error::kMalformedReply:
      return "malformed_reply";
    case Error::kAgentError:
      return "agent_error";
    case Error::kBackingOff:
      return "backing_off";
  }
  return "unknown";
}

namespace {

struct Counters {
  std::atomic<uint64_t> allowed{0}, refused{0}, failed_open{0},
      failed_closed{0}, unreachable{0}, timeouts{0}, connections_lost{0},
      malformed_replies{0}, agent_errors{0}, backing_off{0},
      connections_opened{0};
};

void Bump(std::atomic<uint64_t>& counter, uint64_t by = 1) {
  counter.fetch_add(by, std::memory_order_relaxed);
}

}  // namespace

class Client::Impl {
 public:
  explicit Impl(ClientOptions options) : options_(std::move(options)) {}

  // Sends what `encode` writes (`count` RL.CHECKs) and fills out[0..count).
  template <typename Encode>
  void Call(size_t count, const Encode& encode, Decision* out);

  ClientStats Stats() const;
  const ClientOptions& options() const { return options_; }

 private:
  bool BackingOff();
  void StartBackOff();
  std::unique_ptr<Connection> Acquire(std::string* error);
  void Release(std::unique_ptr<Connection> connection);
  void Decide(const CheckReply& reply, Decision* out);
  void Fail(Error error, const std::string& message, Decision* out,
            size_t count);

  const ClientOptions options_;
  Counters counters_;
  // Steady-clock nanoseconds until which calls back off; 0: not backing off.
  std::atomic<int64_t> back_off_until_{0};
  std::mutex mu_;
  std::vector<std::unique_ptr<Connection>> idle_;  // guarded by mu_
};

template <typename Encode>
void Client::Impl::Call(size_t count, const Encode& encode, Decision* out) {
  if (count == 0) return;
  if (BackingOff()) {
    Bump(counters_.backing_off);
    Fail(Error::kBackingOff,
         "the agent failed within the last retry_after_failure; not tried", out,
         count);
    return;
  }
  std::string error;
  std::unique_ptr<Connection> connection = Acquire(&error);
  if (connection == nullptr) {
    Bump(counters_.unreachable);
    StartBackOff();
    Fail(Error::kUnreachable, error, out, count);
    return;
  }
  encode(&connection->request());
  const Clock::time_point deadline = Clock::now() + options_.call_timeout;
  Error failure = connection->Send(deadline, &error);
  size_t done = 0;
  CheckReply reply;
  while (failure == Error::kNone && done < count) {
    failure = connection->ReadReply(deadline, &reply, &error);
    if (failure == Error::kNone) Decide(reply, &out[done++]);
  }
  if (failure == Error::kNone) {
    Release(std::move(connection));
    return;
  }
  // The connection is out of step with its replies: it is closed here.
  switch (failure) {
    case Error::kTimeout:
      Bump(counters_.timeouts);
      StartBackOff();
      break;
    case Error::kMalformedReply:
      Bump(counters_.malformed_replies);
      break;
    default:
      Bump(counters_.connections_lost);
      break;
  }
  Fail(failure, error, out + done, count - done);
}

void Client::Impl::Decide(const CheckReply& reply, Decision* out) {
  if (reply.is_error) {
    Bump(counters_.agent_errors);
    Fail(Error::kAgentError,
         "the agent refused the request: " + std::string(reply.error), out, 1);
    return;
  }
  out->allowed = reply.values[0] == 1;
  out->limit = reply.values[1];
  out->remaining = reply.values[2];
  out->reset_after_ms = reply.values[3];
  out->retry_after_ms = reply.values[4];
  out->error = Error::kNone;
  out->error_message.clear();
  Bump(out->allowed ? counters_.allowed : counters_.refused);
}

void Client::Impl::Fail(Error error, const std::string& message, Decision* out,
                        size_t count) {
  const bool open = options_.failure_policy == FailurePolicy::kOpen;
  const int64_t retry_ms = std::max<int64_t>(
      1, static_cast<int64_t>(options_.retry_after_failure.count()));
  for (size_t i = 0; i < count; ++i) {
    out[i].allowed = open;
    out[i].limit = -1;
    out[i].remaining = -1;
    out[i].reset_after_ms = 0;
    out[i].retry_after_ms = open ? 0 : retry_ms;
    out[i].error = error;
    out[i].error_message = message;
  }
  Bump(open ? counters_.failed_open : counters_.failed_closed, count);
}

bool Client::Impl::BackingOff() {
  int64_t until = back_off_until_.load(std::memory_order_relaxed);
  if (until == 0) return false;
  int64_t now = Clock::now().time_since_epoch().count();
  if (now < until) return true;
  back_off_until_.compare_exchange_strong(until, 0, std::memory_order_relaxed);
  return false;
}

void Client::Impl::StartBackOff() {
  if (options_.retry_after_failure.count() <= 0) return;
  auto until = Clock::now() + options_.retry_after_failure;
  back_off_until_.store(until.time_since_epoch().count(),
                        std::memory_order_relaxed);
}

std::unique_ptr<Connection> Client::Impl::Acquire(std::string* error) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!idle_.empty()) {
      std::unique_ptr<Connection> connection = std::move(idle_.back());
      idle_.pop_back();
      return connection;
    }
  }
  std::unique_ptr<Connection> connection =
      Connection::Open(options_.socket_path, options_.connect_timeout,
                       options_.call_timeout, error);
  if (connection != nullptr) Bump(counters_.connections_opened);
  return connection;
}

void Client::Impl::Release(std::unique_ptr<Connection> connection) {
  if (!connection->idle()) return;  // unexpected extra bytes: drop it
  std::lock_guard<std::mutex> lock(mu_);
  if (idle_.size() < options_.max_idle_connections) {
    idle_.push_back(std::move(connection));
  }
}

ClientStats Client::Impl::Stats() const {
  auto get = [](const std::atomic<uint64_t>& counter) {
    return counter.load(std::memory_order_relaxed);
  };
  ClientStats s;
  s.allowed = get(counters_.allowed);
  s.refused = get(counters_.refused);
  s.failed_open = get(counters_.failed_open);
  s.failed_closed = get(counters_.failed_closed);
  s.unreachable = get(counters_.unreachable);
  s.timeouts = get(counters_.timeouts);
  s.connections_lost = get(counters_.connections_lost);
  s.malformed_replies = get(counters_.malformed_replies);
  s.agent_errors = get(counters_.agent_errors);
  s.backing_off = get(counters_.backing_off);
  s.connections_opened = get(counters_.connections_opened);
  return s;
}

Client::Client(ClientOptions options)
    : impl_(std::make_unique<Impl>(std::move(options))) {}

Client::~Client() = default;

Decision Client::Check(std::string_view domain, int64_t cost,
                       std::initializer_list<Entry> descriptor) {
  return Check(domain, cost, descriptor.begin(), descriptor.size());
}

Decision Client::Check(std::string_view domain, int64_t cost,
                       const std::vector<Entry>& descriptor) {
  return Check(domain, cost, descriptor.data(), descriptor.size());
}

Decision Client::Check(std::string_view domain, int64_t cost,
                       const Entry* entries, size_t count) {
  Decision decision;
  impl_->Call(
      1,
      [&](std::string* request) {
        internal::AppendCheck(domain, cost, entries, count, request);
      },
      &decision);
  return decision;
}

void Client::CheckBatch(const std::vector<CheckRequest>& requests,
                        std::vector<Decision>* out) {
  out->resize(requests.size());
  impl_->Call(
      requests.size(),
      [&](std::string* request) {
        for (const CheckRequest& r : requests) {
          internal::AppendCheck(r.domain, r.cost, r.descriptor.data(),
                                r.descriptor.size(), request);
        }
      },
      out->data());
}

ClientStats Client::stats() const { return impl_->Stats(); }

const ClientOptions& Client::options() const { return impl_->options(); }

}  // namespace sluice::client
