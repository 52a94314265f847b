// Sparse, bounds-checked device memory (see memory.h).
#include "xtpu/sim/memory.h"

#include <algorithm>
#include <cstring>
#include <vector>

#include "xtpu/support/check.h"

namespace xtpu::sim {

Status Memory::Check(int64_t addr, int64_t bytes) const {
  if (InRange(addr, bytes)) return OkStatus();
  if (bytes < 0) return Error("negative size {} bytes at address {:#x} in {}", bytes, addr, name_);
  if (addr < 0) return Error("negative address {} + {} bytes in {} (size {:#x})", addr, bytes, name_, size_);
  return Error("address {:#x} + {} bytes outside {} (size {:#x})", addr, bytes, name_, size_);
}

uint8_t* Memory::PageForWrite(int64_t page) {
  auto& p = pages_[page];
  if (!p) {
    p = std::make_unique<uint8_t[]>(kPageSize);
    std::memset(p.get(), 0, kPageSize);
  }
  return p.get();
}

const uint8_t* Memory::PageForRead(int64_t page) const {
  auto it = pages_.find(page);
  return it == pages_.end() ? nullptr : it->second.get();
}

void Memory::Read(int64_t addr, void* out, int64_t bytes) const {
  XTPU_CHECK(InRange(addr, bytes));
  auto* o = static_cast<uint8_t*>(out);
  while (bytes > 0) {
    int64_t page = addr >> kPageBits, off = addr & (kPageSize - 1);
    int64_t n = std::min(bytes, kPageSize - off);
    const uint8_t* p = PageForRead(page);
    if (p) std::memcpy(o, p + off, n);
    else std::memset(o, 0, n);
    o += n, addr += n, bytes -= n;
  }
}

void Memory::Write(int64_t addr, const void* in, int64_t bytes) {
  XTPU_CHECK(InRange(addr, bytes));
  auto* i = static_cast<const uint8_t*>(in);
  while (bytes > 0) {
    int64_t page = addr >> kPageBits, off = addr & (kPageSize - 1);
    int64_t n = std::min(bytes, kPageSize - off);
    std::memcpy(PageForWrite(page) + off, i, n);
    i += n, addr += n, bytes -= n;
  }
}

void Memory::Copy(Memory& dst, int64_t dst_addr, const Memory& src, int64_t src_addr, int64_t bytes) {
  // Through a bounce buffer, so overlapping ranges behave like memmove.
  thread_local std::vector<uint8_t> buf;
  buf.resize(static_cast<size_t>(std::min<int64_t>(bytes, 1 << 20)));
  while (bytes > 0) {
    int64_t n = std::min<int64_t>(bytes, static_cast<int64_t>(buf.size()));
    src.Read(src_addr, buf.data(), n);
    dst.Write(dst_addr, buf.data(), n);
    src_addr += n, dst_addr += n, bytes -= n;
  }
}

}  // namespace xtpu::sim
