// The edge's operator new and delete: shared/core/block_cache.h in front of
// malloc. Only the proxyos-edge binary links this file. The aligned forms
// are not replaced: libstdc++'s own use aligned_alloc and free together.
#include <new>

#include "shared/core/block_cache.h"

void* operator new(std::size_t size) {
  if (void* p = proxyos::block_cache::allocate(size)) return p;
  throw std::bad_alloc();
}
void* operator new[](std::size_t size) { return ::operator new(size); }
void* operator new(std::size_t size, const std::nothrow_t&) noexcept { return proxyos::block_cache::allocate(size); }
void* operator new[](std::size_t size, const std::nothrow_t&) noexcept {
  return proxyos::block_cache::allocate(size);
}
void operator delete(void* p) noexcept { proxyos::block_cache::deallocate(p); }
void operator delete[](void* p) noexcept { proxyos::block_cache::deallocate(p); }
void operator delete(void* p, std::size_t) noexcept { proxyos::block_cache::deallocate(p); }
void operator delete[](void* p, std::size_t) noexcept { proxyos::block_cache::deallocate(p); }
void operator delete(void* p, const std::nothrow_t&) noexcept { proxyos::block_cache::deallocate(p); }
void operator delete[](void* p, const std::nothrow_t&) noexcept { proxyos::block_cache::deallocate(p); }
