// shared/core/block_cache.h: the edge's per-thread cache of small blocks.
// Called directly here (this test binary keeps the standard operator new).
#include "shared/core/block_cache.h"

#include <gtest/gtest.h>
#include <malloc.h>

#include <cstring>
#include <thread>
#include <vector>

namespace proxyos::block_cache {
namespace {

TEST(BlockCacheTest, AFreedBlockServesTheNextRequestOfItsSizeClass) {
  void* a = allocate(100);
  ASSERT_NE(a, nullptr);
  std::memset(a, 0xab, 100);
  const Stats before = threadStats();
  deallocate(a);
  EXPECT_EQ(threadStats().cachedBlocks, before.cachedBlocks + 1);
  void* b = allocate(112);  // same 16-byte class as 100
  EXPECT_EQ(b, a);
  EXPECT_EQ(threadStats().hits, before.hits + 1);
  EXPECT_GE(malloc_usable_size(b), 112u);
  void* c = allocate(113);  // the next class: not that block
  EXPECT_NE(c, a);
  EXPECT_GE(malloc_usable_size(c), 113u);
  deallocate(b);
  deallocate(c);
}

TEST(BlockCacheTest, EveryRequestGetsAtLeastItsSize) {
  std::vector<void*> blocks;
  for (std::size_t size = 0; size <= kMaxBlock + 64; ++size) {
    void* p = allocate(size);
    ASSERT_NE(p, nullptr) << size;
    EXPECT_GE(malloc_usable_size(p), size) << size;
    blocks.push_back(p);
  }
  for (void* p : blocks) deallocate(p);
  // Round two comes from the cache, and still fits.
  blocks.clear();
  const Stats before = threadStats();
  for (std::size_t size = 1; size <= kMaxBlock; ++size) {
    void* p = allocate(size);
    EXPECT_GE(malloc_usable_size(p), size) << size;
    std::memset(p, 0x5a, size);
    blocks.push_back(p);
  }
  EXPECT_GT(threadStats().hits, before.hits);
  for (void* p : blocks) deallocate(p);
}

TEST(BlockCacheTest, LargeBlocksAndNullBypassTheCache) {
  const Stats before = threadStats();
  void* big = allocate(kMaxBlock * 4);
  ASSERT_NE(big, nullptr);
  deallocate(big);
  deallocate(nullptr);
  const Stats after = threadStats();
  EXPECT_EQ(after.cachedBlocks, before.cachedBlocks);
  EXPECT_EQ(after.hits + after.misses, before.hits + before.misses);
}

TEST(BlockCacheTest, TheCacheIsBoundedPerClassAndInBytes) {
  std::thread([] {  // a fresh thread: an empty cache
    std::vector<void*> blocks;
    for (std::size_t i = 0; i < kMaxBlocksPerClass + 50; ++i) blocks.push_back(allocate(64));
    for (void* p : blocks) deallocate(p);
    // malloc may hand out a slightly larger block now and then, which lands
    // in the next class; the rest stop at the class's limit.
    EXPECT_GE(threadStats().cachedBlocks, kMaxBlocksPerClass);
    EXPECT_LT(threadStats().cachedBlocks, kMaxBlocksPerClass + 50);

    blocks.clear();
    for (std::size_t i = 0; i < 3000; ++i) blocks.push_back(allocate(kMaxBlock - 16 * (i % 8)));
    for (void* p : blocks) deallocate(p);
    EXPECT_LE(threadStats().cachedBytes, kMaxCachedBytes);
    EXPECT_GT(threadStats().cachedBytes, kMaxCachedBytes / 2);
  }).join();
}

TEST(BlockCacheTest, ABlockFreedOnAnotherThreadJoinsThatThreadsCache) {
  void* mine = allocate(200);
  std::thread([mine] {
    deallocate(mine);
    EXPECT_EQ(threadStats().cachedBlocks, 1u);
    EXPECT_EQ(allocate(200), mine);
  }).join();
}

TEST(BlockCacheTest, AThreadGivesItsBlocksBackWhenItEnds) {
  const auto before = returnedAtThreadExit();
  std::thread([] {
    std::vector<void*> blocks;
    for (int i = 0; i < 40; ++i) blocks.push_back(allocate(48 + i));
    for (void* p : blocks) deallocate(p);
    EXPECT_EQ(threadStats().cachedBlocks, 40u);
  }).join();
  EXPECT_EQ(returnedAtThreadExit(), before + 40);
}

}  // namespace
}  // namespace proxyos::block_cache
