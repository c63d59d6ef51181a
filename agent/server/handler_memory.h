// Memory for one Boost.Asio asynchronous operation at a time, so that an
// operation started again and again (a connection's read) allocates
// nothing: Asio stores each pending operation in memory it gets from the
// handler's associated allocator, and its default recycles only a couple of
// blocks per thread, not one per connection.
//
//   HandlerMemory memory;  // lives as long as the operations using it
//   socket.async_read_some(buffer, WithMemory(&memory, handler));
//
// At most one operation may use a HandlerMemory at a time; a request that
// does not fit (or a second one) falls back to operator new. Asio frees an
// operation's memory before it invokes the handler, so the handler may
// start the next operation on the same memory.
//
// Thread-compatible: the operations using one HandlerMemory run on one
// thread (the agent's event loop).
#pragma once

#include <cstddef>
#include <new>
#include <type_traits>
#include <utility>

namespace sluice {

class HandlerMemory {
 public:
  HandlerMemory() = default;
  HandlerMemory(const HandlerMemory&) = delete;
  HandlerMemory& operator=(const HandlerMemory&) = delete;

  void* Allocate(std::size_t size) {
    if (!in_use_ && size <= sizeof(storage_)) {
      in_use_ = true;
      return &storage_;
    }
    return ::operator new(size);
  }
  void Deallocate(void* pointer) {
    if (pointer == &storage_) {
      in_use_ = false;
    } else {
      ::operator delete(pointer);
    }
  }

 private:
  // Asio's socket operations with a handler of a few pointers fit easily.
  std::aligned_storage_t<256, alignof(std::max_align_t)> storage_;
  bool in_use_ = false;
};

// A standard allocator over a HandlerMemory.
template <typename T>
class HandlerAllocator {
 public:
  using value_type = T;
  explicit HandlerAllocator(HandlerMemory* memory) : memory_(memory) {}
  template <typename U>
  HandlerAllocator(const HandlerAllocator<U>& other) noexcept  // NOLINT
      : memory_(other.memory_) {}

  T* allocate(std::size_t n) const {
    return static_cast<T*>(memory_->Allocate(sizeof(T) * n));
  }
  void deallocate(T* pointer, std::size_t /*n*/) const {
    memory_->Deallocate(pointer);
  }
  bool operator==(const HandlerAllocator& other) const noexcept {
    return memory_ == other.memory_;
  }
  bool operator!=(const HandlerAllocator& other) const noexcept {
    return memory_ != other.memory_;
  }

 private:
  template <typename>
  friend class HandlerAllocator;
  HandlerMemory* memory_;
};

// A handler whose associated allocator is a HandlerMemory's.
template <typename Handler>
class MemoryHandler {
 public:
  using allocator_type = HandlerAllocator<Handler>;

  MemoryHandler(HandlerMemory* memory, Handler handler)
      : memory_(memory), handler_(std::move(handler)) {}

  allocator_type get_allocator() const noexcept {
    return allocator_type(memory_);
  }

  template <typename... Args>
  void operator()(Args&&... args) {
    handler_(std::forward<Args>(args)...);
  }

 private:
  HandlerMemory* memory_;
  Handler handler_;
};

template <typename Handler>
MemoryHandler<std::decay_t<Handler>> WithMemory(HandlerMemory* memory,
                                                Handler&& handler) {
  return MemoryHandler<std::decay_t<Handler>>(memory,
                                              std::forward<Handler>(handler));
}

}  // namespace sluice
