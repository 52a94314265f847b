// A bounds-checked device memory (HBM, VMEM, SMEM).
//
// Memories up to kDenseLimit bytes (VMEM, SMEM) are one zeroed host
// allocation (calloc: the OS maps pages on first touch), so units can work
// on them in place through Data(). Larger ones (HBM) are sparse: 64 KiB pages
// allocated on first write; unwritten bytes read as zero, so a 32 GiB HBM
// costs host memory only for what a program touches. Callers check ranges
// with Check() (which gives the device-fault message) before Read/Write;
// Read/Write themselves XTPU_CHECK the range.
#pragma once

#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>
#include <unordered_map>

#include "xtpu/support/status.h"

namespace xtpu::sim {

class Memory {
 public:
  static constexpr int64_t kDenseLimit = int64_t{1} << 30;

  Memory(std::string name, int64_t size);

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

  // The whole memory as one host array, or nullptr if it is sparse.
  const uint8_t* Data() const { return dense_.get(); }
  uint8_t* MutableData() { return dense_.get(); }

  int64_t allocated_bytes() const {
    return dense_ ? size_ : static_cast<int64_t>(pages_.size()) << kPageBits;
  }

 private:
  static constexpr int kPageBits = 16;
  static constexpr int64_t kPageSize = int64_t{1} << kPageBits;
  struct FreeDeleter {
    void operator()(uint8_t* p) const { std::free(p); }
  };
  uint8_t* PageForWrite(int64_t page);
  const uint8_t* PageForRead(int64_t page) const;  // nullptr = all zero

  std::string name_;
  int64_t size_;
  std::unique_ptr<uint8_t[], FreeDeleter> dense_;
  std::unordered_map<int64_t, std::unique_ptr<uint8_t[]>> pages_;
};

}  // namespace xtpu::sim
