#include "shared/core/block_cache.h"

#include <malloc.h>

#include <atomic>
#include <cstdlib>

namespace proxyos::block_cache {

namespace {

// Class c holds blocks whose usable size is exactly 16c + 8: what glibc
// returns for malloc(16c + 8) (chunks are multiples of 16 with an 8-byte
// header), so a block's class can be read back from malloc_usable_size.
constexpr std::size_t kClassBytes = 16;
constexpr std::size_t kClasses = kMaxBlock / kClassBytes;  // 1..kClasses

constexpr std::size_t usableSize(std::size_t cls) { return cls * kClassBytes + 8; }

// Trivially constructible and destructible, so it is usable at any point of
// a thread's life, including after the flusher below has run.
struct Cache {
  void* head[kClasses + 1];
  std::uint16_t count[kClasses + 1];
  std::size_t blocks;
  std::size_t bytes;
  std::uint64_t hits;
  std::uint64_t misses;
  bool registered;  // the flusher is armed for this thread
  bool closed;      // the flusher ran: bypass from now on
};

thread_local Cache cache;

std::atomic<std::uint64_t> returnedAtExit{0};

void flush(Cache& c) noexcept {
  returnedAtExit.fetch_add(c.blocks, std::memory_order_relaxed);
  for (std::size_t cls = 1; cls <= kClasses; ++cls) {
    while (void* block = c.head[cls]) {
      c.head[cls] = *static_cast<void**>(block);
      std::free(block);
    }
    c.count[cls] = 0;
  }
  c.blocks = 0;
  c.bytes = 0;
}

// Gives the thread's blocks back when the thread ends.
struct Flusher {
  bool armed = false;
  ~Flusher() {
    flush(cache);
    cache.closed = true;
  }
};
thread_local Flusher flusher;

}  // namespace

void* allocate(std::size_t size) noexcept {
  Cache& c = cache;
  if (size > kMaxBlock || c.closed) return std::malloc(size == 0 ? 1 : size);
  const std::size_t cls = size == 0 ? 1 : (size + kClassBytes - 1) / kClassBytes;
  if (void* block = c.head[cls]) {
    c.head[cls] = *static_cast<void**>(block);
    --c.count[cls];
    --c.blocks;
    c.bytes -= usableSize(cls);
    ++c.hits;
    return block;
  }
  ++c.misses;
  return std::malloc(usableSize(cls));
}

void deallocate(void* block) noexcept {
  if (block == nullptr) return;
  Cache& c = cache;
  const std::size_t usable = malloc_usable_size(block);
  const std::size_t cls = (usable - 8) / kClassBytes;
  if (c.closed || usable < usableSize(1) || usable > usableSize(kClasses) || usableSize(cls) != usable ||
      c.count[cls] >= kMaxBlocksPerClass || c.bytes + usable > kMaxCachedBytes) {
    std::free(block);
    return;
  }
  if (!c.registered) {
    c.registered = true;
    flusher.armed = true;  // the first use registers its destructor for this thread's exit
  }
  *static_cast<void**>(block) = c.head[cls];
  c.head[cls] = block;
  ++c.count[cls];
  ++c.blocks;
  c.bytes += usable;
}

std::uint64_t returnedAtThreadExit() noexcept { return returnedAtExit.load(std::memory_order_relaxed); }

Stats threadStats() noexcept {
  const Cache& c = cache;
  return Stats{c.hits, c.misses, c.blocks, c.bytes};
}

}  // namespace proxyos::block_cache
