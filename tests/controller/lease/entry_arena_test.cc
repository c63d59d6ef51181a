#include "controller/lease/entry_arena.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <vector>

namespace sluice {
namespace {

bool Aligned(const void* p) {
  return reinterpret_cast<uintptr_t>(p) % EntryArena::kGrain == 0;
}

TEST(EntryArenaTest, BlocksAreRoundedToTheGrainWithNoHeader) {
  EXPECT_EQ(EntryArena::BlockBytes(166), 168u);
  EXPECT_EQ(EntryArena::BlockBytes(168), 168u);
  EXPECT_EQ(EntryArena::BlockBytes(1), 8u);
  EntryArena arena;
  char* first = static_cast<char*>(arena.Allocate(166));
  char* second = static_cast<char*>(arena.Allocate(166));
  EXPECT_EQ(second - first, 168);  // glibc's malloc: 176 apart
  EXPECT_EQ(arena.chunk_bytes(), EntryArena::kChunkBytes);
}

TEST(EntryArenaTest, BlocksDoNotOverlapAcrossChunks) {
  EntryArena arena;
  std::vector<unsigned char*> blocks;
  const size_t kBytes = 150;
  const size_t per_chunk = EntryArena::kChunkBytes / 152;
  for (size_t i = 0; i < 3 * per_chunk; ++i) {
    auto* block = static_cast<unsigned char*>(arena.Allocate(kBytes));
    ASSERT_TRUE(Aligned(block));
    std::memset(block, static_cast<int>(i % 251), kBytes);
    blocks.push_back(block);
  }
  EXPECT_EQ(arena.chunk_bytes(), 3 * EntryArena::kChunkBytes);
  for (size_t i = 0; i < blocks.size(); ++i) {
    for (size_t j = 0; j < kBytes; ++j) {
      ASSERT_EQ(blocks[i][j], i % 251) << i << " " << j;
    }
  }
  for (unsigned char* block : blocks) arena.Free(block, kBytes);
}

TEST(EntryArenaTest, AFreedBlockServesTheNextOfItsSizeOnly) {
  EntryArena arena;
  void* a = arena.Allocate(166);
  void* b = arena.Allocate(166);
  arena.Free(a, 166);
  EXPECT_NE(arena.Allocate(100), a);  // another size class
  EXPECT_EQ(arena.Allocate(161), a);  // 161 and 166 both take 168
  void* c = arena.Allocate(166);
  EXPECT_NE(c, a);
  EXPECT_NE(c, b);
  // Freed blocks are reused last in, first out, and no chunk is added
  // while the free list has blocks.
  const size_t chunks = arena.chunk_bytes();
  arena.Free(b, 166);
  arena.Free(c, 166);
  EXPECT_EQ(arena.Allocate(166), c);
  EXPECT_EQ(arena.Allocate(166), b);
  EXPECT_EQ(arena.chunk_bytes(), chunks);
}

TEST(EntryArenaTest, LargeBlocksComeFromTheHeap) {
  EntryArena arena;
  void* small = arena.Allocate(8);
  const size_t chunks = arena.chunk_bytes();
  const size_t large = EntryArena::kMaxSmallBytes + 1;
  auto* block = static_cast<char*>(arena.Allocate(large));
  std::memset(block, 7, large);
  EXPECT_EQ(arena.chunk_bytes(), chunks);
  arena.Free(block, large);
  arena.Free(small, 8);
  arena.Free(nullptr, 8);  // nothing
}

}  // namespace
}  // namespace sluice
