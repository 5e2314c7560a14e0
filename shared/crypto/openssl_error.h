#pragma once
#include <string>

namespace proxyos::crypto {

/// The oldest queued OpenSSL error of this thread as text (reasons only,
/// never key material), clearing the queue so later calls start clean.
/// "unknown OpenSSL error" when the queue is empty.
std::string openSslError();

}  // namespace proxyos::crypto
