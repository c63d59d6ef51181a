// EntryArena: memory for many small blocks that are made and freed one at
// a time (the budget table's entries: millions of blocks of a few sizes),
// without malloc's per-block costs. glibc puts an 8-byte header before
// each block and rounds the whole up to 16 bytes: a 166-byte budget takes
// 176. Here a block of n bytes takes n rounded up to 8 (kGrain), carved
// from chunks of kChunkBytes; a freed block goes on the free list of its
// size and is reused by the next block of that size. Blocks above
// kMaxSmallBytes come from operator new.
//
// What it costs: chunks are given back only when the arena is destroyed
// (a table that shrinks keeps them for its next entries), a free list
// serves one size only (memory freed by entries with 20-byte keys serves
// only entries with 20-byte keys), and up to kMaxSmallBytes at the end of
// each chunk may go unused.
//
// Thread-compatible.
#pragma once

#include <cstddef>
#include <memory>
#include <vector>

namespace sluice {

class EntryArena {
 public:
  static constexpr size_t kGrain = 8;
  static constexpr size_t kMaxSmallBytes = 1024;
  static constexpr size_t kChunkBytes = 256 * 1024;

  EntryArena();
  ~EntryArena();
  EntryArena(const EntryArena&) = delete;
  EntryArena& operator=(const EntryArena&) = delete;

  // At least `bytes` (> 0) bytes, aligned to kGrain.
  void* Allocate(size_t bytes);
  // Gives back `block`, from Allocate(bytes) with the same `bytes`.
  void Free(void* block, size_t bytes);

  // The bytes a small block of `bytes` takes in a chunk.
  static constexpr size_t BlockBytes(size_t bytes) {
    return (bytes + kGrain - 1) / kGrain * kGrain;
  }
  // Bytes of the chunks held (what the arena took from the heap for small
  // blocks).
  size_t chunk_bytes() const { return chunks_.size() * kChunkBytes; }

 private:
  struct FreeBlock {
    FreeBlock* next;
  };
  static size_t ClassOf(size_t bytes) { return BlockBytes(bytes) / kGrain; }

  std::vector<FreeBlock*> free_;  // heads, by size class
  std::vector<std::unique_ptr<char[]>> chunks_;
  char* next_ = nullptr;  // the unused part of the last chunk
  size_t left_ = 0;
};

}  // namespace sluice
