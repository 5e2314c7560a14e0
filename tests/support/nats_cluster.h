#pragma once
// A nats-server JetStream cluster on loopback for integration and end-to-end
// tests: N nodes (3 by default, so R3 streams keep a quorum with one down),
// each with its own ports and storage in its own temp directory.
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "tests/support/server_process.h"

namespace proxyos::testing {

/// Nodes are numbered 0..size()-1. Nothing starts in the constructor: call
/// start(). Every node is killed when the object goes away (and when the test
/// process dies, see ChildProcess). Not thread-safe: one test thread drives it.
///
/// Every node's cluster port is picked in the constructor (a JetStream
/// cluster node refuses to start without routes, so each is started with
/// routes to all the others); client and monitoring ports are picked at the
/// first start, as for any ServerProcess. A node alone is "up" once its monitoring port
/// names it; the cluster is usable once every running node's /healthz is 200,
/// i.e. JetStream has a meta leader that the node is current with.
class NatsCluster {
 public:
  explicit NatsCluster(int nodes = 3, std::string clusterName = "proxyos");
  NatsCluster(const NatsCluster&) = delete;  // the servers' callbacks point at this object
  NatsCluster& operator=(const NatsCluster&) = delete;
  ~NatsCluster();

  /// Starts every node, then waits (up to `timeout`) until all are healthy;
  /// throws std::runtime_error with the nodes' log tails otherwise.
  void start(std::chrono::milliseconds timeout = std::chrono::seconds(30));
  /// SIGKILL, as in a crash. Ports and storage are kept for restart(i).
  void kill(int i);
  void stop(int i);     // graceful (SIGTERM)
  void restart(int i);  // starts node i again (stopping it first if running), same ports and storage
  bool running(int i);

  int size() const { return static_cast<int>(nodes_.size()); }
  /// nats://127.0.0.1:<client port> of node i.
  std::string url(int i) const;
  /// Every node's URL, in order (what PROXYOS_NATS_URL lists, comma-joined).
  std::vector<std::string> urls() const;
  std::vector<std::string> urlsExcept(int i) const;
  /// The comma-joined form of urls().
  std::string urlList() const;
  uint16_t clientPort(int i) const;
  uint16_t monitorPort(int i) const;
  const std::string& serverName(int i) const { return nodes_[static_cast<size_t>(i)]->name; }
  /// The node with this server name; nullopt when none.
  std::optional<int> nodeNamed(const std::string& name) const;

  /// Polls until every running node answers /healthz with 200.
  bool waitHealthy(std::chrono::milliseconds timeout);
  /// The JetStream meta leader as seen by a running node; nullopt when none.
  std::optional<int> metaLeader();
  /// The node leading stream `stream` (a KV bucket's is "KV_<bucket>"), as a
  /// running node's monitoring endpoint (/jsz) reports it; nullopt when no
  /// running node names a leader that is running.
  std::optional<int> streamLeader(const std::string& stream);
  /// The node hosting consumer `consumer` of `stream` ("*": any consumer of
  /// it); nullopt when unknown.
  std::optional<int> consumerLeader(const std::string& stream, const std::string& consumer);
  /// Every consumer of `stream` a running node reports, by name, with the
  /// node hosting it (its leader; -1 when that node is unknown or not running).
  std::map<std::string, int> consumerHosts(const std::string& stream);
  /// The running nodes on which a client connection named `name` (the name
  /// it sent in CONNECT: natsOptions_SetName) is open, as each node's
  /// monitoring endpoint (/connz) lists it; in node order.
  std::vector<int> nodesWithClient(const std::string& name);
  /// The end of node i's log, for failure messages.
  std::string logTail(int i, size_t maxBytes = 3000) const;

 private:
  struct Node {
    std::string name;
    uint16_t clusterPort = 0;
    std::unique_ptr<ServerProcess> server;
  };
  std::vector<std::string> routesFor(int i) const;
  /// Leader of the stream (no consumer) or of a consumer of it.
  std::optional<int> leaderOf(const std::string& stream, const std::optional<std::string>& consumer);
  /// /jsz with streams and consumers of node i, parsed; nullopt when it does not answer.
  std::optional<std::string> jsz(int i);
  /// jsz() of every running node that answers.
  std::vector<std::string> jszOfRunningNodes();

  std::string clusterName_;
  std::vector<std::unique_ptr<Node>> nodes_;
};

}  // namespace proxyos::testing
