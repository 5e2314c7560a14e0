#pragma once
#include <string_view>

namespace proxyos::crypto {

/// Compares secrets (MACs, password hashes, tokens) in time that depends only
/// on their lengths, never on where they first differ. Different lengths are
/// unequal at once: lengths of these values are public.
bool constantTimeEquals(std::string_view a, std::string_view b);

}  // namespace proxyos::crypto
