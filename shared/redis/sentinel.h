#pragma once
// The pieces of Sentinel support that do not hold a connection: asking one
// Sentinel where the primary is, and reading what servers say about their role.
#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

#include "shared/core/error.h"
#include "shared/core/url.h"
#include "shared/redis/reply.h"

namespace proxyos::redis {

/// The address a Sentinel gave for a master name.
struct SentinelAnswer {
  std::string host;
  uint16_t port = 0;
};

/// Asks `sentinel` (`SENTINEL get-master-addr-by-name <master>`) on a
/// connection of its own, bounded by `timeout` for the connect and again for
/// the reply. Unavailable, with a short cause naming the Sentinel, when it
/// cannot be reached, does not know the name, or answers something else.
Result<SentinelAnswer> askSentinel(const HostPort& sentinel, const std::string& master,
                                   std::chrono::milliseconds timeout);

/// The first element of a ROLE reply: "master", "slave", "sentinel"; "" when
/// the reply is not a ROLE reply.
std::string roleOf(const Reply& role);
/// Replicas listed in a master's ROLE reply (those past the handshake); -1
/// when it is not a master's ROLE reply.
int connectedReplicasOf(const Reply& role);
/// An error reply meaning "this server is not a writable primary right now":
/// READONLY (a replica, or a demoted primary), LOADING (still reading its
/// data), MASTERDOWN (a replica that lost its primary). The command did not run.
bool isNotPrimaryError(std::string_view text);

}  // namespace proxyos::redis
