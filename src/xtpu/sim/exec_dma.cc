// Functional semantics of the DMA instructions: strided (up to 3D) copies
// HBM -> VMEM, VMEM -> HBM and VMEM -> VMEM, and the indexed row gather
// HBM -> VMEM (docs/isa.md).
#include "xtpu/sim/device.h"

namespace xtpu::sim {

Status ExecDma(Device& d, Core& c, const Resolved& r) {
  Memory* dst_mem = nullptr;
  Memory* src_mem = nullptr;
  switch (r.inst->opcode) {
    case isa::Opcode::kDmaLoad: dst_mem = &c.vmem, src_mem = &d.hbm(); break;
    case isa::Opcode::kDmaStore: dst_mem = &d.hbm(), src_mem = &c.vmem; break;
    case isa::Opcode::kDmaCopy: dst_mem = &c.vmem, src_mem = &c.vmem; break;
    case isa::Opcode::kDmaGather: return ExecDmaGather(d, c, r);
    default: return Error("instruction is not a DMA instruction");
  }
  const int64_t dst = r["dst"], src = r["src"], bytes = r["bytes"];
  const int64_t n1 = r["n1"], ds1 = r["ds1"], ss1 = r["ss1"];
  const int64_t n2 = r["n2"], ds2 = r["ds2"], ss2 = r["ss2"];
  RETURN_IF_ERROR(CheckTile3(*src_mem, src, ss1, n1, ss2, n2, bytes));
  RETURN_IF_ERROR(CheckTile3(*dst_mem, dst, ds1, n1, ds2, n2, bytes));
  // Both checks passed, so n1, n2, bytes >= 0 and every row is in range.
  if (n1 == 0 || n2 == 0 || bytes == 0) return OkStatus();
  __int128 total = static_cast<__int128>(bytes) * n1 * n2;
  if (total > (__int128{1} << 62)) return Error("transfer of {} x {} x {} bytes is too large", n2, n1, bytes);
  RETURN_IF_ERROR(d.ChargeWork(static_cast<int64_t>(total)));
  // Contiguous rows merge into one copy.
  const bool contiguous = ds1 == bytes && ss1 == bytes;
  for (int64_t i2 = 0; i2 < n2 && !d.timing_only(); ++i2) {
    if (contiguous) {
      Memory::Copy(*dst_mem, dst + i2 * ds2, *src_mem, src + i2 * ss2, bytes * n1);
      continue;
    }
    for (int64_t i1 = 0; i1 < n1; ++i1)
      Memory::Copy(*dst_mem, dst + i2 * ds2 + i1 * ds1, *src_mem, src + i2 * ss2 + i1 * ss1, bytes);
  }
  SimStats& st = c.stats;
  const int64_t t = static_cast<int64_t>(total);
  if (src_mem == &d.hbm()) st.hbm_read_bytes += t;
  else st.vmem_read_bytes += t;
  if (dst_mem == &d.hbm()) st.hbm_write_bytes += t;
  else st.vmem_write_bytes += t;
  return OkStatus();
}

// All addresses are checked before any index is read: every row the indices
// may select ([0, limit)) must lie in HBM, so a timing-only run (indices read
// as 0) faults exactly where a full run does, except for bad indices.
Status ExecDmaGather(Device& d, Core& c, const Resolved& r) {
  const int64_t dst = r["dst"], src = r["src"], idx = r["idx"], rows = r["rows"], bytes = r["bytes"];
  const int64_t stride = r["stride"], limit = r["limit"];
  if (rows < 0 || bytes < 0 || limit < 0)
    return Error("negative size (rows {}, bytes {}, limit {})", rows, bytes, limit);
  RETURN_IF_ERROR(CheckTile(c.vmem, idx, 4, rows, 4));
  RETURN_IF_ERROR(CheckTile(c.vmem, dst, bytes, rows, bytes));
  RETURN_IF_ERROR(CheckTile(d.hbm(), src, stride, limit, bytes));
  if (rows == 0) return OkStatus();
  if (limit == 0) return Error("gather of {} rows from an empty table (limit = 0)", rows);
  __int128 total = static_cast<__int128>(bytes) * rows;
  if (total > (__int128{1} << 62)) return Error("gather of {} x {} bytes is too large", rows, bytes);
  RETURN_IF_ERROR(d.ChargeWork(rows, bytes));
  if (!d.timing_only()) {
    std::vector<int32_t> p(static_cast<size_t>(rows));
    c.vmem.Read(idx, p.data(), rows * 4);
    for (int64_t i = 0; i < rows; ++i)
      if (p[i] < 0 || p[i] >= limit)
        return Error("gather index {} at idx + {} is outside [0, limit = {})", p[i], 4 * i, limit);
    for (int64_t i = 0; i < rows; ++i) Memory::Copy(c.vmem, dst + i * bytes, d.hbm(), src + p[i] * stride, bytes);
  }
  SimStats& st = c.stats;
  st.hbm_read_bytes += static_cast<int64_t>(total);
  st.vmem_write_bytes += static_cast<int64_t>(total);
  st.vmem_read_bytes += rows * 4;
  return OkStatus();
}

}  // namespace xtpu::sim
