// Bounds-checked device memory, dense or sparse (see memory.h).
#include "xtpu/sim/memory.h"

#include <sys/mman.h>

#include <algorithm>
#include <cstring>

#include "xtpu/support/check.h"

namespace xtpu::sim {
namespace {

constexpr size_t kHugePage = size_t{2} << 20;
constexpr size_t kChunkBytes = size_t{64} << 20;  // address space per page pool

// Zeroed host memory straight from the OS: its pages are mapped (and zeroed
// by the kernel) on first touch, so nothing is cleared twice. Regions of at
// least a huge page are 2 MiB aligned and advised to use transparent huge
// pages: one fault per 2 MiB instead of per 4 KiB.
uint8_t* MapZeroed(size_t bytes, size_t* mapped) {
  const bool huge = bytes >= kHugePage;
  size_t len = huge ? bytes + kHugePage : std::max<size_t>(bytes, 1);
  void* p = mmap(nullptr, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  XTPU_CHECK(p != MAP_FAILED);
  auto* base = static_cast<uint8_t*>(p);
  if (!huge) {
    *mapped = len;
    return base;
  }
  // Trim to a 2 MiB aligned region so every huge page is whole.
  auto addr = reinterpret_cast<uintptr_t>(base);
  uintptr_t aligned = (addr + kHugePage - 1) & ~(uintptr_t{kHugePage} - 1);
  size_t head = aligned - addr, tail = len - head - bytes;
  if (head) munmap(base, head);
  if (tail) munmap(reinterpret_cast<uint8_t*>(aligned) + bytes, tail);
#ifdef MADV_HUGEPAGE
  madvise(reinterpret_cast<void*>(aligned), bytes, MADV_HUGEPAGE);
#endif
  *mapped = bytes;
  return reinterpret_cast<uint8_t*>(aligned);
}

}  // namespace

Memory::Memory(std::string name, int64_t size) : name_(std::move(name)), size_(size) {
  if (size_ > 0 && size_ <= kDenseLimit) {
    size_t mapped = 0;
    dense_ = MapZeroed(static_cast<size_t>(size_), &mapped);
    chunks_.push_back({dense_, mapped});
  }
}

Memory::~Memory() {
  for (auto& [p, n] : chunks_) munmap(p, n);
}

Memory::Memory(Memory&& o) noexcept
    : name_(std::move(o.name_)), size_(o.size_), dense_(o.dense_), pages_(std::move(o.pages_)),
      mappings_(std::move(o.mappings_)), chunks_(std::move(o.chunks_)), chunk_next_(o.chunk_next_),
      chunk_end_(o.chunk_end_) {
  o.dense_ = nullptr;
  o.chunks_.clear();
  o.pages_.clear();
  o.chunk_next_ = o.chunk_end_ = nullptr;
}

Status Memory::Check(int64_t addr, int64_t bytes) const {
  if (InRange(addr, bytes)) return OkStatus();
  if (bytes < 0) return Error("negative size {} bytes at address {:#x} in {}", bytes, addr, name_);
  if (addr < 0) return Error("negative address {} + {} bytes in {} (size {:#x})", addr, bytes, name_, size_);
  return Error("address {:#x} + {} bytes outside {} (size {:#x})", addr, bytes, name_, size_);
}

uint8_t* Memory::NewPage() {
  if (chunk_next_ == chunk_end_) {
    size_t mapped = 0;
    chunk_next_ = MapZeroed(kChunkBytes, &mapped);
    chunk_end_ = chunk_next_ + mapped;
    chunks_.push_back({chunk_next_, mapped});
  }
  uint8_t* p = chunk_next_;
  chunk_next_ += kPageSize;
  return p;
}

uint8_t* Memory::PageForWrite(int64_t page) {
  std::lock_guard<std::mutex> lock(mu_);
  auto [it, fresh] = pages_.try_emplace(page, nullptr);
  if (fresh) {
    it->second = NewPage();  // zero
    if (!mappings_.empty()) {
      int64_t begin = page << kPageBits;
      ReadUnmaterialized(begin, it->second, std::min(kPageSize, size_ - begin));  // copy on write
    }
  }
  return it->second;
}

const uint8_t* Memory::PageForRead(int64_t page) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = pages_.find(page);
  return it == pages_.end() ? nullptr : it->second;
}

void Memory::ReadUnmaterialized(int64_t addr, uint8_t* out, int64_t bytes) const {
  const int64_t end = addr + bytes;
  // The first mapping that ends after addr (mappings are sorted and disjoint).
  auto it = std::partition_point(mappings_.begin(), mappings_.end(),
                                 [addr](const Mapping& m) { return m.addr + m.bytes <= addr; });
  int64_t at = addr;
  for (; it != mappings_.end() && it->addr < end; ++it) {
    int64_t lo = std::max(at, it->addr), hi = std::min(end, it->addr + it->bytes);
    if (lo > at) std::memset(out + (at - addr), 0, static_cast<size_t>(lo - at));
    std::memcpy(out + (lo - addr), it->data + (lo - it->addr), static_cast<size_t>(hi - lo));
    at = hi;
  }
  if (at < end) std::memset(out + (at - addr), 0, static_cast<size_t>(end - at));
}

void Memory::Read(int64_t addr, void* out, int64_t bytes) const {
  if (bytes == 0) return;  // empty tiles pass CheckTile at any address
  XTPU_CHECK(InRange(addr, bytes));
  auto* o = static_cast<uint8_t*>(out);
  if (dense_) {
    if (bytes > 0) std::memcpy(o, dense_ + addr, static_cast<size_t>(bytes));
    return;
  }
  while (bytes > 0) {
    int64_t page = addr >> kPageBits, off = addr & (kPageSize - 1);
    int64_t n = std::min(bytes, kPageSize - off);
    const uint8_t* p = PageForRead(page);
    if (p) std::memcpy(o, p + off, n);
    else ReadUnmaterialized(addr, o, n);
    o += n, addr += n, bytes -= n;
  }
}

void Memory::Write(int64_t addr, const void* in, int64_t bytes) {
  if (bytes == 0) return;  // empty tiles pass CheckTile at any address
  XTPU_CHECK(InRange(addr, bytes));
  auto* i = static_cast<const uint8_t*>(in);
  if (dense_) {
    if (bytes > 0) std::memcpy(dense_ + addr, i, static_cast<size_t>(bytes));
    return;
  }
  while (bytes > 0) {
    int64_t page = addr >> kPageBits, off = addr & (kPageSize - 1);
    int64_t n = std::min(bytes, kPageSize - off);
    std::memcpy(PageForWrite(page) + off, i, n);
    i += n, addr += n, bytes -= n;
  }
}

void Memory::MapReadOnly(int64_t addr, const void* data, int64_t bytes) {
  if (bytes == 0) return;
  XTPU_CHECK(InRange(addr, bytes));
  const auto* d = static_cast<const uint8_t*>(data);
  auto pos = std::partition_point(mappings_.begin(), mappings_.end(),
                                  [addr](const Mapping& m) { return m.addr + m.bytes <= addr; });
  if (dense_ || (pos != mappings_.end() && pos->addr < addr + bytes)) {
    // Dense, or over an earlier mapping: an ordinary write (which copies the
    // pages it touches out of the older mapping first).
    return Write(addr, data, bytes);
  }
  mappings_.insert(pos, Mapping{addr, bytes, d});
  // Pages written before this call hold their own copy: update them.
  const int64_t first = addr >> kPageBits, last = (addr + bytes - 1) >> kPageBits;
  auto update = [&](int64_t page, uint8_t* p) {
    int64_t lo = std::max(addr, page << kPageBits), hi = std::min(addr + bytes, (page + 1) << kPageBits);
    std::memcpy(p + (lo - (page << kPageBits)), d + (lo - addr), static_cast<size_t>(hi - lo));
  };
  if (static_cast<int64_t>(pages_.size()) < last - first + 1) {
    for (auto& [page, p] : pages_)
      if (page >= first && page <= last) update(page, p);
  } else {
    for (int64_t page = first; page <= last; ++page)
      if (auto it = pages_.find(page); it != pages_.end()) update(page, it->second);
  }
}

void Memory::Copy(Memory& dst, int64_t dst_addr, const Memory& src, int64_t src_addr, int64_t bytes) {
  if (bytes == 0) return;
  XTPU_CHECK(src.InRange(src_addr, bytes) && dst.InRange(dst_addr, bytes));
  if (bytes <= 0) return;
  if (&dst == &src) {
    if (dst.dense_) {
      std::memmove(dst.dense_ + dst_addr, src.dense_ + src_addr, static_cast<size_t>(bytes));
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
  if (dst.dense_) return src.Read(src_addr, dst.dense_ + dst_addr, bytes);
  if (src.dense_) return dst.Write(dst_addr, src.dense_ + src_addr, bytes);
  while (bytes > 0) {
    int64_t sp = src_addr >> kPageBits, so = src_addr & (kPageSize - 1);
    int64_t dp = dst_addr >> kPageBits, doff = dst_addr & (kPageSize - 1);
    int64_t n = std::min({bytes, kPageSize - so, kPageSize - doff});
    const uint8_t* s = src.PageForRead(sp);
    uint8_t* d = dst.PageForWrite(dp) + doff;
    if (s) std::memcpy(d, s + so, static_cast<size_t>(n));
    else src.ReadUnmaterialized(src_addr, d, n);
    src_addr += n, dst_addr += n, bytes -= n;
  }
}

}  // namespace xtpu::sim
