#pragma once
// Memory for the header fields of one request and its response: a bump
// allocator per client connection, emptied when the next request starts.
//
// Beast's basic_fields allocates every field (and the request target) on its
// own and frees it when the message dies: about a dozen malloc/free pairs per
// proxied request. Here they become pointer bumps in a block the connection
// keeps; nothing is freed field by field (an erase or a replaced value leaves
// its bytes until the reset, bounded by the header limits of the two heads).
#include <boost/beast/http/fields.hpp>
#include <cstddef>
#include <cstdlib>
#include <memory>
#include <new>

namespace proxyos::edge {

class HeaderArena {
 public:
  HeaderArena() = default;
  HeaderArena(const HeaderArena&) = delete;
  HeaderArena& operator=(const HeaderArena&) = delete;
  ~HeaderArena() { releaseAll(); }

  void* allocate(std::size_t bytes) {
    bytes = (bytes + kAlign - 1) & ~(kAlign - 1);
    if (bytes <= size_ - used_) {
      void* p = block_ + used_;
      used_ += bytes;
      return p;
    }
    return allocateSlow(bytes);
  }

  /// Everything allocated so far is given up. Only when no field container
  /// that uses the arena is alive.
  void reset() {
    if (overflow_) {
      // Next time, one block the size of everything this request needed.
      const std::size_t want = size_ + overflowBytes_;
      freeOverflow();
      if (want <= kMaxBlock) {
        std::free(block_);
        block_ = nullptr;
        size_ = 0;
        block_ = static_cast<char*>(std::malloc(want));
        if (block_) size_ = want;
      }
    }
    used_ = 0;
  }

 private:
  static constexpr std::size_t kAlign = alignof(std::max_align_t);
  static constexpr std::size_t kFirstBlock = 2048;
  static constexpr std::size_t kMaxBlock = 16 * 1024;

  struct Overflow {
    Overflow* next;
  };
  static constexpr std::size_t kOverflowHeader = (sizeof(Overflow) + kAlign - 1) & ~(kAlign - 1);

  void* allocateSlow(std::size_t bytes) {
    if (!block_) {
      block_ = static_cast<char*>(std::malloc(kFirstBlock));
      if (!block_) throw std::bad_alloc();
      size_ = kFirstBlock;
      used_ = 0;
      if (bytes <= size_) {
        used_ = bytes;
        return block_;
      }
    }
    // Doesn't fit: a block of its own, freed at the next reset.
    auto* o = static_cast<Overflow*>(std::malloc(kOverflowHeader + bytes));
    if (!o) throw std::bad_alloc();
    o->next = overflow_;
    overflow_ = o;
    overflowBytes_ += bytes;
    return reinterpret_cast<char*>(o) + kOverflowHeader;
  }

  void freeOverflow() {
    while (overflow_) {
      Overflow* next = overflow_->next;
      std::free(overflow_);
      overflow_ = next;
    }
    overflowBytes_ = 0;
  }

  void releaseAll() {
    freeOverflow();
    std::free(block_);
    block_ = nullptr;
    size_ = used_ = 0;
  }

  char* block_ = nullptr;
  std::size_t size_ = 0;
  std::size_t used_ = 0;
  Overflow* overflow_ = nullptr;
  std::size_t overflowBytes_ = 0;
};

/// An allocator over a HeaderArena; without one (default-constructed) it is
/// plain operator new/delete, so field containers built elsewhere (tests,
/// local answers) behave as Beast's own.
template <class T>
class ArenaAllocator {
 public:
  using value_type = T;
  using propagate_on_container_copy_assignment = std::true_type;
  using propagate_on_container_move_assignment = std::true_type;
  using propagate_on_container_swap = std::true_type;
  using is_always_equal = std::false_type;

  ArenaAllocator() noexcept = default;
  explicit ArenaAllocator(HeaderArena* arena) noexcept : arena_(arena) {}
  template <class U>
  ArenaAllocator(const ArenaAllocator<U>& other) noexcept : arena_(other.arena()) {}

  T* allocate(std::size_t n) {
    if (arena_) return static_cast<T*>(arena_->allocate(n * sizeof(T)));
    return std::allocator<T>{}.allocate(n);
  }
  void deallocate(T* p, std::size_t n) noexcept {
    if (!arena_) std::allocator<T>{}.deallocate(p, n);
  }

  HeaderArena* arena() const noexcept { return arena_; }

  template <class U>
  bool operator==(const ArenaAllocator<U>& other) const noexcept {
    return arena_ == other.arena();
  }
  template <class U>
  bool operator!=(const ArenaAllocator<U>& other) const noexcept {
    return arena_ != other.arena();
  }

 private:
  HeaderArena* arena_ = nullptr;
};

/// The field container of the data plane's parsed requests and responses.
using Fields = boost::beast::http::basic_fields<ArenaAllocator<char>>;

}  // namespace proxyos::edge
