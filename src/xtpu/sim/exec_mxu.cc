// Functional semantics of the matrix-unit instructions (docs/isa.md):
// load/fetch weights, matmul into the accumulators, read accumulators out.
#include <bit>
#include <cstring>

#include "xtpu/sim/device.h"
#include "xtpu/sim/mxu_kernel.h"

namespace xtpu::sim {
namespace {

using isa::Opcode;

Status CheckDType(Device& d, DType t) {
  if (MxuRate(d.chip(), t) <= 0)
    return Error("chip '{}' has no {} matrix unit mode (mxu.{}_rate = 0)", d.chip().name, DTypeName(t),
                 DTypeName(t));
  return OkStatus();
}

Status LoadWeights(Device& d, Core& c, MxuState& m, const Resolved& r, const Memory& mem) {
  const ChipConfig& chip = d.chip();
  const int64_t src = r["src"], stride = r["stride"], k = r["k"], n = r["n"];
  const DType t = static_cast<DType>(r["dtype"]);
  RETURN_IF_ERROR(CheckDType(d, t));
  if (k < 1 || k > chip.mxu.rows) return Error("k = {} outside [1, mxu.rows = {}]", k, chip.mxu.rows);
  if (n < 1 || n > chip.mxu.cols) return Error("n = {} outside [1, mxu.cols = {}]", n, chip.mxu.cols);
  const int esz = DTypeBytes(t);
  RETURN_IF_ERROR(CheckTile(mem, src, stride, k, n * esz));
  RETURN_IF_ERROR(d.ChargeWork(k, n));
  const int64_t cols = chip.mxu.cols;
  std::vector<uint8_t> row(static_cast<size_t>(n * esz));
  m.loaded = true;
  m.dtype = t;
  m.k = k;
  m.n = n;
  if (d.timing_only()) {
    // No weight values; the tile's shape and dtype are all later checks need.
  } else if (t == DType::kBF16) {
    // Only the k x n tile is ever read (row stride cols): no clearing.
    m.wf.resize(static_cast<size_t>(k * cols));
    m.wi.clear();
    const uint8_t* dense = mem.Data();
    for (int64_t i = 0; i < k; ++i) {
      const uint8_t* in = dense ? dense + src + i * stride : row.data();
      if (!dense) mem.Read(src + i * stride, row.data(), n * esz);
      float* out = m.wf.data() + i * cols;
      for (int64_t j = 0; j < n; ++j) {
        uint16_t b;
        std::memcpy(&b, in + 2 * j, 2);
        out[j] = std::bit_cast<float>(static_cast<uint32_t>(b) << 16);
      }
    }
  } else {
    m.wi.assign(static_cast<size_t>(k * cols), 0);
    m.wf.clear();
    for (int64_t i = 0; i < k; ++i) {
      mem.Read(src + i * stride, row.data(), n);
      for (int64_t j = 0; j < n; ++j) m.wi[i * cols + j] = static_cast<int8_t>(row[j]);
    }
  }
  c.stats.weight_load_bytes += k * n * esz;
  (void)c;
  return OkStatus();
}

Status CountMatmul(Core& c, int64_t rows, const MxuState& m, int esz, bool accumulate) {
  SimStats& st = c.stats;
  st.mxu_flops += 2 * rows * m.k * m.n;
  st.vmem_read_bytes += rows * m.k * esz;
  st.acc_write_bytes += rows * m.n * 4;
  if (accumulate) st.acc_read_bytes += rows * m.n * 4;
  return OkStatus();
}

Status Matmul(Device& d, Core& c, MxuState& m, const Resolved& r) {
  const ChipConfig& chip = d.chip();
  const int64_t lhs = r["lhs"], stride = r["stride"], rows = r["m"], acc = r["acc"];
  const bool accumulate = r["accumulate"] != 0;
  const DType t = static_cast<DType>(r["dtype"]);
  RETURN_IF_ERROR(CheckDType(d, t));
  if (!m.loaded) return Error("matmul before any weights were loaded into this MXU");
  if (t != m.dtype)
    return Error("matmul dtype {} differs from the loaded weights' {}", DTypeName(t), DTypeName(m.dtype));
  if (rows < 0 || acc < 0 || acc > d.acc_rows() || rows > d.acc_rows() - acc)
    return Error("accumulator rows [{}, {} + {}) outside the {} accumulator rows", acc, acc, rows, d.acc_rows());
  const int esz = DTypeBytes(t);
  RETURN_IF_ERROR(CheckTile(c.vmem, lhs, stride, rows, m.k * esz));
  RETURN_IF_ERROR(d.ChargeWork(rows, m.n));
  if (rows == 0) return OkStatus();
  if (d.timing_only()) return CountMatmul(c, rows, m, esz, accumulate);
  const int64_t cols = chip.mxu.cols;
  uint32_t* accs = d.Accumulators(m) + acc * cols;
  // Decode the LHS tile to 32-bit once; the kernel then streams it.
  thread_local std::vector<uint8_t> raw;
  raw.resize(static_cast<size_t>(m.k * esz));
  if (t == DType::kBF16 && c.vmem.Data() != nullptr && lhs % 2 == 0 && stride % 2 == 0) {
    // Dense VMEM: the kernel reads the bf16 rows in place (range checked above).
    const auto* a = reinterpret_cast<const uint16_t*>(c.vmem.Data() + lhs);
    MatmulBF16(a, stride / 2, m.wf.data(), cols, reinterpret_cast<float*>(accs), cols, rows, m.k, m.n, accumulate,
               d.threads());
  } else if (t == DType::kBF16) {
    thread_local std::vector<float> a;
    a.resize(static_cast<size_t>(rows * m.k));
    for (int64_t i = 0; i < rows; ++i) {
      c.vmem.Read(lhs + i * stride, raw.data(), m.k * esz);
      const auto* b = reinterpret_cast<const uint16_t*>(raw.data());
      float* dst = a.data() + i * m.k;
      for (int64_t j = 0; j < m.k; ++j) {
        uint32_t u = static_cast<uint32_t>(b[j]) << 16;
        std::memcpy(dst + j, &u, 4);
      }
    }
    MatmulF32(a.data(), m.k, m.wf.data(), cols, reinterpret_cast<float*>(accs), cols, rows, m.k, m.n, accumulate,
              d.threads());
  } else {
    thread_local std::vector<int32_t> a;
    a.resize(static_cast<size_t>(rows * m.k));
    for (int64_t i = 0; i < rows; ++i) {
      c.vmem.Read(lhs + i * stride, raw.data(), m.k);
      for (int64_t j = 0; j < m.k; ++j) a[i * m.k + j] = static_cast<int8_t>(raw[j]);
    }
    MatmulS32(a.data(), m.k, m.wi.data(), cols, reinterpret_cast<int32_t*>(accs), cols, rows, m.k, m.n, accumulate,
              d.threads());
  }
  return CountMatmul(c, rows, m, esz, accumulate);
}

Status ReadAcc(Device& d, Core& c, MxuState& m, const Resolved& r) {
  const ChipConfig& chip = d.chip();
  const int64_t dst = r["dst"], stride = r["stride"], acc = r["acc"], rows = r["m"], n = r["n"];
  const DType t = static_cast<DType>(r["dtype"]);
  if (n < 0 || n > chip.mxu.cols) return Error("n = {} outside [0, mxu.cols = {}]", n, chip.mxu.cols);
  if (rows < 0 || acc < 0 || acc > d.acc_rows() || rows > d.acc_rows() - acc)
    return Error("accumulator rows [{}, {} + {}) outside the {} accumulator rows", acc, acc, rows, d.acc_rows());
  const int esz = DTypeBytes(t);
  RETURN_IF_ERROR(CheckTile(c.vmem, dst, stride, rows, n * esz));
  RETURN_IF_ERROR(d.ChargeWork(rows, n));
  const int64_t cols = chip.mxu.cols;
  const uint32_t* accs = d.timing_only() ? nullptr : d.Accumulators(m);
  std::vector<uint8_t> row(static_cast<size_t>(d.timing_only() ? 0 : n * esz));
  uint8_t* const vmem = c.vmem.MutableData();  // dense: rows written in place
  for (int64_t i = 0; i < rows && !d.timing_only(); ++i) {
    const uint32_t* src = accs + (acc + i) * cols;
    if (t == DType::kBF16) {
      // Round to nearest even as bf16::FromFloat, branch-free (vectorizes).
      uint8_t* out = vmem ? vmem + dst + i * stride : row.data();
      for (int64_t j = 0; j < n; ++j) {
        const uint32_t u = src[j];
        const uint32_t rounded = (u + 0x7fffu + ((u >> 16) & 1u)) >> 16;
        const uint16_t b = static_cast<uint16_t>((u & 0x7fffffffu) > 0x7f800000u ? (u >> 16) | 0x0040u : rounded);
        std::memcpy(out + 2 * j, &b, 2);
      }
      if (!vmem) c.vmem.Write(dst + i * stride, row.data(), n * 2);
    } else {
      c.vmem.Write(dst + i * stride, src, n * 4);  // f32 and s32: the words as they are
    }
  }
  c.stats.acc_read_bytes += rows * n * 4;
  c.stats.vmem_write_bytes += rows * n * esz;
  return OkStatus();
}

}  // namespace

Status ExecMxu(Device& d, Core& c, int mxu, const Resolved& r) {
  MxuState& m = c.mxus[mxu];
  switch (r.inst->opcode) {
    case Opcode::kMxuLoadWeights: {
      Status s = LoadWeights(d, c, m, r, c.vmem);
      if (s.ok()) c.stats.vmem_read_bytes += m.k * m.n * DTypeBytes(m.dtype);
      return s;
    }
    case Opcode::kMxuFetchWeights: {
      if (d.chip().weight_fifo.depth <= 0)
        return Error("chip '{}' has no weight FIFO (weight_fifo.depth = 0); load weights from VMEM",
                     d.chip().name);
      Status s = LoadWeights(d, c, m, r, d.hbm());
      if (s.ok()) c.stats.hbm_read_bytes += m.k * m.n * DTypeBytes(m.dtype);
      return s;
    }
    case Opcode::kMxuMatmul: return Matmul(d, c, m, r);
    case Opcode::kMxuReadAcc: return ReadAcc(d, c, m, r);
    default: break;
  }
  return Error("instruction is not an MXU instruction");
}

}  // namespace xtpu::sim
