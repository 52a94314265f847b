// A bounds-checked device memory (HBM, VMEM, SMEM).
//
// Memories up to kDenseLimit bytes (VMEM, SMEM) are one zeroed host
// allocation (the OS maps pages on first touch), so units can work on them
// in place through Data(). Larger ones (HBM) are sparse: 64 KiB pages
// allocated on first write; unwritten bytes read as zero, so a 32 GiB HBM
// costs host memory only for what a program touches. Sparse memories can
// also map host bytes read-only (MapReadOnly: constants are read where they
// lie, not copied); a page is copied out of such a mapping only when it is
// first written. Callers check ranges with Check() (which gives the
// device-fault message) before Read/Write; Read/Write themselves XTPU_CHECK
// the range.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "xtpu/support/status.h"

namespace xtpu::sim {

class Memory {
 public:
  static constexpr int64_t kDenseLimit = int64_t{1} << 30;

  Memory(std::string name, int64_t size);
  ~Memory();
  Memory(Memory&&) noexcept;
  Memory& operator=(Memory&&) = delete;
  Memory(const Memory&) = delete;
  Memory& operator=(const Memory&) = delete;

  const std::string& name() const { return name_; }
  int64_t size() const { return size_; }

  // OK if [addr, addr + bytes) lies inside the memory; else the fault text
  // "address 0x... + N bytes outside HBM (size 0x...)". Safe for any values.
  Status Check(int64_t addr, int64_t bytes) const;
  bool InRange(int64_t addr, int64_t bytes) const {
    return addr >= 0 && bytes >= 0 && addr <= size_ && bytes <= size_ - addr;
  }

  void Read(int64_t addr, void* out, int64_t bytes) const;
  void Write(int64_t addr, const void* in, int64_t bytes);
  // Copies within or between memories (ranges checked by the caller);
  // overlapping ranges behave like memmove.
  static void Copy(Memory& dst, int64_t dst_addr, const Memory& src, int64_t src_addr, int64_t bytes);

  // Has the effect of Write(addr, data, bytes), but a sparse memory keeps
  // only the pointer: reads of those bytes read `data` until a write to
  // their page copies the page (copy on write). `data` must stay valid and
  // unchanged for the life of this memory. Dense memories copy.
  void MapReadOnly(int64_t addr, const void* data, int64_t bytes);

  // The whole memory as one host array, or nullptr if it is sparse.
  const uint8_t* Data() const { return dense_; }
  uint8_t* MutableData() { return dense_; }

  // Host bytes this memory owns (mapped read-only bytes are not counted).
  int64_t allocated_bytes() const {
    return dense_ ? size_ : static_cast<int64_t>(pages_.size()) << kPageBits;
  }

 private:
  static constexpr int kPageBits = 16;
  static constexpr int64_t kPageSize = int64_t{1} << kPageBits;
  struct Mapping {
    int64_t addr, bytes;
    const uint8_t* data;
  };
  uint8_t* PageForWrite(int64_t page);
  const uint8_t* PageForRead(int64_t page) const;  // nullptr: not materialized
  // Bytes of a range with no materialized page: mapped bytes or zeros.
  void ReadUnmaterialized(int64_t addr, uint8_t* out, int64_t bytes) const;
  // A fresh zeroed page from the chunk pool.
  uint8_t* NewPage();

  std::string name_;
  int64_t size_;
  uint8_t* dense_ = nullptr;  // mmap'd, zeroed
  // Sparse pages; the map and the pool are shared by the threads of the
  // simulated cores (the bytes themselves are the program's to synchronize).
  mutable std::mutex mu_;
  std::unordered_map<int64_t, uint8_t*> pages_;
  std::vector<Mapping> mappings_;            // sorted by addr, disjoint
  std::vector<std::pair<uint8_t*, size_t>> chunks_;  // mmap'd page pools
  uint8_t* chunk_next_ = nullptr;
  uint8_t* chunk_end_ = nullptr;
};

}  // namespace xtpu::sim
