#include "shared/store/nats_connection.h"

#include <spdlog/spdlog.h>

namespace proxyos::store {

namespace {

bool isConnectionTrouble(natsStatus s) {
  switch (s) {
    case NATS_CONNECTION_CLOSED:
    case NATS_CONNECTION_DISCONNECTED:
    case NATS_NO_SERVER:
    case NATS_NOT_YET_CONNECTED:
    case NATS_TIMEOUT:
    case NATS_NO_RESPONDERS:
    case NATS_STALE_CONNECTION:
    case NATS_CONNECTION_AUTH_FAILED:
    case NATS_IO_ERROR:
      return true;
    default:
      return false;
  }
}

void onDisconnected(natsConnection*, void*) { spdlog::warn("NATS disconnected; reconnecting"); }
void onReconnected(natsConnection*, void*) { spdlog::info("NATS reconnected"); }
void onConnected(natsConnection*, void*) { spdlog::info("NATS connected"); }

void onMessage(natsConnection*, natsSubscription*, natsMsg* msg, void* closure) {
  auto* handler = static_cast<Subscription::Handler*>(closure);
  const char* data = natsMsg_GetData(msg);
  (*handler)(natsMsg_GetSubject(msg), std::string(data ? data : "", static_cast<size_t>(natsMsg_GetDataLength(msg))));
  natsMsg_Destroy(msg);
}

}  // namespace

Error natsError(natsStatus s, const std::string& what) {
  std::string detail = natsStatus_GetText(s);
  const char* last = nats_GetLastError(nullptr);
  if (last != nullptr && *last != '\0' && detail.find(last) == std::string::npos) detail += std::string(": ") + last;
  if (isConnectionTrouble(s))
    return Error::make(ErrorKind::Unavailable, "nats_unavailable", what + ": NATS unavailable (" + detail + ")");
  return Error::make(ErrorKind::Internal, "nats_error", what + ": " + detail);
}

Subscription::Subscription(natsSubscription* sub, std::unique_ptr<Handler> handler)
    : sub_(sub), handler_(std::move(handler)) {}

Subscription::~Subscription() {
  // Drain so that an in-flight callback finishes before its handler is freed;
  // when disconnected, draining is impossible and unsubscribing suffices.
  if (natsSubscription_Drain(sub_) == NATS_OK) natsSubscription_WaitForDrainCompletion(sub_, 2000);
  else natsSubscription_Unsubscribe(sub_);
  natsSubscription_Destroy(sub_);
}

Result<std::shared_ptr<NatsConnection>> NatsConnection::connect(const NatsOptions& options) {
  if (options.servers.empty()) return Error::make(ErrorKind::Invalid, "nats_config", "no NATS server given");
  natsOptions* opts = nullptr;
  natsStatus s = natsOptions_Create(&opts);
  std::vector<const char*> servers;
  for (const auto& srv : options.servers) servers.push_back(srv.c_str());
  if (s == NATS_OK) s = natsOptions_SetServers(opts, servers.data(), static_cast<int>(servers.size()));
  if (s == NATS_OK && !options.name.empty()) s = natsOptions_SetName(opts, options.name.c_str());
  if (s == NATS_OK) s = natsOptions_SetTimeout(opts, options.timeout.count());
  if (s == NATS_OK) s = natsOptions_SetMaxReconnect(opts, -1);
  if (s == NATS_OK) s = natsOptions_SetReconnectWait(opts, 250);
  // With a connected callback NATS.c keeps retrying in the background and
  // connect() returns NATS_NOT_YET_CONNECTED; without one it retries in the
  // foreground and blocks for ever while no server answers.
  if (s == NATS_OK) s = natsOptions_SetRetryOnFailedConnect(opts, true, onConnected, nullptr);
  if (s == NATS_OK) s = natsOptions_SetDisconnectedCB(opts, onDisconnected, nullptr);
  if (s == NATS_OK) s = natsOptions_SetReconnectedCB(opts, onReconnected, nullptr);
  natsConnection* conn = nullptr;
  if (s == NATS_OK) {
    s = natsConnection_Connect(&conn, opts);
    if (s == NATS_NOT_YET_CONNECTED) s = NATS_OK;  // keeps trying in the background
  }
  natsOptions_Destroy(opts);
  if (s != NATS_OK) return natsError(s, "connect");

  jsOptions jsOpts;
  jsOptions_Init(&jsOpts);
  jsOpts.Wait = options.timeout.count();
  jsCtx* js = nullptr;
  s = natsConnection_JetStream(&js, conn, &jsOpts);
  if (s != NATS_OK) {
    natsConnection_Destroy(conn);
    return natsError(s, "jetstream");
  }
  return std::shared_ptr<NatsConnection>(new NatsConnection(conn, js, options.timeout));
}

NatsConnection::~NatsConnection() {
  jsCtx_Destroy(js_);
  natsConnection_Close(conn_);
  natsConnection_Destroy(conn_);
}

bool NatsConnection::connected() const { return natsConnection_Status(conn_) == NATS_CONN_STATUS_CONNECTED; }

Status NatsConnection::publish(const std::string& subject, const std::string& data) {
  natsStatus s = natsConnection_Publish(conn_, subject.c_str(), data.data(), static_cast<int>(data.size()));
  if (s != NATS_OK) return natsError(s, "publish " + subject);
  return okStatus();
}

Result<std::unique_ptr<Subscription>> NatsConnection::subscribe(const std::string& subject,
                                                                Subscription::Handler handler) {
  auto h = std::make_unique<Subscription::Handler>(std::move(handler));
  natsSubscription* sub = nullptr;
  natsStatus s = natsConnection_Subscribe(&sub, conn_, subject.c_str(), onMessage, h.get());
  if (s != NATS_OK) return natsError(s, "subscribe " + subject);
  return std::make_unique<Subscription>(sub, std::move(h));
}

}  // namespace proxyos::store
