#pragma once
// Beast 1.74 speaks boost::string_view (unless BOOST_BEAST_USE_STD_STRING_VIEW,
// which would have to be set identically in every translation unit that
// includes Beast, the test helpers too); ProxyOS code speaks
// std::string_view. Conversions are views, never copies.
#include <boost/beast/core/string_type.hpp>
#include <string_view>

namespace proxyos::edge {

inline boost::beast::string_view toBeast(std::string_view s) { return {s.data(), s.size()}; }
inline std::string_view toStd(boost::beast::string_view s) { return {s.data(), s.size()}; }

}  // namespace proxyos::edge
