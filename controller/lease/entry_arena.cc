#include "controller/lease/entry_arena.h"

#include <new>

namespace sluice {

static_assert(EntryArena::kGrain >= sizeof(void*) &&
                  EntryArena::kGrain % alignof(void*) == 0,
              "a free block holds a pointer");

EntryArena::EntryArena() : free_(kMaxSmallBytes / kGrain + 1, nullptr) {}

EntryArena::~EntryArena() = default;

void* EntryArena::Allocate(size_t bytes) {
  if (bytes == 0) bytes = 1;
  if (bytes > kMaxSmallBytes) return ::operator new(bytes);
  const size_t size_class = ClassOf(bytes);
  if (FreeBlock* block = free_[size_class]; block != nullptr) {
    free_[size_class] = block->next;
    return block;
  }
  const size_t size = BlockBytes(bytes);
  if (left_ < size) {
    // Not value-initialised: a chunk's pages are touched as blocks use them.
    chunks_.push_back(std::unique_ptr<char[]>(new char[kChunkBytes]));
    next_ = chunks_.back().get();
    left_ = kChunkBytes;
  }
  void* block = next_;
  next_ += size;
  left_ -= size;
  return block;
}

void EntryArena::Free(void* block, size_t bytes) {
  if (block == nullptr) return;
  if (bytes == 0) bytes = 1;
  if (bytes > kMaxSmallBytes) {
    ::operator delete(block);
    return;
  }
  const size_t size_class = ClassOf(bytes);
  free_[size_class] = new (block) FreeBlock{free_[size_class]};
}

}  // namespace sluice
