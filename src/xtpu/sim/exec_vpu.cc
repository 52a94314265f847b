// Functional semantics of the vector-unit instructions (docs/isa.md):
// elementwise binary/unary ops (arithmetic in vpu_ops.cc), select,
// reductions across sublanes, conversions and int8 requantization, over
// tiles in VMEM. Also the row I/O helpers shared with the cross-lane unit.
#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>

#include "xtpu/sim/device.h"

namespace xtpu::sim {

using isa::BinOp;
using isa::Opcode;
using isa::RedOp;
using isa::UnOp;

// ---- Row I/O --------------------------------------------------------------

namespace {

// bf16 <-> f32 over a row, as bf16::ToFloat / bf16::FromFloat (round to
// nearest even, NaN kept quiet) but written branch-free so the loops vectorize.
void WidenBf16Row(const uint8_t* src, int64_t n, float* out) {
  for (int64_t i = 0; i < n; ++i) {
    uint16_t v;
    std::memcpy(&v, src + 2 * i, 2);
    out[i] = std::bit_cast<float>(static_cast<uint32_t>(v) << 16);
  }
}

void NarrowBf16Row(const float* in, int64_t n, uint8_t* dst) {
  for (int64_t i = 0; i < n; ++i) {
    const uint32_t u = std::bit_cast<uint32_t>(in[i]);
    const uint32_t rounded = (u + 0x7fffu + ((u >> 16) & 1u)) >> 16;
    const uint32_t nan = (u >> 16) | 0x0040u;
    const uint16_t v = static_cast<uint16_t>((u & 0x7fffffffu) > 0x7f800000u ? nan : rounded);
    std::memcpy(dst + 2 * i, &v, 2);
  }
}

}  // namespace

void LoadRowF32(const Memory& m, int64_t addr, int64_t n, DType t, float* out) {
  if (t == DType::kF32) return m.Read(addr, out, n * 4);
  if (const uint8_t* d = m.Data()) return WidenBf16Row(d + addr, n, out);
  thread_local std::vector<uint8_t> b;
  b.resize(static_cast<size_t>(2 * n));
  m.Read(addr, b.data(), n * 2);
  WidenBf16Row(b.data(), n, out);
}

void StoreRowF32(Memory& m, int64_t addr, int64_t n, DType t, const float* in) {
  if (t == DType::kF32) return m.Write(addr, in, n * 4);
  if (uint8_t* d = m.MutableData()) return NarrowBf16Row(in, n, d + addr);
  thread_local std::vector<uint8_t> b;
  b.resize(static_cast<size_t>(2 * n));
  NarrowBf16Row(in, n, b.data());
  m.Write(addr, b.data(), n * 2);
}

void LoadRowS32(const Memory& m, int64_t addr, int64_t n, DType t, int32_t* out) {
  if (t == DType::kS32) return m.Read(addr, out, n * 4);
  thread_local std::vector<int8_t> b;
  b.resize(static_cast<size_t>(n));
  m.Read(addr, b.data(), n);
  for (int64_t i = 0; i < n; ++i) out[i] = b[i];
}

void StoreRowS32(Memory& m, int64_t addr, int64_t n, DType t, const int32_t* in) {
  if (t == DType::kS32) return m.Write(addr, in, n * 4);
  thread_local std::vector<int8_t> b;
  b.resize(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) b[i] = static_cast<int8_t>(std::clamp(in[i], -128, 127));
  m.Write(addr, b.data(), n);
}

namespace {

bool IsFloatT(DType t) { return t == DType::kF32 || t == DType::kBF16; }

// Row i of an output at `d` may be computed in place from row i of an input
// at `a` (both `bytes` long, 4-byte aligned) if they are the same bytes or do
// not overlap: then reading as you go equals reading the whole row first.
bool InPlaceOk(int64_t d, int64_t a, int64_t bytes) {
  return ((d | a) & 3) == 0 && (d == a || d + bytes <= a || a + bytes <= d);
}

// s[j] = op(s[j], x[j]) for j < n.
void ReduceRowF32(RedOp op, float* s, const float* x, int64_t n) {
  switch (op) {
    case RedOp::kSum:
      for (int64_t j = 0; j < n; ++j) s[j] = x[j] + s[j];  // (operand order as the scalar loop had it)
      return;
    case RedOp::kMax:
      for (int64_t j = 0; j < n; ++j) s[j] = MaxF32(s[j], x[j]);
      return;
    default:
      for (int64_t j = 0; j < n; ++j) s[j] = MinF32(s[j], x[j]);
      return;
  }
}

int32_t RedI(RedOp op, int32_t s, int32_t x) {
  return op == RedOp::kSum ? static_cast<int32_t>(static_cast<uint32_t>(s) + static_cast<uint32_t>(x))
         : op == RedOp::kMax ? std::max(s, x)
                             : std::min(s, x);
}

Status Binary(Device& d, Core& c, const Resolved& r, bool imm_form) {
  const auto op = static_cast<BinOp>(r["op"]);
  const DType t = static_cast<DType>(r["dtype"]);
  const int64_t dst = r["dst"], a = r["a"], rows = r["rows"], cols = r["cols"], ds = r["ds"], as = r["as"];
  const int esz = DTypeBytes(t);
  Memory& vm = c.vmem;
  RETURN_IF_ERROR(CheckTile(vm, a, as, rows, cols * esz));
  RETURN_IF_ERROR(CheckTile(vm, dst, ds, rows, cols * esz));
  int64_t b = 0, bs = 0;
  bool bcol = false;
  if (!imm_form) {
    b = r["b"], bs = r["bs"];
    bcol = static_cast<isa::BMode>(r["bmode"]) == isa::BMode::kCol;
    RETURN_IF_ERROR(CheckTile(vm, b, bs, rows, (bcol ? 1 : cols) * esz));
  }
  RETURN_IF_ERROR(d.ChargeWork(rows, cols));
  const uint32_t imm = static_cast<uint32_t>(imm_form ? r["imm"] : 0);
  // At least one lane: b's column (bmode=col) or the immediate is read even for cols = 0.
  const size_t lanes = static_cast<size_t>(d.timing_only() ? 0 : std::max<int64_t>(cols, 1));
  std::vector<uint32_t> va(lanes), vb(lanes), vo(lanes);  // 32-bit lanes: f32 or s32
  uint8_t* const base = vm.MutableData();  // dense VMEM: 32-bit rows in place
  for (int64_t i = 0; i < rows && !d.timing_only(); ++i) {
    const int64_t bn = bcol ? 1 : cols;
    const int64_t ra = a + i * as, rb = b + i * bs, rd = dst + i * ds;
    if (base && esz == 4 && InPlaceOk(rd, ra, cols * 4) &&
        (imm_form || (bcol ? (rb & 3) == 0 : InPlaceOk(rd, rb, cols * 4)))) {
      // (A broadcast b element is read once, before the row is written.)
      if (imm_form) vb[0] = imm;
      const void* pb = imm_form ? static_cast<const void*>(vb.data()) : base + rb;
      const int64_t step = bcol || imm_form ? 0 : 1;
      if (IsFloatT(t))
        VpuBinaryRowF32(op, reinterpret_cast<const float*>(base + ra), static_cast<const float*>(pb), step,
                        reinterpret_cast<float*>(base + rd), cols);
      else
        VpuBinaryRowS32(op, reinterpret_cast<const int32_t*>(base + ra), static_cast<const int32_t*>(pb), step,
                        reinterpret_cast<int32_t*>(base + rd), cols);
      continue;
    }
    if (IsFloatT(t)) {
      auto* fa = reinterpret_cast<float*>(va.data());
      auto* fb = reinterpret_cast<float*>(vb.data());
      auto* fo = reinterpret_cast<float*>(vo.data());
      LoadRowF32(vm, ra, cols, t, fa);
      if (imm_form) fb[0] = std::bit_cast<float>(imm);
      else LoadRowF32(vm, rb, bn, t, fb);
      VpuBinaryRowF32(op, fa, fb, bcol || imm_form ? 0 : 1, fo, cols);
      StoreRowF32(vm, rd, cols, t, fo);
    } else {
      auto* ia = reinterpret_cast<int32_t*>(va.data());
      auto* ib = reinterpret_cast<int32_t*>(vb.data());
      auto* io = reinterpret_cast<int32_t*>(vo.data());
      LoadRowS32(vm, ra, cols, t, ia);
      if (imm_form) ib[0] = static_cast<int32_t>(imm);
      else LoadRowS32(vm, rb, bn, t, ib);
      VpuBinaryRowS32(op, ia, ib, bcol || imm_form ? 0 : 1, io, cols);
      StoreRowS32(vm, rd, cols, t, io);
    }
  }
  c.stats.vpu_ops += rows * cols;
  c.stats.vmem_read_bytes += rows * cols * esz * (imm_form ? 1 : 2);
  c.stats.vmem_write_bytes += rows * cols * esz;
  return OkStatus();
}

Status Unary(Device& d, Core& c, const Resolved& r) {
  const auto op = static_cast<UnOp>(r["op"]);
  const DType t = static_cast<DType>(r["dtype"]);
  const int64_t dst = r["dst"], a = r["a"], rows = r["rows"], cols = r["cols"], ds = r["ds"], as = r["as"];
  const int esz = DTypeBytes(t);
  RETURN_IF_ERROR(CheckTile(c.vmem, a, as, rows, cols * esz));
  RETURN_IF_ERROR(CheckTile(c.vmem, dst, ds, rows, cols * esz));
  RETURN_IF_ERROR(d.ChargeWork(rows, cols));
  const int64_t lanes = d.timing_only() ? 0 : cols;
  std::vector<float> f(IsFloatT(t) ? lanes : 0);
  std::vector<int32_t> v(IsFloatT(t) ? 0 : lanes);
  uint8_t* const base = c.vmem.MutableData();  // dense VMEM: 32-bit rows in place
  for (int64_t i = 0; i < rows && !d.timing_only(); ++i) {
    const int64_t ra = a + i * as, rd = dst + i * ds;
    if (base && esz == 4 && InPlaceOk(rd, ra, cols * 4)) {
      if (IsFloatT(t))
        VpuUnaryRowF32(op, reinterpret_cast<const float*>(base + ra), reinterpret_cast<float*>(base + rd), cols);
      else
        VpuUnaryRowS32(op, reinterpret_cast<const int32_t*>(base + ra), reinterpret_cast<int32_t*>(base + rd), cols);
    } else if (IsFloatT(t)) {
      LoadRowF32(c.vmem, ra, cols, t, f.data());
      VpuUnaryRowF32(op, f.data(), f.data(), cols);
      StoreRowF32(c.vmem, rd, cols, t, f.data());
    } else {
      LoadRowS32(c.vmem, ra, cols, t, v.data());
      VpuUnaryRowS32(op, v.data(), v.data(), cols);
      StoreRowS32(c.vmem, rd, cols, t, v.data());
    }
  }
  c.stats.vpu_ops += rows * cols;
  c.stats.vmem_read_bytes += rows * cols * esz;
  c.stats.vmem_write_bytes += rows * cols * esz;
  return OkStatus();
}

Status Reduce(Device& d, Core& c, const Resolved& r) {
  const auto op = static_cast<RedOp>(r["op"]);
  const DType t = static_cast<DType>(r["dtype"]);
  const int64_t dst = r["dst"], src = r["src"], rows = r["rows"], cols = r["cols"], ss = r["ss"];
  const int esz = DTypeBytes(t);
  if (rows < 1) return Error("reduce over {} rows (need at least 1)", rows);
  RETURN_IF_ERROR(CheckTile(c.vmem, src, ss, rows, cols * esz));
  RETURN_IF_ERROR(CheckTile(c.vmem, dst, 0, 1, cols * esz));
  RETURN_IF_ERROR(d.ChargeWork(rows, cols));
  if (d.timing_only()) {
  } else if (IsFloatT(t)) {
    std::vector<float> s(cols), x(cols);
    const uint8_t* const base = c.vmem.Data();
    LoadRowF32(c.vmem, src, cols, t, s.data());
    for (int64_t i = 1; i < rows; ++i) {
      const int64_t ri = src + i * ss;
      if (base && t == DType::kF32 && (ri & 3) == 0) {
        ReduceRowF32(op, s.data(), reinterpret_cast<const float*>(base + ri), cols);  // read in place
      } else {
        LoadRowF32(c.vmem, ri, cols, t, x.data());
        ReduceRowF32(op, s.data(), x.data(), cols);
      }
    }
    StoreRowF32(c.vmem, dst, cols, t, s.data());
  } else {
    std::vector<int32_t> s(cols), x(cols);
    LoadRowS32(c.vmem, src, cols, t, s.data());
    for (int64_t i = 1; i < rows; ++i) {
      LoadRowS32(c.vmem, src + i * ss, cols, t, x.data());
      for (int64_t j = 0; j < cols; ++j) s[j] = RedI(op, s[j], x[j]);
    }
    StoreRowS32(c.vmem, dst, cols, t, s.data());
  }
  c.stats.vpu_ops += rows * cols;
  c.stats.vmem_read_bytes += rows * cols * esz;
  c.stats.vmem_write_bytes += cols * esz;
  return OkStatus();
}

int32_t F32ToS32(float f) {
  if (std::isnan(f)) return 0;
  double v = std::nearbyint(static_cast<double>(f));  // round half to even
  return static_cast<int32_t>(std::clamp(v, -2147483648.0, 2147483647.0));
}

Status Convert(Device& d, Core& c, const Resolved& r) {
  const DType to = static_cast<DType>(r["to"]), from = static_cast<DType>(r["from"]);
  const int64_t dst = r["dst"], src = r["src"], rows = r["rows"], cols = r["cols"], ds = r["ds"], ss = r["ss"];
  RETURN_IF_ERROR(CheckTile(c.vmem, src, ss, rows, cols * DTypeBytes(from)));
  RETURN_IF_ERROR(CheckTile(c.vmem, dst, ds, rows, cols * DTypeBytes(to)));
  RETURN_IF_ERROR(d.ChargeWork(rows, cols));
  std::vector<float> f(d.timing_only() ? 0 : cols);
  std::vector<int32_t> v(d.timing_only() ? 0 : cols);
  for (int64_t i = 0; i < rows && !d.timing_only(); ++i) {
    if (IsFloatT(from)) LoadRowF32(c.vmem, src + i * ss, cols, from, f.data());
    else LoadRowS32(c.vmem, src + i * ss, cols, from, v.data());
    if (IsFloatT(from) && !IsFloatT(to)) {
      for (int64_t j = 0; j < cols; ++j) v[j] = F32ToS32(f[j]);
    } else if (!IsFloatT(from) && IsFloatT(to)) {
      for (int64_t j = 0; j < cols; ++j) f[j] = static_cast<float>(v[j]);  // round to nearest even
    }
    if (IsFloatT(to)) StoreRowF32(c.vmem, dst + i * ds, cols, to, f.data());
    else StoreRowS32(c.vmem, dst + i * ds, cols, to, v.data());
  }
  c.stats.vpu_ops += rows * cols;
  c.stats.vmem_read_bytes += rows * cols * DTypeBytes(from);
  c.stats.vmem_write_bytes += rows * cols * DTypeBytes(to);
  return OkStatus();
}

Status Requant(Device& d, Core& c, const Resolved& r) {
  const int64_t dst = r["dst"], src = r["src"], rows = r["rows"], cols = r["cols"], ds = r["ds"], ss = r["ss"];
  const int64_t zp = r["zero_point"];
  const double scale = std::bit_cast<float>(static_cast<uint32_t>(r["scale"]));
  RETURN_IF_ERROR(CheckTile(c.vmem, src, ss, rows, cols * 4));
  RETURN_IF_ERROR(CheckTile(c.vmem, dst, ds, rows, cols));
  RETURN_IF_ERROR(d.ChargeWork(rows, cols));
  std::vector<int32_t> v(d.timing_only() ? 0 : cols);
  std::vector<int8_t> o(d.timing_only() ? 0 : cols);
  for (int64_t i = 0; i < rows && !d.timing_only(); ++i) {
    c.vmem.Read(src + i * ss, v.data(), cols * 4);
    for (int64_t j = 0; j < cols; ++j) {
      double x = std::nearbyint(static_cast<double>(v[j]) * scale);
      if (std::isnan(x)) x = 0;
      x = std::clamp(x + static_cast<double>(std::clamp<int64_t>(zp, -(1ll << 40), 1ll << 40)), -128.0, 127.0);
      o[j] = static_cast<int8_t>(x);
    }
    c.vmem.Write(dst + i * ds, o.data(), cols);
  }
  c.stats.vpu_ops += rows * cols;
  c.stats.vmem_read_bytes += rows * cols * 4;
  c.stats.vmem_write_bytes += rows * cols;
  return OkStatus();
}

// Bits of a or b are copied unchanged (so NaN payloads and -0 survive).
Status Select(Device& d, Core& c, const Resolved& r) {
  const DType t = static_cast<DType>(r["dtype"]);
  const int64_t dst = r["dst"], p = r["p"], a = r["a"], b = r["b"], rows = r["rows"], cols = r["cols"];
  const int64_t ds = r["ds"], ps = r["ps"], as = r["as"], bs = r["bs"];
  const int esz = DTypeBytes(t);
  Memory& vm = c.vmem;
  RETURN_IF_ERROR(CheckTile(vm, p, ps, rows, cols * 4));
  RETURN_IF_ERROR(CheckTile(vm, a, as, rows, cols * esz));
  RETURN_IF_ERROR(CheckTile(vm, b, bs, rows, cols * esz));
  RETURN_IF_ERROR(CheckTile(vm, dst, ds, rows, cols * esz));
  RETURN_IF_ERROR(d.ChargeWork(rows, cols));
  const size_t n = static_cast<size_t>(d.timing_only() ? 0 : cols);
  std::vector<uint32_t> vp(n);
  std::vector<uint8_t> va(n * esz), vb(n * esz);
  for (int64_t i = 0; i < rows && !d.timing_only(); ++i) {
    vm.Read(p + i * ps, vp.data(), cols * 4);
    vm.Read(a + i * as, va.data(), cols * esz);
    vm.Read(b + i * bs, vb.data(), cols * esz);
    for (int64_t j = 0; j < cols; ++j)
      if (vp[j] != 0) std::memcpy(vb.data() + j * esz, va.data() + j * esz, esz);
    vm.Write(dst + i * ds, vb.data(), cols * esz);
  }
  c.stats.vpu_ops += rows * cols;
  c.stats.vmem_read_bytes += rows * cols * (4 + 2 * esz);
  c.stats.vmem_write_bytes += rows * cols * esz;
  return OkStatus();
}

}  // namespace

Status ExecVpu(Device& d, Core& c, const Resolved& r) {
  if (r["rows"] < 0 || r["cols"] < 0 || r["cols"] > (int64_t{1} << 32))
    return Error("bad tile size {} x {}", r["rows"], r["cols"]);
  switch (r.inst->opcode) {
    case Opcode::kVpuBinary: return Binary(d, c, r, false);
    case Opcode::kVpuBinaryImm: return Binary(d, c, r, true);
    case Opcode::kVpuUnary: return Unary(d, c, r);
    case Opcode::kVpuReduce: return Reduce(d, c, r);
    case Opcode::kVpuConvert: return Convert(d, c, r);
    case Opcode::kVpuRequant: return Requant(d, c, r);
    case Opcode::kVpuSelect: return Select(d, c, r);
    default: break;
  }
  return Error("instruction is not a VPU instruction");
}

}  // namespace xtpu::sim
