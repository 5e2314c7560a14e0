// DrainingBuffer (services/edge-proxy/draining_read.h): after a short read
// the next read waits for epoll instead of trying recv first. What must
// never happen is a read that waits for bytes already there. Real loopback
// sockets, one io_context thread; every wait is bounded by run_for, so a
// lost wake-up fails instead of hanging.
#include <gtest/gtest.h>

#include <array>
#include <boost/asio/buffer.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <chrono>
#include <optional>
#include <string>

#include "services/edge-proxy/draining_read.h"

namespace proxyos::edge {
namespace {

namespace asio = boost::asio;
using asio::ip::tcp;
using boost::system::error_code;
using namespace std::chrono_literals;

struct ReadResult {
  error_code ec;
  std::size_t n = 0;
};

class DrainingReadTest : public ::testing::Test {
 protected:
  void SetUp() override {
    tcp::acceptor acceptor(ioc, {asio::ip::address_v4::loopback(), 0});
    reader.connect(acceptor.local_endpoint());
    acceptor.accept(writer);
    reader.non_blocking(true);
  }

  void send(const std::string& bytes) { asio::write(writer, asio::buffer(bytes)); }

  /// Starts one read of up to `size` bytes into `data`.
  void startRead(std::size_t size) {
    result.reset();
    reader.async_read_some(DrainingBuffer(asio::buffer(data.data(), size), &state),
                           [this](const error_code& ec, std::size_t n) { result = ReadResult{ec, n}; });
  }

  /// Runs the loop until the read completes or `limit` passes.
  bool finish(std::chrono::milliseconds limit = 2s) {
    ioc.restart();
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (!result && std::chrono::steady_clock::now() < deadline) ioc.run_one_for(10ms);
    return result.has_value();
  }

  /// Lets the reactor wait in epoll for a while with no read queued, so an
  /// edge that arrives now is consumed with nobody to take it.
  void idleReactor() {
    asio::steady_timer t(ioc, 50ms);
    bool done = false;
    t.async_wait([&](const error_code&) { done = true; });
    ioc.restart();
    while (!done) ioc.run_one();
  }

  std::string received(std::size_t n) const { return std::string(data.data(), n); }

  asio::io_context ioc{1};
  tcp::socket reader{ioc};
  tcp::socket writer{ioc};
  std::array<char, 64> data{};
  std::optional<ReadResult> result;
  DrainState state;  // what the reads recorded
};

TEST_F(DrainingReadTest, BytesThatArriveBeforeTheNextReadAreNotLost) {
  send("hello");
  startRead(data.size());
  ASSERT_TRUE(finish());
  ASSERT_FALSE(result->ec) << result->ec.message();
  EXPECT_EQ(received(result->n), "hello");  // short: the reactor now waits for epoll
  EXPECT_TRUE(state.drained);

  send("again");
  idleReactor();  // epoll reports the bytes while no read is queued
  startRead(data.size());
  ASSERT_TRUE(finish()) << "a read waited for bytes that were already there";
  ASSERT_FALSE(result->ec) << result->ec.message();
  EXPECT_EQ(received(result->n), "again");
}

TEST_F(DrainingReadTest, AReadStartedBeforeTheBytesCompletesWhenTheyCome) {
  send("one");
  startRead(data.size());
  ASSERT_TRUE(finish());
  EXPECT_EQ(received(result->n), "one");

  startRead(data.size());
  EXPECT_FALSE(finish(100ms));  // nothing to read yet
  send("two");
  ASSERT_TRUE(finish());
  ASSERT_FALSE(result->ec) << result->ec.message();
  EXPECT_EQ(received(result->n), "two");
}

TEST_F(DrainingReadTest, AFullBufferLeavesTheRestReadableWithoutNewBytes) {
  send(std::string(40, 'a') + std::string(10, 'b'));
  idleReactor();  // the arrival's edge is spent before the reads
  startRead(40);
  ASSERT_TRUE(finish());
  ASSERT_EQ(result->n, 40u);  // full: there may be more, so no "drained"
  EXPECT_FALSE(state.drained);
  idleReactor();              // no new bytes, so no new edge
  startRead(data.size());
  ASSERT_TRUE(finish()) << "the bytes left after a full read were never read";
  EXPECT_EQ(received(result->n), std::string(10, 'b'));
}

TEST_F(DrainingReadTest, EndOfStreamAfterAShortReadIsReported) {
  send("last");
  startRead(data.size());
  ASSERT_TRUE(finish());
  EXPECT_EQ(received(result->n), "last");
  writer.shutdown(tcp::socket::shutdown_send);
  idleReactor();
  startRead(data.size());
  ASSERT_TRUE(finish());
  EXPECT_EQ(result->ec, asio::error::eof);
}

}  // namespace
}  // namespace proxyos::edge
