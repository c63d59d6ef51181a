// door_load: a load client for the agent's front doors, for
// tests/bench/doors_vs_resp.sh (ghz and wrk are not in Debian).
//
//   door_load grpc|http HOST:PORT CLIENTS REQUESTS KEYS [DOMAIN]
//
// CLIENTS calls in flight at once, each waiting for its answer before the
// next (as redis-benchmark -P 1): gRPC over CLIENTS channels of their own
// (separate connections), HTTP/1.1 keep-alive over CLIENTS connections.
// Each check is DOMAIN (default api) with client=<random below KEYS>.
// Prints one CSV line:
//   mode,clients,requests,seconds,rps,p50_ms,p99_ms,refused,errors,
//   client_cpu_us_per_request
// The gRPC client runs on gRPC's threads, the HTTP client on one thread.
#include <grpcpp/grpcpp.h>
#include <sys/resource.h>

#include <algorithm>
#include <atomic>
#include <boost/asio.hpp>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <future>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <vector>

#include "envoy/service/ratelimit/v3/rls.grpc.pb.h"

namespace {

using Clock = std::chrono::steady_clock;
using envoy::service::ratelimit::v3::RateLimitRequest;
using envoy::service::ratelimit::v3::RateLimitResponse;
using envoy::service::ratelimit::v3::RateLimitService;

struct Options {
  std::string mode, address, domain = "api";
  int clients = 50;
  int64_t requests = 100000;
  int keys = 100000;
};

struct Totals {
  std::vector<double> latencies_ms;
  int64_t refused = 0;
  int64_t errors = 0;
};

double CpuSeconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return u.ru_utime.tv_sec + u.ru_stime.tv_sec +
         (u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

// --- gRPC: one channel and one call in flight per client ---------------

class GrpcClient {
 public:
  GrpcClient(const Options& o, int index, std::atomic<int64_t>* issued,
             std::promise<void>* all_done, std::atomic<int>* running)
      : o_(o),
        issued_(issued),
        all_done_(all_done),
        running_(running),
        rng_(index + 1) {
    grpc::ChannelArguments args;
    args.SetInt("sluice.bench.channel", index);  // a connection of its own
    stub_ = RateLimitService::NewStub(grpc::CreateCustomChannel(
        o.address, grpc::InsecureChannelCredentials(), args));
    request_.set_domain(o.domain);
    entry_ = request_.add_descriptors()->add_entries();
    entry_->set_key("client");
  }

  void Next() {
    if (issued_->fetch_add(1) >= o_.requests) {
      if (running_->fetch_sub(1) == 1) all_done_->set_value();
      return;
    }
    entry_->set_value(std::to_string(rng_() % o_.keys));
    // The finished call's context lives until the next one ends: this may
    // run inside its completion callback.
    previous_ = std::move(context_);
    context_ = std::make_unique<grpc::ClientContext>();
    started_ = Clock::now();
    stub_->async()->ShouldRateLimit(
        context_.get(), &request_, &response_, [this](grpc::Status status) {
          totals_.latencies_ms.push_back(
              std::chrono::duration<double, std::milli>(Clock::now() - started_)
                  .count());
          if (!status.ok()) {
            ++totals_.errors;
          } else if (response_.overall_code() != RateLimitResponse::OK) {
            ++totals_.refused;
          }
          Next();
        });
  }

  const Totals& totals() const { return totals_; }

 private:
  const Options& o_;
  std::atomic<int64_t>* issued_;
  std::promise<void>* all_done_;
  std::atomic<int>* running_;
  std::mt19937 rng_;
  std::unique_ptr<RateLimitService::Stub> stub_;
  RateLimitRequest request_;
  envoy::extensions::common::ratelimit::v3::RateLimitDescriptor::Entry* entry_;
  RateLimitResponse response_;
  std::unique_ptr<grpc::ClientContext> context_;
  std::unique_ptr<grpc::ClientContext> previous_;
  Clock::time_point started_;
  Totals totals_;
};

std::vector<Totals> RunGrpc(const Options& o) {
  std::atomic<int64_t> issued{0};
  std::atomic<int> running{o.clients};
  std::promise<void> all_done;
  std::vector<std::unique_ptr<GrpcClient>> clients;
  for (int i = 0; i < o.clients; ++i) {
    clients.push_back(
        std::make_unique<GrpcClient>(o, i, &issued, &all_done, &running));
  }
  // Connect first: the first calls should not pay for the handshakes.
  for (auto& c : clients) c->Next();
  all_done.get_future().wait();
  std::vector<Totals> out;
  for (auto& c : clients) out.push_back(c->totals());
  // The last callbacks may still be returning on gRPC's threads: the
  // clients stay (the process ends right after).
  for (auto& c : clients) c.release();
  return out;
}

// --- HTTP: one keep-alive connection per client, on one thread ---------

class HttpClient {
 public:
  HttpClient(boost::asio::io_context* io, const Options& o, int index,
             std::atomic<int64_t>* issued)
      : o_(o), issued_(issued), socket_(*io), rng_(index + 1) {}

  void Start(const boost::asio::ip::tcp::endpoint& endpoint) {
    socket_.connect(endpoint);
    socket_.set_option(boost::asio::ip::tcp::no_delay(true));
    Next();
  }
  const Totals& totals() const { return totals_; }

 private:
  void Next() {
    if (issued_->fetch_add(1) >= o_.requests) return;
    request_ = "GET /v1/check/" + o_.domain +
               "?client=" + std::to_string(rng_() % o_.keys) +
               " HTTP/1.1\r\nHost: bench\r\n\r\n";
    started_ = Clock::now();
    boost::asio::async_write(
        socket_, boost::asio::buffer(request_),
        [this](const boost::system::error_code& ec, size_t) {
          if (ec) return Fail();
          Read();
        });
  }

  void Read() {
    const size_t end = in_.find("\r\n\r\n");
    if (end != std::string::npos) {
      const size_t cl = in_.find("Content-Length: ");
      const size_t length = std::strtoul(in_.c_str() + cl + 16, nullptr, 10);
      if (in_.size() >= end + 4 + length) {
        const int status = std::atoi(in_.c_str() + 9);
        in_.erase(0, end + 4 + length);
        totals_.latencies_ms.push_back(
            std::chrono::duration<double, std::milli>(Clock::now() - started_)
                .count());
        if (status == 429) {
          ++totals_.refused;
        } else if (status != 200) {
          ++totals_.errors;
        }
        Next();
        return;
      }
    }
    socket_.async_read_some(
        boost::asio::buffer(buffer_),
        [this](const boost::system::error_code& ec, size_t n) {
          if (ec) return Fail();
          in_.append(buffer_, n);
          Read();
        });
  }

  void Fail() { ++totals_.errors; }

  const Options& o_;
  std::atomic<int64_t>* issued_;
  boost::asio::ip::tcp::socket socket_;
  std::mt19937 rng_;
  std::string request_;
  std::string in_;
  char buffer_[4096];
  Clock::time_point started_;
  Totals totals_;
};

std::vector<Totals> RunHttp(const Options& o) {
  boost::asio::io_context io(1);
  const size_t colon = o.address.rfind(':');
  const boost::asio::ip::tcp::endpoint endpoint(
      boost::asio::ip::make_address(o.address.substr(0, colon)),
      static_cast<uint16_t>(std::atoi(o.address.c_str() + colon + 1)));
  std::atomic<int64_t> issued{0};
  std::vector<std::unique_ptr<HttpClient>> clients;
  for (int i = 0; i < o.clients; ++i) {
    clients.push_back(std::make_unique<HttpClient>(&io, o, i, &issued));
    clients.back()->Start(endpoint);
  }
  io.run();
  std::vector<Totals> out;
  for (auto& c : clients) out.push_back(c->totals());
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 6) {
    std::fprintf(stderr,
                 "usage: door_load grpc|http HOST:PORT CLIENTS REQUESTS KEYS "
                 "[DOMAIN]\n");
    return 2;
  }
  Options o;
  o.mode = argv[1];
  o.address = argv[2];
  o.clients = std::max(1, std::atoi(argv[3]));
  o.requests = std::atoll(argv[4]);
  o.keys = std::max(1, std::atoi(argv[5]));
  if (argc > 6) o.domain = argv[6];
  if (o.mode != "grpc" && o.mode != "http") {
    std::fprintf(stderr, "mode must be grpc or http, got %s\n", argv[1]);
    return 2;
  }
  const double cpu_before = CpuSeconds();
  const auto started = Clock::now();
  const std::vector<Totals> parts = o.mode == "grpc" ? RunGrpc(o) : RunHttp(o);
  const double seconds =
      std::chrono::duration<double>(Clock::now() - started).count();
  const double cpu = CpuSeconds() - cpu_before;
  std::vector<double> all;
  int64_t refused = 0;
  int64_t errors = 0;
  for (const Totals& t : parts) {
    all.insert(all.end(), t.latencies_ms.begin(), t.latencies_ms.end());
    refused += t.refused;
    errors += t.errors;
  }
  std::sort(all.begin(), all.end());
  auto at = [&all](double q) {
    return all.empty() ? 0.0 : all[static_cast<size_t>(q * (all.size() - 1))];
  };
  std::printf("%s,%d,%zu,%.3f,%.0f,%.3f,%.3f,%lld,%lld,%.3f\n", o.mode.c_str(),
              o.clients, all.size(), seconds, all.size() / seconds, at(0.5),
              at(0.99), static_cast<long long>(refused),
              static_cast<long long>(errors),
              all.empty() ? 0.0 : cpu * 1e6 / all.size());
  return errors == 0 ? 0 : 1;
}
