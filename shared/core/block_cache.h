#pragma once
// A per-thread cache of freed small blocks in front of malloc, for a
// program's operator new (the edge installs it: services/edge-proxy/
// global_new.cpp).
//
// Why: one edge I/O thread keeps many requests in flight (every keep-alive
// connection waiting on its upstream), and each holds a dozen small blocks
// at once: coroutine frames and operation states, which Asio's own
// recycling keeps only one of per thread. glibc's thread cache holds 7
// blocks per size, so most of these went through malloc's slower paths
// (about 4 % of the edge's CPU; docs/performance.md). This cache holds up to
// 256 blocks per 16-byte size class and 1 MiB per thread, frees the rest,
// and gives everything back when its thread ends.
//
// Blocks are plain malloc blocks: the size class is read back from
// malloc_usable_size, so there is no header, and a block may be freed on any
// thread (it joins that thread's cache).
#include <cstddef>
#include <cstdint>

namespace proxyos::block_cache {

/// Requests up to this size are served from the cache; larger ones go
/// straight to malloc.
inline constexpr std::size_t kMaxBlock = 1024;
inline constexpr std::size_t kMaxBlocksPerClass = 256;
inline constexpr std::size_t kMaxCachedBytes = std::size_t{1} << 20;

/// malloc's contract: nullptr when memory is exhausted.
void* allocate(std::size_t size) noexcept;
/// Any block from allocate() (or malloc), on any thread; nullptr is fine.
void deallocate(void* block) noexcept;

struct Stats {
  std::uint64_t hits = 0;        // allocations served from the cache
  std::uint64_t misses = 0;      // allocations that went to malloc
  std::size_t cachedBlocks = 0;  // held now by this thread
  std::size_t cachedBytes = 0;
};
/// The calling thread's cache.
Stats threadStats() noexcept;
/// Blocks given back to malloc by threads that ended, over the process.
std::uint64_t returnedAtThreadExit() noexcept;

}  // namespace proxyos::block_cache
