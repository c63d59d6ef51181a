#include "tests/integration/cluster_stack.h"

#include <cpprest/http_client.h>
#include <stdlib.h>

#include <chrono>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <stdexcept>

#include "tests/support/free_port.h"

namespace sluice::testing {
namespace {

// The port named in a libpq connection string ("... port=5432 ...").
uint16_t PortOf(const std::string& conninfo) {
  const size_t at = conninfo.find("port=");
  if (at == std::string::npos) {
    throw std::runtime_error("SLUICE_TEST_DB names no port=: " + conninfo +
                             "; give the server as host=127.0.0.1 port=N");
  }
  return static_cast<uint16_t>(std::atoi(conninfo.c_str() + at + 5));
}

double ScrapeMetric(uint16_t port, const std::string& name) {
  std::string body;
  try {
    web::http::client::http_client_config config;
    config.set_timeout(std::chrono::seconds(5));
    web::http::client::http_client client(
        "http://127.0.0.1:" + std::to_string(port), config);
    auto response = client.request(web::http::methods::GET, "/metrics").get();
    if (response.status_code() != 200) return -1;
    body = response.extract_utf8string(true).get();
  } catch (const web::http::http_exception&) {
    return -1;
  }
  const std::string prefix = "\n" + name + " ";
  const size_t at = ("\n" + body).find(prefix);
  if (at == std::string::npos) return -1;
  return std::strtod(body.c_str() + at + prefix.size() - 1, nullptr);
}

}  // namespace

ClusterStack::ClusterStack(size_t controllers,
                           std::vector<std::string> controller_args)
    : controller_args_(std::move(controller_args)) {
  char tmpl[] = "/tmp/sluice-cluster.XXXXXX";
  if (mkdtemp(tmpl) == nullptr) throw std::runtime_error("mkdtemp failed");
  dir_ = tmpl;
  relay_ = std::make_unique<TcpRelay>(PortOf(TestDatabase::ServerConninfo()),
                                      /*capture=*/false);
  // libpq takes the last of a repeated keyword.
  conninfo_ =
      db_.conninfo() + " host=127.0.0.1 port=" + std::to_string(relay_->port());
  for (size_t i = 0; i < controllers; ++i) AddController();
}

ClusterStack::~ClusterStack() {
  for (auto& entry : agents_) entry.second.process->Stop();
  for (Slot& slot : slots_) slot.process->Stop();
  relay_.reset();
  std::string cmd = "rm -rf '" + dir_ + "'";
  int ignored = std::system(cmd.c_str());
  (void)ignored;
}

size_t ClusterStack::AddController() {
  Slot slot;
  slot.http = PickFreePort();
  slot.agents = PickFreePort();
  slot.metrics = PickFreePort();
  slot.process = std::make_unique<ChildProcess>();
  slots_.push_back(std::move(slot));
  return slots_.size() - 1;
}

std::string ClusterStack::endpoint(size_t i) const {
  return "tcp://127.0.0.1:" + std::to_string(slots_.at(i).agents);
}

std::string ClusterStack::socket_path(size_t i) const {
  return dir_ + "/agent-" + std::to_string(i) + ".sock";
}

void ClusterStack::StartController(size_t i) {
  Slot& slot = slots_.at(i);
  // At nice 10: in production the controllers run on hosts of their own,
  // not beside the agents and their clients. Here they share two cores
  // with them, and a controller's start (a second of a core) would be
  // measured as the agents' check latency.
  std::vector<std::string> argv = {"/usr/bin/nice",
                                   "-n",
                                   "10",
                                   BuiltBinary("controller/sluice-controller"),
                                   "--db",
                                   conninfo_,
                                   "--http",
                                   "127.0.0.1:" + std::to_string(slot.http),
                                   "--agents",
                                   endpoint(i),
                                   "--metrics",
                                   "127.0.0.1:" + std::to_string(slot.metrics)};
  argv.insert(argv.end(), controller_args_.begin(), controller_args_.end());
  slot.process->Start(argv, {{"SLUICE_ADMIN_TOKEN", Stack::kToken}},
                      dir_ + "/controller-" + std::to_string(i) + ".log");
  bool ready = Eventually(std::chrono::seconds(20), [&] {
    if (!slot.process->Running()) return false;
    ClusterHttpResult r = Http(i, "GET", "/readyz");
    if (r.status != 200) return false;
    const auto body = nlohmann::json::parse(r.body, nullptr, false);
    return body.is_object() && body.contains("cluster") &&
           body["cluster"].value("set_version", 0) > 0;
  });
  if (!ready) {
    throw std::runtime_error("controller " + std::to_string(i) +
                             " not ready:\n" + slot.process->LogTail());
  }
}

void ClusterStack::KillController(size_t i) { slots_.at(i).process->Kill(); }
void ClusterStack::StopController(size_t i) { slots_.at(i).process->Stop(); }
bool ClusterStack::Running(size_t i) { return slots_.at(i).process->Running(); }

void ClusterStack::StartAgent(size_t i,
                              const std::vector<size_t>& controllers) {
  std::string list;
  for (size_t c : controllers) list += (list.empty() ? "" : ",") + endpoint(c);
  Slot& slot = agents_[i];
  slot.metrics = PickFreePort();
  slot.process = std::make_unique<ChildProcess>();
  const std::string id = "it-agent-" + std::to_string(i);
  std::vector<std::string> argv = {BuiltBinary("agent/sluice-agent"),
                                   "--controller",
                                   list,
                                   "--socket",
                                   socket_path(i),
                                   "--agent-id",
                                   id,
                                   "--metrics",
                                   "127.0.0.1:" + std::to_string(slot.metrics)};
  slot.process->Start(argv, {}, dir_ + "/" + id + ".log");
  bool up = Eventually(std::chrono::seconds(10), [&] {
    if (!slot.process->Running()) return false;
    RedisClient client(socket_path(i));
    auto reply = client.Command({"PING"});
    return reply && reply->type == REDIS_REPLY_STATUS;
  });
  if (!up)
    throw std::runtime_error("agent not up:\n" + slot.process->LogTail());
}

ClusterHttpResult ClusterStack::Http(size_t i, const std::string& method,
                                     const std::string& path,
                                     const std::string& body,
                                     const std::string& if_match) {
  ClusterHttpResult result;
  try {
    web::http::client::http_client_config config;
    config.set_timeout(std::chrono::seconds(5));
    web::http::client::http_client client(
        "http://127.0.0.1:" + std::to_string(slots_.at(i).http), config);
    web::http::http_request request(method);
    request.set_request_uri(path);
    request.headers().add("Authorization",
                          std::string("Bearer ") + Stack::kToken);
    if (!if_match.empty()) request.headers().add("If-Match", if_match);
    if (!body.empty()) request.set_body(body, "application/json");
    auto response = client.request(request).get();
    result.status = response.status_code();
    result.body = response.extract_utf8string(true).get();
    auto etag = response.headers().find("ETag");
    if (etag != response.headers().end()) result.etag = etag->second;
  } catch (const web::http::http_exception& e) {
    result.status = 0;
    result.body = e.what();
  }
  return result;
}

double ClusterStack::ControllerMetric(size_t i, const std::string& name) {
  return ScrapeMetric(slots_.at(i).metrics, name);
}

double ClusterStack::AgentMetric(size_t i, const std::string& name) {
  return ScrapeMetric(agents_.at(i).metrics, name);
}

std::string ClusterStack::Logs() {
  std::string out;
  for (size_t i = 0; i < slots_.size(); ++i) {
    out += "--- controller " + std::to_string(i) + "\n" +
           slots_[i].process->LogTail(1500);
  }
  for (auto& entry : agents_) {
    out += "--- agent " + std::to_string(entry.first) + "\n" +
           entry.second.process->LogTail(1500);
  }
  return out;
}

}  // namespace sluice::testing
