#include "tests/integration/stack.h"

#include <cpprest/http_client.h>
#include <stdlib.h>
#include <unistd.h>

#include <cstdlib>
#include <stdexcept>
#include <thread>

#include "tests/support/free_port.h"

namespace sluice::testing {

RedisClient::RedisClient(const std::string& socket_path) {
  ctx_ = redisConnectUnix(socket_path.c_str());
  // Bounded: an agent that stops answering fails the call, not the run.
  if (connected()) redisSetTimeout(ctx_, {10, 0});
}

RedisClient::~RedisClient() {
  if (ctx_ != nullptr) redisFree(ctx_);
}

std::unique_ptr<redisReply, void (*)(void*)> RedisClient::Command(
    const std::vector<std::string>& argv) {
  std::vector<const char*> args;
  std::vector<size_t> lens;
  for (const auto& a : argv) {
    args.push_back(a.data());
    lens.push_back(a.size());
  }
  void* reply = nullptr;
  if (connected()) {
    reply = redisCommandArgv(ctx_, static_cast<int>(args.size()), args.data(),
                             lens.data());
  }
  return {static_cast<redisReply*>(reply), freeReplyObject};
}

CheckReply RedisClient::Check(const std::vector<std::string>& argv) {
  CheckReply out;
  auto reply = Command(argv);
  if (!reply) {
    out.error = "no reply (connection broken)";
    return out;
  }
  if (reply->type == REDIS_REPLY_ERROR) {
    out.error = reply->str;
    return out;
  }
  if (reply->type != REDIS_REPLY_ARRAY || reply->elements != 5) {
    out.error = "not a 5-element array";
    return out;
  }
  int64_t* fields[] = {&out.allowed, &out.limit, &out.remaining,
                       &out.reset_after_ms, &out.retry_after_ms};
  for (size_t i = 0; i < 5; ++i) {
    if (reply->element[i]->type != REDIS_REPLY_INTEGER) {
      out.error = "element " + std::to_string(i) + " is not an integer";
      return out;
    }
    *fields[i] = reply->element[i]->integer;
  }
  return out;
}

bool Eventually(std::chrono::milliseconds timeout,
                const std::function<bool()>& condition) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    if (condition()) return true;
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

Stack::Stack() {
  char tmpl[] = "/tmp/sluice-it.XXXXXX";
  if (mkdtemp(tmpl) == nullptr) throw std::runtime_error("mkdtemp failed");
  dir_ = tmpl;
  http_port_ = PickFreePort();
  agents_port_ = PickFreePort();
  metrics_port_ = PickFreePort();
}

Stack::~Stack() {
  for (auto& entry : agents_) entry.second->Stop();
  controller_.Stop();
  std::string cmd = "rm -rf '" + dir_ + "'";
  int ignored = std::system(cmd.c_str());
  (void)ignored;
}

std::string Stack::http_base() const {
  return "http://127.0.0.1:" + std::to_string(http_port_);
}

std::string Stack::socket_path(size_t index) const {
  return dir_ + (index == 0 ? std::string("/agent.sock")
                            : "/agent-" + std::to_string(index) + ".sock");
}

ChildProcess& Stack::agent(size_t index) {
  std::unique_ptr<ChildProcess>& slot = agents_[index];
  if (!slot) slot = std::make_unique<ChildProcess>();
  return *slot;
}

void Stack::StartController(const std::vector<std::string>& extra_args) {
  controller_args_ = extra_args;
  RestartController();
}

void Stack::RestartController() {
  std::vector<std::string> argv = {
      BuiltBinary("controller/sluice-controller"),
      "--db",
      db_.conninfo(),
      "--http",
      "127.0.0.1:" + std::to_string(http_port_),
      "--agents",
      "tcp://127.0.0.1:" + std::to_string(agents_port_),
      "--metrics",
      "127.0.0.1:" + std::to_string(metrics_port_)};
  argv.insert(argv.end(), controller_args_.begin(), controller_args_.end());
  controller_.Start(argv, {{"SLUICE_ADMIN_TOKEN", kToken}},
                    dir_ + "/controller.log");
  bool ready = Eventually(std::chrono::seconds(20), [&] {
    return controller_.Running() && Http("GET", "/readyz").status == 200;
  });
  if (!ready) {
    throw std::runtime_error("controller not ready:\n" + controller_.LogTail());
  }
}

void Stack::StartAgent(size_t index, const std::vector<std::string>& extra_args,
                       const std::map<std::string, std::string>& env) {
  ChildProcess& process = agent(index);
  const std::string id = index == 0 ? std::string("it-agent")
                                    : "it-agent-" + std::to_string(index);
  const std::string socket = socket_path(index);
  std::vector<std::string> argv = {
      BuiltBinary("agent/sluice-agent"),
      "--controller",
      "tcp://127.0.0.1:" + std::to_string(agents_port_),
      "--socket",
      socket,
      "--agent-id",
      id};
  argv.insert(argv.end(), extra_args.begin(), extra_args.end());
  process.Start(argv, env, dir_ + "/" + id + ".log");
  bool up = Eventually(std::chrono::seconds(10), [&] {
    if (!process.Running()) return false;
    RedisClient client(socket);
    auto reply = client.Command({"PING"});
    return reply && reply->type == REDIS_REPLY_STATUS;
  });
  if (!up) throw std::runtime_error("agent not up:\n" + process.LogTail());
}

double Stack::ControllerMetric(const std::string& name) {
  std::string body;
  try {
    web::http::client::http_client_config config;
    config.set_timeout(std::chrono::seconds(5));
    web::http::client::http_client client(
        "http://127.0.0.1:" + std::to_string(metrics_port_), config);
    auto response = client.request(web::http::methods::GET, "/metrics").get();
    if (response.status_code() != 200) return -1;
    body = response.extract_utf8string(true).get();
  } catch (const web::http::http_exception&) {
    return -1;
  }
  // Lines are "name value" (no labels) or "name{labels} value".
  size_t at = 0;
  while (at < body.size()) {
    size_t end = body.find('\n', at);
    if (end == std::string::npos) end = body.size();
    const std::string line = body.substr(at, end - at);
    at = end + 1;
    if (line.compare(0, name.size() + 1, name + " ") == 0) {
      return std::strtod(line.c_str() + name.size() + 1, nullptr);
    }
  }
  return -1;
}

HttpResult Stack::Http(const std::string& method, const std::string& path,
                       const std::string& body) {
  HttpResult result;
  try {
    web::http::client::http_client_config config;
    config.set_timeout(std::chrono::seconds(5));
    web::http::client::http_client client(http_base(), config);
    web::http::http_request request(method);
    request.set_request_uri(path);
    request.headers().add("Authorization", std::string("Bearer ") + kToken);
    if (!body.empty()) request.set_body(body, "application/json");
    auto response = client.request(request).get();
    result.status = response.status_code();
    result.body = response.extract_utf8string(true).get();
  } catch (const web::http::http_exception& e) {
    result.status = 0;
    result.body = e.what();
  }
  return result;
}

}  // namespace sluice::testing
