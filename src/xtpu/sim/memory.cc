// Bounds-checked device memory, dense or sparse (see memory.h).
#include "xtpu/sim/memory.h"

#include <algorithm>
#include <cstring>
#include <vector>

#include "xtpu/support/check.h"

namespace xtpu::sim {

Memory::Memory(std::string name, int64_t size) : name_(std::move(name)), size_(size) {
  if (size_ > 0 && size_ <= kDenseLimit) {
    dense_.reset(static_cast<uint8_t*>(std::calloc(static_cast<size_t>(size_), 1)));
    XTPU_CHECK(dense_ != nullptr);
  }
}

Status Memory::Check(int64_t addr, int64_t bytes) const {
  if (InRange(addr, bytes)) return OkStatus();
  if (bytes < 0) return Error("negative size {} bytes at address {:#x} in {}", bytes, addr, name_);
  if (addr < 0) return Error("negative address {} + {} bytes in {} (size {:#x})", addr, bytes, name_, size_);
  return Error("address {:#x} + {} bytes outside {} (size {:#x})", addr, bytes, name_, size_);
}

uint8_t* Memory::PageForWrite(int64_t page) {
  auto& p = pages_[page];
  if (!p) {
    p = std::make_unique<uint8_t[]>(kPageSize);  // value-initialized: zero
  }
  return p.get();
}

const uint8_t* Memory::PageForRead(int64_t page) const {
  auto it = pages_.find(page);
  return it == pages_.end() ? nullptr : it->second.get();
}

void Memory::Read(int64_t addr, void* out, int64_t bytes) const {
  if (bytes == 0) return;  // empty tiles pass CheckTile at any address
  XTPU_CHECK(InRange(addr, bytes));
  auto* o = static_cast<uint8_t*>(out);
  if (dense_) {
    if (bytes > 0) std::memcpy(o, dense_.get() + addr, static_cast<size_t>(bytes));
    return;
  }
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
  if (bytes == 0) return;  // empty tiles pass CheckTile at any address
  XTPU_CHECK(InRange(addr, bytes));
  auto* i = static_cast<const uint8_t*>(in);
  if (dense_) {
    if (bytes > 0) std::memcpy(dense_.get() + addr, i, static_cast<size_t>(bytes));
    return;
  }
  while (bytes > 0) {
    int64_t page = addr >> kPageBits, off = addr & (kPageSize - 1);
    int64_t n = std::min(bytes, kPageSize - off);
    std::memcpy(PageForWrite(page) + off, i, n);
    i += n, addr += n, bytes -= n;
  }
}

void Memory::Copy(Memory& dst, int64_t dst_addr, const Memory& src, int64_t src_addr, int64_t bytes) {
  if (bytes == 0) return;
  XTPU_CHECK(src.InRange(src_addr, bytes) && dst.InRange(dst_addr, bytes));
  if (bytes <= 0) return;
  if (&dst == &src) {
    if (dst.dense_) {
      std::memmove(dst.dense_.get() + dst_addr, src.dense_.get() + src_addr, static_cast<size_t>(bytes));
      return;
    }
    // Sparse to itself: through a bounce buffer, so overlaps act like memmove.
    thread_local std::vector<uint8_t> buf;
    buf.resize(static_cast<size_t>(std::min<int64_t>(bytes, 1 << 20)));
    while (bytes > 0) {
      int64_t n = std::min<int64_t>(bytes, static_cast<int64_t>(buf.size()));
      src.Read(src_addr, buf.data(), n);
      dst.Write(dst_addr, buf.data(), n);
      src_addr += n, dst_addr += n, bytes -= n;
    }
    return;
  }
  // Different memories never overlap: copy directly, page by page.
  if (dst.dense_) return src.Read(src_addr, dst.dense_.get() + dst_addr, bytes);
  if (src.dense_) return dst.Write(dst_addr, src.dense_.get() + src_addr, bytes);
  while (bytes > 0) {
    int64_t sp = src_addr >> kPageBits, so = src_addr & (kPageSize - 1);
    int64_t dp = dst_addr >> kPageBits, doff = dst_addr & (kPageSize - 1);
    int64_t n = std::min({bytes, kPageSize - so, kPageSize - doff});
    const uint8_t* s = src.PageForRead(sp);
    uint8_t* d = dst.PageForWrite(dp) + doff;
    if (s) std::memcpy(d, s + so, static_cast<size_t>(n));
    else std::memset(d, 0, static_cast<size_t>(n));
    src_addr += n, dst_addr += n, bytes -= n;
  }
}

}  // namespace xtpu::sim
