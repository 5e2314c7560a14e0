#include "client_io.h"

#include "http_io.h"

namespace proxyos::edge {

namespace {

std::string peerAddress(const boost::asio::ip::tcp::socket& socket) {
  boost::system::error_code ec;
  const auto ep = socket.remote_endpoint(ec);
  if (ec) return "unknown";
  auto addr = ep.address();
  // A dual-stack listener reports IPv4 clients as ::ffff:a.b.c.d; upstreams
  // and logs expect the plain IPv4 form.
  if (addr.is_v6() && addr.to_v6().is_v4_mapped())
    addr = boost::asio::ip::make_address_v4(boost::asio::ip::v4_mapped, addr.to_v6());
  return addr.to_string();
}

}  // namespace

ClientIo::ClientIo(boost::asio::ip::tcp::socket socket_, const boost::asio::any_io_executor& strand_)
    : strand(strand_),
      socket(std::move(socket_)),
      clientIp(peerAddress(socket)),
      clientDog(strand_),
      upstreamDog(strand_) {}

std::string_view ClientStream::serverName() const {
  if (!tls_) return {};
  const char* name = SSL_get_servername(tls_->native_handle(), TLSEXT_NAMETYPE_host_name);
  return name ? std::string_view(name) : std::string_view();
}

std::size_t ClientStream::writeNow(std::span<const boost::asio::const_buffer> buffers, boost::system::error_code& ec) {
  if (tls_) {
    ec = boost::asio::error::would_block;
    return 0;
  }
  return edge::writeNow(socket_, buffers, ec);
}

std::size_t ClientStream::readNow(const boost::asio::mutable_buffer& buffer, boost::system::error_code& ec) {
  if (tls_ || !socket_.non_blocking()) {
    ec = boost::asio::error::would_block;
    return 0;
  }
  return socket_.read_some(buffer, ec);
}

char* ClientIo::requestChunk() {
  if (!requestChunk_) requestChunk_ = std::make_unique<char[]>(kBodyChunkBytes);
  return requestChunk_.get();
}

char* ClientIo::responseChunk() {
  if (!responseChunk_) responseChunk_ = std::make_unique<char[]>(kBodyChunkBytes);
  return responseChunk_.get();
}

}  // namespace proxyos::edge
