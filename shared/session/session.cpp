#include "shared/session/session.h"

#include <nlohmann/json.hpp>

#include "shared/crypto/sha256.h"

namespace proxyos::session {

namespace {
int64_t ms(Clock::WallTime t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}
Clock::WallTime fromMs(int64_t v) { return Clock::WallTime{std::chrono::milliseconds{v}}; }
}  // namespace

std::string sessionId(const std::string& token) { return crypto::sha256Hex(token); }

std::string encodeSession(const Session& s) {
  nlohmann::json j{{"id", s.id},           {"userId", s.userId},         {"username", s.username},
                   {"email", s.email},     {"groups", s.groups},         {"role", roleName(s.role)},
                   {"createdMs", ms(s.created)}, {"lastSeenMs", ms(s.lastSeen)}, {"clientIp", s.clientIp},
                   {"userAgent", s.userAgent}};
  if (!s.parentId.empty()) j["parentId"] = s.parentId;  // absent for login sessions, as in records before #6
  return j.dump();
}

Result<Session> decodeSession(const std::string& text) {
  try {
    auto j = nlohmann::json::parse(text);
    Session s;
    s.id = j.at("id").get<std::string>();
    s.userId = j.at("userId").get<std::string>();
    s.username = j.at("username").get<std::string>();
    s.email = j.value("email", "");
    s.groups = j.value("groups", std::vector<std::string>{});
    auto role = parseRole(j.at("role").get<std::string>());
    if (!role) throw std::runtime_error("bad role");
    s.role = *role;
    s.created = fromMs(j.at("createdMs").get<int64_t>());
    s.lastSeen = fromMs(j.at("lastSeenMs").get<int64_t>());
    s.clientIp = j.value("clientIp", "");
    s.userAgent = j.value("userAgent", "");
    s.parentId = j.value("parentId", "");
    return s;
  } catch (const std::exception& e) {
    return Error::make(ErrorKind::Internal, "corrupt_session", std::string("stored session does not decode: ") + e.what());
  }
}

Clock::WallTime SessionPolicy::expiresAt(const Session& s) const {
  return std::min(s.lastSeen + idle, s.created + absolute);
}

}  // namespace proxyos::session
