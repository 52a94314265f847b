// Functional semantics of the cross-lane unit (docs/isa.md): transpose,
// reduction across lanes, lane permutation, over tiles in VMEM.
#include <algorithm>
#include <cstring>

#include "xtpu/sim/device.h"

namespace xtpu::sim {
namespace {

using isa::Opcode;
using isa::RedOp;

Status Transpose(Device& d, Core& c, const Resolved& r) {
  const DType t = static_cast<DType>(r["dtype"]);
  const int64_t dst = r["dst"], src = r["src"], rows = r["rows"], cols = r["cols"], ds = r["ds"], ss = r["ss"];
  const int esz = DTypeBytes(t);
  RETURN_IF_ERROR(CheckTile(c.vmem, src, ss, rows, cols * esz));
  RETURN_IF_ERROR(CheckTile(c.vmem, dst, ds, cols, rows * esz));
  if (static_cast<__int128>(rows) * cols * esz > c.vmem.size()) return Error("transposed tile {} x {} is larger than VMEM", rows, cols);
  RETURN_IF_ERROR(d.ChargeWork(rows, cols));
  if (!d.timing_only()) {
    std::vector<uint8_t> in(static_cast<size_t>(rows * cols * esz)), out(in.size());
    for (int64_t i = 0; i < rows; ++i) c.vmem.Read(src + i * ss, in.data() + i * cols * esz, cols * esz);
    for (int64_t i = 0; i < rows; ++i)
      for (int64_t j = 0; j < cols; ++j)
        std::memcpy(out.data() + (j * rows + i) * esz, in.data() + (i * cols + j) * esz, esz);
    for (int64_t j = 0; j < cols; ++j) c.vmem.Write(dst + j * ds, out.data() + j * rows * esz, rows * esz);
  }
  c.stats.xlu_ops += rows * cols;
  c.stats.vmem_read_bytes += rows * cols * esz;
  c.stats.vmem_write_bytes += rows * cols * esz;
  return OkStatus();
}

Status Reduce(Device& d, Core& c, const Resolved& r) {
  const auto op = static_cast<RedOp>(r["op"]);
  const DType t = static_cast<DType>(r["dtype"]);
  const int64_t dst = r["dst"], src = r["src"], rows = r["rows"], cols = r["cols"], ds = r["ds"], ss = r["ss"];
  const int esz = DTypeBytes(t);
  if (cols < 1) return Error("reduce over {} columns (need at least 1)", cols);
  RETURN_IF_ERROR(CheckTile(c.vmem, src, ss, rows, cols * esz));
  RETURN_IF_ERROR(CheckTile(c.vmem, dst, ds, rows, esz));
  RETURN_IF_ERROR(d.ChargeWork(rows, cols));
  const bool is_float = t == DType::kF32 || t == DType::kBF16;
  const int64_t lanes = d.timing_only() ? 0 : cols;
  std::vector<float> f(is_float ? lanes : 0);
  std::vector<int32_t> v(is_float ? 0 : lanes);
  for (int64_t i = 0; i < rows && !d.timing_only(); ++i) {
    if (is_float) {
      LoadRowF32(c.vmem, src + i * ss, cols, t, f.data());
      float s = f[0];
      for (int64_t j = 1; j < cols; ++j)
        s = op == RedOp::kSum ? s + f[j] : op == RedOp::kMax ? MaxF32(s, f[j]) : MinF32(s, f[j]);
      StoreRowF32(c.vmem, dst + i * ds, 1, t, &s);
    } else {
      LoadRowS32(c.vmem, src + i * ss, cols, t, v.data());
      int32_t s = v[0];
      for (int64_t j = 1; j < cols; ++j)
        s = op == RedOp::kSum ? static_cast<int32_t>(static_cast<uint32_t>(s) + static_cast<uint32_t>(v[j]))
            : op == RedOp::kMax ? std::max(s, v[j])
                                : std::min(s, v[j]);
      StoreRowS32(c.vmem, dst + i * ds, 1, t, &s);
    }
  }
  c.stats.xlu_ops += rows * cols;
  c.stats.vmem_read_bytes += rows * cols * esz;
  c.stats.vmem_write_bytes += rows * esz;
  return OkStatus();
}

Status Permute(Device& d, Core& c, const Resolved& r) {
  const DType t = static_cast<DType>(r["dtype"]);
  const int64_t dst = r["dst"], src = r["src"], idx = r["idx"], rows = r["rows"], cols = r["cols"];
  const int64_t ds = r["ds"], ss = r["ss"];
  const int esz = DTypeBytes(t);
  RETURN_IF_ERROR(CheckTile(c.vmem, src, ss, rows, cols * esz));
  RETURN_IF_ERROR(CheckTile(c.vmem, dst, ds, rows, cols * esz));
  RETURN_IF_ERROR(CheckTile(c.vmem, idx, 0, 1, cols * 4));
  RETURN_IF_ERROR(d.ChargeWork(rows, cols));
  const int64_t lanes = d.timing_only() ? 0 : cols;  // timing-only: indices not read
  std::vector<int32_t> p(lanes);
  c.vmem.Read(idx, p.data(), lanes * 4);
  for (int64_t j = 0; j < lanes; ++j)
    if (p[j] < 0 || p[j] >= cols)
      return Error("permutation index {} at idx + {} is outside [0, {})", p[j], 4 * j, cols);
  std::vector<uint8_t> in(static_cast<size_t>(lanes * esz)), out(in.size());
  for (int64_t i = 0; i < rows && !d.timing_only(); ++i) {
    c.vmem.Read(src + i * ss, in.data(), cols * esz);
    for (int64_t j = 0; j < cols; ++j) std::memcpy(out.data() + j * esz, in.data() + p[j] * esz, esz);
    c.vmem.Write(dst + i * ds, out.data(), cols * esz);
  }
  c.stats.xlu_ops += rows * cols;
  c.stats.vmem_read_bytes += rows * cols * esz + cols * 4;
  c.stats.vmem_write_bytes += rows * cols * esz;
  return OkStatus();
}

}  // namespace

Status ExecXlu(Device& d, Core& c, const Resolved& r) {
  if (r["rows"] < 0 || r["cols"] < 0 || r["cols"] > (int64_t{1} << 32))
    return Error("bad tile size {} x {}", r["rows"], r["cols"]);
  switch (r.inst->opcode) {
    case Opcode::kXluTranspose: return Transpose(d, c, r);
    case Opcode::kXluReduce: return Reduce(d, c, r);
    case Opcode::kXluPermute: return Permute(d, c, r);
    default: break;
  }
  return Error("instruction is not an XLU instruction");
}

}  // namespace xtpu::sim
