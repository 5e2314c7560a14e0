#include "tests/support/nats_cluster.h"

#include <unistd.h>

#include <algorithm>
#include <nlohmann/json.hpp>
#include <stdexcept>

#include "tests/support/loopback.h"
#include "tests/support/wait.h"

namespace proxyos::testing {
namespace {

constexpr std::chrono::milliseconds kProbeTimeout{2000};

// HTTP/1.0 so that the monitoring server answers without chunked encoding
// (the /jsz document can be larger than its write buffer).
std::optional<std::string> monitorGet(uint16_t port, const std::string& path) {
  auto reply = loopbackRoundTrip(port, "GET " + path + " HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n", kProbeTimeout);
  if (!reply) return std::nullopt;
  const auto body = reply->find("\r\n\r\n");
  if (reply->rfind("HTTP/1.", 0) != 0 || body == std::string::npos) return std::nullopt;
  return reply->substr(0, reply->find("\r\n")) + "\n" + reply->substr(body + 4);
}

bool statusIs200(const std::optional<std::string>& reply) {
  return reply && reply->find(" 200") != std::string::npos && reply->find(" 200") < reply->find('\n');
}

std::string bodyOf(const std::string& reply) { return reply.substr(reply.find('\n') + 1); }

}  // namespace

NatsCluster::NatsCluster(int nodes, std::string clusterName) : clusterName_(std::move(clusterName)) {
  static int counter = 0;
  const std::string prefix = "proxyos-" + std::to_string(::getpid()) + "-" + std::to_string(counter++) + "-n";
  for (int i = 0; i < nodes; ++i) {
    auto node = std::make_unique<Node>();
    node->name = prefix + std::to_string(i);
    do {
      node->clusterPort = freePort();
    } while (std::any_of(nodes_.begin(), nodes_.end(), [&](const auto& n) { return n->clusterPort == node->clusterPort; }));
    Node* raw = node.get();
    node->server = std::make_unique<ServerProcess>(ServerProcess::Spec{
        .name = "nats-" + std::to_string(i),
        .binary = "nats-server",
        .portCount = 2,  // client, monitoring; the cluster port is fixed up front (every node routes to it)
        .args =
            [this, raw, i](const std::vector<uint16_t>& ports, const std::string& dir) {
              std::vector<std::string> args{"-js", "-sd", dir + "/store", "-a", "127.0.0.1",
                                            "-p", std::to_string(ports[0]), "-m", std::to_string(ports[1]),
                                            "-n", raw->name, "--cluster_name", clusterName_,
                                            "--cluster", "nats://127.0.0.1:" + std::to_string(raw->clusterPort)};
              std::string routes;
              for (const auto& r : routesFor(i)) routes += (routes.empty() ? "" : ",") + r;
              if (!routes.empty()) {
                args.push_back("--routes");
                args.push_back(routes);
              }
              return args;
            },
        // Up = the monitoring port names this node. JetStream health needs a
        // quorum, so it is waited for across the cluster (waitHealthy).
        .ready =
            [raw](const std::vector<uint16_t>& ports, pid_t) {
              auto varz = monitorGet(ports[1], "/varz");
              return statusIs200(varz) && varz->find("\"server_name\": \"" + raw->name + "\"") != std::string::npos;
            },
        .env = {},
        .startTimeout = std::chrono::seconds(10),
    });
    nodes_.push_back(std::move(node));
  }
}

NatsCluster::~NatsCluster() = default;

std::vector<std::string> NatsCluster::routesFor(int i) const {
  std::vector<std::string> out;
  for (int j = 0; j < size(); ++j)
    if (j != i) out.push_back("nats://127.0.0.1:" + std::to_string(nodes_[static_cast<size_t>(j)]->clusterPort));
  return out;
}

void NatsCluster::start(std::chrono::milliseconds timeout) {
  for (auto& node : nodes_) node->server->start();
  if (!waitHealthy(timeout)) {
    std::string logs;
    for (int i = 0; i < size(); ++i) logs += "\n--- node " + std::to_string(i) + ":\n" + logTail(i, 1500);
    throw std::runtime_error("the NATS cluster did not become healthy" + logs);
  }
}

void NatsCluster::kill(int i) { nodes_.at(static_cast<size_t>(i))->server->kill(); }
void NatsCluster::stop(int i) { nodes_.at(static_cast<size_t>(i))->server->stop(); }
void NatsCluster::restart(int i) { nodes_.at(static_cast<size_t>(i))->server->restart(); }
bool NatsCluster::running(int i) { return nodes_.at(static_cast<size_t>(i))->server->running(); }

uint16_t NatsCluster::clientPort(int i) const { return nodes_.at(static_cast<size_t>(i))->server->port(); }

uint16_t NatsCluster::monitorPort(int i) const {
  const auto& ports = nodes_.at(static_cast<size_t>(i))->server->ports();
  return ports.size() > 1 ? ports[1] : 0;
}

std::string NatsCluster::url(int i) const { return "nats://127.0.0.1:" + std::to_string(clientPort(i)); }

std::vector<std::string> NatsCluster::urls() const {
  std::vector<std::string> out;
  for (int i = 0; i < size(); ++i) out.push_back(url(i));
  return out;
}

std::vector<std::string> NatsCluster::urlsExcept(int i) const {
  std::vector<std::string> out;
  for (int j = 0; j < size(); ++j)
    if (j != i) out.push_back(url(j));
  return out;
}

std::string NatsCluster::urlList() const {
  std::string out;
  for (const auto& u : urls()) out += (out.empty() ? "" : ",") + u;
  return out;
}

std::optional<int> NatsCluster::nodeNamed(const std::string& name) const {
  for (int i = 0; i < size(); ++i)
    if (serverName(i) == name) return i;
  return std::nullopt;
}

bool NatsCluster::waitHealthy(std::chrono::milliseconds timeout) {
  return waitUntil(
      [&] {
        for (int i = 0; i < size(); ++i)
          if (running(i) && !statusIs200(monitorGet(monitorPort(i), "/healthz"))) return false;
        return true;
      },
      timeout, std::chrono::milliseconds(100));
}

std::optional<std::string> NatsCluster::jsz(int i) {
  auto reply = monitorGet(monitorPort(i), "/jsz?accounts=true&streams=true&consumers=true");
  if (!statusIs200(reply)) return std::nullopt;
  return bodyOf(*reply);
}

std::vector<std::string> NatsCluster::jszOfRunningNodes() {
  std::vector<std::string> out;
  for (int i = 0; i < size(); ++i)
    if (running(i))
      if (auto body = jsz(i)) out.push_back(std::move(*body));
  return out;
}

namespace {
// Calls visit(detail) for each detail of `stream` in the /jsz documents, in
// order, until it returns true.
template <class Visit>
void forEachStreamDetail(const std::vector<std::string>& documents, const std::string& stream, Visit&& visit) {
  for (const auto& body : documents) {
    auto doc = nlohmann::json::parse(body, nullptr, false);
    if (doc.is_discarded() || !doc.contains("account_details")) continue;
    for (const auto& account : doc["account_details"]) {
      if (!account.contains("stream_detail")) continue;
      for (const auto& s : account["stream_detail"])
        if (s.value("name", "") == stream && visit(s)) return;
    }
  }
}
}  // namespace

std::optional<int> NatsCluster::metaLeader() {
  for (const auto& body : jszOfRunningNodes()) {
    auto doc = nlohmann::json::parse(body, nullptr, false);
    if (doc.is_discarded()) continue;
    const auto leader = doc.value("/meta_cluster/leader"_json_pointer, std::string());
    if (auto n = nodeNamed(leader); n && running(*n)) return n;
  }
  return std::nullopt;
}

std::optional<int> NatsCluster::streamLeader(const std::string& stream) { return leaderOf(stream, std::nullopt); }

std::optional<int> NatsCluster::consumerLeader(const std::string& stream, const std::string& consumer) {
  return leaderOf(stream, consumer);
}

std::optional<int> NatsCluster::leaderOf(const std::string& stream, const std::optional<std::string>& consumer) {
  std::optional<int> found;
  forEachStreamDetail(jszOfRunningNodes(), stream, [&](const nlohmann::json& s) {
    std::string leader;
    if (!consumer) {
      leader = s.value("/cluster/leader"_json_pointer, std::string());
    } else if (s.contains("consumer_detail")) {
      for (const auto& c : s["consumer_detail"])
        if (*consumer == "*" || c.value("name", "") == *consumer)
          leader = c.value("/cluster/leader"_json_pointer, std::string());
    }
    if (auto n = nodeNamed(leader); n && running(*n)) found = n;
    return found.has_value();
  });
  return found;
}

std::map<std::string, int> NatsCluster::consumerHosts(const std::string& stream) {
  std::map<std::string, int> out;
  forEachStreamDetail(jszOfRunningNodes(), stream, [&](const nlohmann::json& s) {
    if (!s.contains("consumer_detail")) return false;
    for (const auto& c : s["consumer_detail"]) {
      auto n = nodeNamed(c.value("/cluster/leader"_json_pointer, std::string()));
      auto& host = out.try_emplace(c.value("name", ""), -1).first->second;
      if (n && running(*n)) host = *n;
    }
    return false;
  });
  return out;
}

std::vector<int> NatsCluster::nodesWithClient(const std::string& name) {
  std::vector<int> out;
  for (int i = 0; i < size(); ++i) {
    if (!running(i)) continue;
    const auto reply = monitorGet(monitorPort(i), "/connz?limit=10000");
    if (!statusIs200(reply)) continue;
    const auto doc = nlohmann::json::parse(bodyOf(*reply), nullptr, false);
    if (doc.is_discarded() || !doc.contains("connections") || !doc["connections"].is_array()) continue;
    for (const auto& c : doc["connections"])
      if (c.value("name", "") == name) {
        out.push_back(i);
        break;
      }
  }
  return out;
}

std::string NatsCluster::logTail(int i, size_t maxBytes) const {
  return nodes_.at(static_cast<size_t>(i))->server->logTail(maxBytes);
}

}  // namespace proxyos::testing
