// Reference evaluator: dot and convolution. Both become matrix products
// C[M,N] = A[M,K] * B[K,N]: dot by transposing to [batch, M, K] x [batch, K, N],
// convolution by im2col (rows k = (input feature in group, kernel spatial
// position in row-major order); padding and dilation holes are zeros).
// Float products and sums are in double, each output summed over k in
// increasing order from +0, then rounded once to the result type; integer
// dots sum in 64-bit two's complement and wrap to the result type.
//
// The double GEMM is blocked and packed (register tile 4x8) but every C
// element still sees its k terms in order, so blocking and threading never
// change a bit. f32 x f32 products are exact in double, so a fused
// multiply-add gives the same bits as a multiply then add.
#include <algorithm>
#include <atomic>
#include <cstring>
#include <memory>
#include <thread>

#include "xtpu/ir/eval_internal.h"

// The 4-wide double vectors are internal to this file (no ABI exposure).
#pragma GCC diagnostic ignored "-Wpsabi"

namespace xtpu::eval {
namespace {

constexpr int64_t kMR = 4, kNR = 8;
constexpr int64_t kKC = 256, kMC = 64, kNC = 2048;

typedef double v4d __attribute__((vector_size(32)));

inline __attribute__((always_inline)) v4d Load4(const double* p) {
  v4d v;
  std::memcpy(&v, p, sizeof(v));
  return v;
}
inline __attribute__((always_inline)) void Store4(double* p, v4d v) { std::memcpy(p, &v, sizeof(v)); }

// acc(4x8) = C tile; for k: acc += a[k][0..4) x b[k][0..8); C tile = acc.
inline __attribute__((always_inline)) void MicroKernel(int64_t kc, const double* ap, const double* bp,
                                                       double* c, int64_t ldc, int64_t mr, int64_t nr) {
  double tmp[kMR * kNR];
  double* ct = c;
  int64_t ldt = ldc;
  bool full = mr == kMR && nr == kNR;
  if (!full) {
    for (int64_t r = 0; r < kMR; ++r)
      for (int64_t j = 0; j < kNR; ++j) tmp[r * kNR + j] = (r < mr && j < nr) ? c[r * ldc + j] : 0.0;
    ct = tmp;
    ldt = kNR;
  }
  v4d c00 = Load4(ct), c01 = Load4(ct + 4);
  v4d c10 = Load4(ct + ldt), c11 = Load4(ct + ldt + 4);
  v4d c20 = Load4(ct + 2 * ldt), c21 = Load4(ct + 2 * ldt + 4);
  v4d c30 = Load4(ct + 3 * ldt), c31 = Load4(ct + 3 * ldt + 4);
  for (int64_t k = 0; k < kc; ++k) {
    v4d b0 = Load4(bp), b1 = Load4(bp + 4);
    v4d a0 = {ap[0], ap[0], ap[0], ap[0]};
    c00 += a0 * b0;
    c01 += a0 * b1;
    v4d a1 = {ap[1], ap[1], ap[1], ap[1]};
    c10 += a1 * b0;
    c11 += a1 * b1;
    v4d a2 = {ap[2], ap[2], ap[2], ap[2]};
    c20 += a2 * b0;
    c21 += a2 * b1;
    v4d a3 = {ap[3], ap[3], ap[3], ap[3]};
    c30 += a3 * b0;
    c31 += a3 * b1;
    ap += kMR;
    bp += kNR;
  }
  Store4(ct, c00);
  Store4(ct + 4, c01);
  Store4(ct + ldt, c10);
  Store4(ct + ldt + 4, c11);
  Store4(ct + 2 * ldt, c20);
  Store4(ct + 2 * ldt + 4, c21);
  Store4(ct + 3 * ldt, c30);
  Store4(ct + 3 * ldt + 4, c31);
  if (!full) {
    for (int64_t r = 0; r < mr; ++r)
      for (int64_t j = 0; j < nr; ++j) c[r * ldc + j] = tmp[r * kNR + j];
  }
}

inline __attribute__((always_inline)) void GemmBody(int64_t m, int64_t n, int64_t k, const double* a,
                                                    int64_t lda, const double* b, int64_t ldb,
                                                    double* c, int64_t ldc) {
  // Packing buffers sized to this product (uninitialized; fully written).
  int64_t kc_max = std::min(kKC, k);
  std::unique_ptr<double[]> bpack(
      new double[static_cast<size_t>(kc_max * ((std::min(kNC, n) + kNR - 1) / kNR * kNR))]);
  std::unique_ptr<double[]> apack(
      new double[static_cast<size_t>(kc_max * ((std::min(kMC, m) + kMR - 1) / kMR * kMR))]);
  for (int64_t jc = 0; jc < n; jc += kNC) {
    int64_t nc = std::min(kNC, n - jc);
    for (int64_t pc = 0; pc < k; pc += kKC) {
      int64_t kc = std::min(kKC, k - pc);
      // Pack B[pc:pc+kc, jc:jc+nc] into panels of kNR columns.
      for (int64_t jp = 0; jp * kNR < nc; ++jp) {
        int64_t j0 = jc + jp * kNR, nr = std::min(kNR, jc + nc - j0);
        double* dst = bpack.get() + jp * kc * kNR;
        for (int64_t kk = 0; kk < kc; ++kk) {
          const double* src = b + (pc + kk) * ldb + j0;
          for (int64_t j = 0; j < kNR; ++j) dst[kk * kNR + j] = j < nr ? src[j] : 0.0;
        }
      }
      for (int64_t ic = 0; ic < m; ic += kMC) {
        int64_t mc = std::min(kMC, m - ic);
        // Pack A[ic:ic+mc, pc:pc+kc] into panels of kMR rows.
        for (int64_t ip = 0; ip * kMR < mc; ++ip) {
          int64_t i0 = ic + ip * kMR, mr = std::min(kMR, ic + mc - i0);
          double* dst = apack.get() + ip * kc * kMR;
          for (int64_t r = 0; r < kMR; ++r) {
            const double* src = a + (i0 + r) * lda + pc;
            if (r < mr) {
              for (int64_t kk = 0; kk < kc; ++kk) dst[kk * kMR + r] = src[kk];
            } else {
              for (int64_t kk = 0; kk < kc; ++kk) dst[kk * kMR + r] = 0.0;
            }
          }
        }
        for (int64_t jp = 0; jp * kNR < nc; ++jp) {
          int64_t j0 = jc + jp * kNR, nr = std::min(kNR, jc + nc - j0);
          for (int64_t ip = 0; ip * kMR < mc; ++ip) {
            int64_t i0 = ic + ip * kMR, mr = std::min(kMR, ic + mc - i0);
            MicroKernel(kc, apack.get() + ip * kc * kMR, bpack.get() + jp * kc * kNR,
                        c + i0 * ldc + j0, ldc, mr, nr);
          }
        }
      }
    }
  }
}

__attribute__((target("avx2,fma"))) void GemmAvx2(int64_t m, int64_t n, int64_t k, const double* a,
                                                   int64_t lda, const double* b, int64_t ldb,
                                                   double* c, int64_t ldc) {
  GemmBody(m, n, k, a, lda, b, ldb, c, ldc);
}

void GemmPortable(int64_t m, int64_t n, int64_t k, const double* a, int64_t lda, const double* b,
                  int64_t ldb, double* c, int64_t ldc) {
  GemmBody(m, n, k, a, lda, b, ldb, c, ldc);
}

std::atomic<bool> force_portable{false};

void GemmSingle(int64_t m, int64_t n, int64_t k, const double* a, int64_t lda, const double* b,
                int64_t ldb, double* c, int64_t ldc) {
  static const bool avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  if (avx2 && !force_portable.load(std::memory_order_relaxed)) GemmAvx2(m, n, k, a, lda, b, ldb, c, ldc);
  else GemmPortable(m, n, k, a, lda, b, ldb, c, ldc);
}

// Integer product: C[M,N] += A[M,K] * B[K,N] modulo 2^64, k in order.
void GemmU64(int64_t m, int64_t n, int64_t k, const uint64_t* a, const uint64_t* b, uint64_t* c) {
  for (int64_t i = 0; i < m; ++i)
    for (int64_t kk = 0; kk < k; ++kk) {
      uint64_t av = a[i * k + kk];
      const uint64_t* brow = b + kk * n;
      uint64_t* crow = c + i * n;
      for (int64_t j = 0; j < n; ++j) crow[j] += av * brow[j];
    }
}

// Converts a literal to double (exact for all float dtypes and ints < 2^53).
std::vector<double> ToDoubles(const Literal& x) {
  int64_t n = x.num_elements();
  std::vector<double> out(static_cast<size_t>(n));
  switch (x.dtype()) {
    case DType::kF32: {
      const float* p = x.data<float>();
      for (int64_t i = 0; i < n; ++i) out[i] = p[i];
      break;
    }
    case DType::kBF16: {
      const bf16* p = x.data<bf16>();
      for (int64_t i = 0; i < n; ++i) out[i] = p[i].ToFloat();
      break;
    }
    default:
      for (int64_t i = 0; i < n; ++i) out[i] = x.GetAsDouble(i);
  }
  return out;
}

std::vector<uint64_t> ToU64(const Literal& x) {
  int64_t n = x.num_elements();
  std::vector<uint64_t> out(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) out[i] = static_cast<uint64_t>(x.GetAsInt64(i));
  return out;
}

// Rounds a double once to float (nearest even) or via round-to-odd f32 to
// bf16/f16 (also a single correct rounding).
float RoundToOdd(double d) {
  float f = static_cast<float>(d);
  if (static_cast<double>(f) == d || std::isnan(f) || std::isinf(f)) return f;
  if (std::fabs(static_cast<double>(f)) > std::fabs(d)) f = std::nextafter(f, 0.0f);
  uint32_t bits;
  std::memcpy(&bits, &f, 4);
  bits |= 1u;
  std::memcpy(&f, &bits, 4);
  return f;
}

Literal FromDoubles(const std::vector<double>& v, const Shape& shape) {
  Literal y(shape);
  int64_t n = y.num_elements();
  switch (shape.dtype) {
    case DType::kF32: {
      float* p = y.data<float>();
      for (int64_t i = 0; i < n; ++i) p[i] = static_cast<float>(v[i]);
      break;
    }
    case DType::kBF16: {
      bf16* p = y.data<bf16>();
      for (int64_t i = 0; i < n; ++i) p[i] = bf16::FromFloat(RoundToOdd(v[i]));
      break;
    }
    case DType::kF16: {
      f16* p = y.data<f16>();
      for (int64_t i = 0; i < n; ++i) p[i] = f16::FromFloat(RoundToOdd(v[i]));
      break;
    }
    default:
      for (int64_t i = 0; i < n; ++i) y.SetFromDouble(i, v[i]);
  }
  return y;
}

Literal FromU64(const std::vector<uint64_t>& v, const Shape& shape) {
  Literal y(shape);
  int64_t n = y.num_elements();
  if (IsFloat(shape.dtype)) {
    std::vector<double> d(v.size());
    for (size_t i = 0; i < v.size(); ++i) d[i] = static_cast<double>(static_cast<int64_t>(v[i]));
    return FromDoubles(d, shape);
  }
  for (int64_t i = 0; i < n; ++i) y.SetFromInt64(i, static_cast<int64_t>(v[i]));
  return y;
}

bool IsIntLike(DType t) { return IsInteger(t) || t == DType::kPred; }

}  // namespace

void SetPortableGemmForTesting(bool portable) { force_portable.store(portable); }

void ParallelFor(int64_t count, int num_threads, const std::function<void(int, int64_t)>& fn) {
  int64_t t = std::min<int64_t>(std::max(num_threads, 1), count);
  if (t <= 1) {
    for (int64_t i = 0; i < count; ++i) fn(0, i);
    return;
  }
  std::vector<std::thread> threads;
  for (int64_t w = 1; w < t; ++w)
    threads.emplace_back([&, w] {
      for (int64_t i = count * w / t; i < count * (w + 1) / t; ++i) fn(static_cast<int>(w), i);
    });
  for (int64_t i = 0; i < count / t; ++i) fn(0, i);
  for (auto& th : threads) th.join();
}

void GemmF64(int64_t m, int64_t n, int64_t k, const double* a, int64_t lda, const double* b,
             int64_t ldb, double* c, int64_t ldc, int num_threads) {
  if (m == 0 || n == 0 || k == 0) return;
  if (num_threads <= 1 || m * n * k < (int64_t{1} << 21)) {
    GemmSingle(m, n, k, a, lda, b, ldb, c, ldc);
    return;
  }
  // Two halves of independent outputs: columns when N is wide, else rows.
  if (n >= 2 * kNR && n >= m) {
    int64_t n0 = (n / 2 + kNR - 1) / kNR * kNR;
    std::thread t([&] { GemmSingle(m, n - n0, k, a, lda, b + n0, ldb, c + n0, ldc); });
    GemmSingle(m, n0, k, a, lda, b, ldb, c, ldc);
    t.join();
  } else {
    int64_t m0 = (m / 2 + kMR - 1) / kMR * kMR;
    if (m0 >= m) {
      GemmSingle(m, n, k, a, lda, b, ldb, c, ldc);
      return;
    }
    std::thread t([&] { GemmSingle(m - m0, n, k, a + m0 * lda, lda, b, ldb, c + m0 * ldc, ldc); });
    GemmSingle(m0, n, k, a, lda, b, ldb, c, ldc);
    t.join();
  }
}

StatusOr<Literal> EvalDot(const Instruction& inst, const Literal& lhs, const Literal& rhs,
                          const EvalOptions& options) {
  const DotDims& dd = inst.dot_dims;
  const Shape& ls = lhs.shape();
  const Shape& rs = rhs.shape();
  if (dd.lhs_batch.size() != dd.rhs_batch.size() ||
      dd.lhs_contracting.size() != dd.rhs_contracting.size())
    return Error("{}: lhs and rhs dimension numbers differ in count", Describe(inst));
  auto check_dims = [&](const std::vector<int64_t>& ds, const Shape& s) {
    for (int64_t d : ds)
      if (d < 0 || d >= s.rank()) return false;
    return true;
  };
  if (!check_dims(dd.lhs_batch, ls) || !check_dims(dd.lhs_contracting, ls) ||
      !check_dims(dd.rhs_batch, rs) || !check_dims(dd.rhs_contracting, rs))
    return Error("{}: dimension number out of range", Describe(inst));
  int64_t batch = 1, kk = 1, m = 1, n = 1;
  for (size_t i = 0; i < dd.lhs_batch.size(); ++i) {
    if (ls.dims[dd.lhs_batch[i]] != rs.dims[dd.rhs_batch[i]])
      return Error("{}: batch dims differ in size", Describe(inst));
    batch *= ls.dims[dd.lhs_batch[i]];
  }
  for (size_t i = 0; i < dd.lhs_contracting.size(); ++i) {
    if (ls.dims[dd.lhs_contracting[i]] != rs.dims[dd.rhs_contracting[i]])
      return Error("{}: contracting dims differ in size ({} vs {})", Describe(inst),
                   ls.dims[dd.lhs_contracting[i]], rs.dims[dd.rhs_contracting[i]]);
    kk *= ls.dims[dd.lhs_contracting[i]];
  }
  auto free_dims = [](const Shape& s, const std::vector<int64_t>& a, const std::vector<int64_t>& b) {
    std::vector<int64_t> f;
    for (int64_t d = 0; d < s.rank(); ++d)
      if (std::find(a.begin(), a.end(), d) == a.end() && std::find(b.begin(), b.end(), d) == b.end())
        f.push_back(d);
    return f;
  };
  std::vector<int64_t> lfree = free_dims(ls, dd.lhs_batch, dd.lhs_contracting);
  std::vector<int64_t> rfree = free_dims(rs, dd.rhs_batch, dd.rhs_contracting);
  for (int64_t d : lfree) m *= ls.dims[d];
  for (int64_t d : rfree) n *= rs.dims[d];
  if (inst.shape.num_elements() != batch * m * n)
    return Error("{}: result {} does not match the operands", Describe(inst), inst.shape.ToString());
  std::vector<int64_t> lperm = dd.lhs_batch, rperm = dd.rhs_batch;
  lperm.insert(lperm.end(), lfree.begin(), lfree.end());
  lperm.insert(lperm.end(), dd.lhs_contracting.begin(), dd.lhs_contracting.end());
  rperm.insert(rperm.end(), dd.rhs_contracting.begin(), dd.rhs_contracting.end());
  rperm.insert(rperm.end(), rfree.begin(), rfree.end());
  Literal a = TransposeLiteral(lhs, lperm);
  Literal b = TransposeLiteral(rhs, rperm);
  if (IsIntLike(lhs.dtype()) && IsIntLike(rhs.dtype())) {
    std::vector<uint64_t> av = ToU64(a), bv = ToU64(b), cv(static_cast<size_t>(batch * m * n), 0);
    for (int64_t i = 0; i < batch; ++i)
      GemmU64(m, n, kk, av.data() + i * m * kk, bv.data() + i * kk * n, cv.data() + i * m * n);
    return FromU64(cv, inst.shape);
  }
  std::vector<double> av = ToDoubles(a), bv = ToDoubles(b), cv(static_cast<size_t>(batch * m * n), 0.0);
  // Many small products (attention heads): one thread per batch range.
  bool by_batch = batch >= options.num_threads && m * n * kk < (int64_t{1} << 23);
  ParallelFor(batch, by_batch ? options.num_threads : 1, [&](int, int64_t i) {
    GemmF64(m, n, kk, av.data() + i * m * kk, kk, bv.data() + i * kk * n, n, cv.data() + i * m * n, n,
            by_batch ? 1 : options.num_threads);
  });
  return FromDoubles(cv, inst.shape);
}

namespace {

// Convolution geometry in canonical order: input [B][C][S...], kernel
// [O][Cg][Ks...], output [B][O][P...].
struct ConvGeometry {
  int64_t batch, in_features, out_features, groups, in_per_group, out_per_group;
  std::vector<int64_t> in_spatial, kernel_spatial, out_spatial;
  int64_t in_size = 1, kernel_size = 1, out_size = 1;  // spatial element counts
};

// For each kernel position (row-major), the flat input spatial index read by
// each output position, or -1 for padding / dilation holes.
std::vector<std::vector<int64_t>> ConvTaps(const ConvGeometry& g, const std::vector<WindowDim>& win) {
  size_t rank = g.in_spatial.size();
  std::vector<int64_t> in_strides = RowMajorStrides(g.in_spatial);
  std::vector<int64_t> k_strides = RowMajorStrides(g.kernel_spatial);
  std::vector<std::vector<int64_t>> taps(static_cast<size_t>(g.kernel_size));
  for (int64_t kp = 0; kp < g.kernel_size; ++kp) {
    std::vector<int64_t> idx(1, 0);
    for (size_t d = 0; d < rank; ++d) {
      const WindowDim& w = win[d];
      int64_t kd = (kp / k_strides[d]) % g.kernel_spatial[d];
      int64_t od_n = g.out_spatial[d];
      int64_t dilated = (g.in_spatial[d] - 1) * w.base_dilation + 1;
      std::vector<int64_t> in_d(od_n);
      for (int64_t o = 0; o < od_n; ++o) {
        int64_t pos = o * w.stride - w.pad_lo + kd * w.window_dilation;
        in_d[o] = (pos < 0 || pos >= dilated || pos % w.base_dilation != 0) ? -1 : pos / w.base_dilation;
      }
      std::vector<int64_t> next(idx.size() * od_n);
      for (size_t i = 0; i < idx.size(); ++i)
        for (int64_t o = 0; o < od_n; ++o)
          next[i * od_n + o] = (idx[i] < 0 || in_d[o] < 0) ? -1 : idx[i] + in_d[o] * in_strides[d];
      idx.swap(next);
    }
    taps[kp] = std::move(idx);
  }
  return taps;
}

// Builds im2col rows for one (batch, group): col[c * Ks + kp][p].
template <typename T>
void Im2Col(const ConvGeometry& g, const std::vector<std::vector<int64_t>>& taps, const T* in, T* col) {
  for (int64_t c = 0; c < g.in_per_group; ++c) {
    const T* plane = in + c * g.in_size;
    for (int64_t kp = 0; kp < g.kernel_size; ++kp) {
      T* row = col + (c * g.kernel_size + kp) * g.out_size;
      const int64_t* idx = taps[kp].data();
      for (int64_t p = 0; p < g.out_size; ++p) row[p] = idx[p] >= 0 ? plane[idx[p]] : T(0);
    }
  }
}

}  // namespace

StatusOr<Literal> EvalConvolution(const Instruction& inst, const Literal& input, const Literal& kernel,
                                  const EvalOptions& options) {
  const ConvDims& cd = inst.conv_dims;
  const Shape& is = input.shape();
  const Shape& ks = kernel.shape();
  const Shape& os = inst.shape;
  size_t rank = cd.input_spatial.size();
  if (inst.batch_group_count != 1)
    return Unimplemented("{}: batch_group_count {} is not supported", Describe(inst), inst.batch_group_count);
  if (cd.kernel_spatial.size() != rank || cd.output_spatial.size() != rank || inst.window.size() != rank ||
      is.rank() != static_cast<int64_t>(rank + 2) || ks.rank() != static_cast<int64_t>(rank + 2) ||
      os.rank() != static_cast<int64_t>(rank + 2))
    return Error("{}: dim_labels, window and operand ranks disagree", Describe(inst));
  ConvGeometry g;
  g.batch = is.dims[cd.input_batch];
  g.in_features = is.dims[cd.input_feature];
  g.out_features = ks.dims[cd.kernel_output_feature];
  g.groups = inst.feature_group_count;
  if (g.groups < 1 || g.in_features % g.groups != 0 || g.out_features % g.groups != 0)
    return Error("{}: feature_group_count {} does not divide the features", Describe(inst), g.groups);
  g.in_per_group = g.in_features / g.groups;
  g.out_per_group = g.out_features / g.groups;
  if (ks.dims[cd.kernel_input_feature] != g.in_per_group)
    return Error("{}: kernel input features {} != input features / groups {}", Describe(inst),
                 ks.dims[cd.kernel_input_feature], g.in_per_group);
  if (os.dims[cd.output_batch] != g.batch || os.dims[cd.output_feature] != g.out_features)
    return Error("{}: result {} does not match the operands", Describe(inst), os.ToString());
  for (size_t d = 0; d < rank; ++d) {
    g.in_spatial.push_back(is.dims[cd.input_spatial[d]]);
    g.kernel_spatial.push_back(ks.dims[cd.kernel_spatial[d]]);
    g.out_spatial.push_back(os.dims[cd.output_spatial[d]]);
    g.in_size *= g.in_spatial.back();
    g.kernel_size *= g.kernel_spatial.back();
    g.out_size *= g.out_spatial.back();
    const WindowDim& w = inst.window[d];
    if (w.stride < 1 || w.base_dilation < 1 || w.window_dilation < 1)
      return Error("{}: strides and dilations must be >= 1", Describe(inst));
  }
  std::vector<int64_t> in_perm = {cd.input_batch, cd.input_feature};
  in_perm.insert(in_perm.end(), cd.input_spatial.begin(), cd.input_spatial.end());
  std::vector<int64_t> k_perm = {cd.kernel_output_feature, cd.kernel_input_feature};
  k_perm.insert(k_perm.end(), cd.kernel_spatial.begin(), cd.kernel_spatial.end());
  // Canonical output [B][O][P...] -> the result's layout.
  std::vector<int64_t> canon_dims = {g.batch, g.out_features};
  canon_dims.insert(canon_dims.end(), g.out_spatial.begin(), g.out_spatial.end());
  std::vector<int64_t> out_perm(rank + 2);
  out_perm[cd.output_batch] = 0;
  out_perm[cd.output_feature] = 1;
  for (size_t d = 0; d < rank; ++d) out_perm[cd.output_spatial[d]] = static_cast<int64_t>(d + 2);

  Literal in_c = TransposeLiteral(input, in_perm);
  Literal k_c = TransposeLiteral(kernel, k_perm);
  std::vector<std::vector<int64_t>> taps = ConvTaps(g, inst.window);
  int64_t K = g.in_per_group * g.kernel_size, P = g.out_size, Og = g.out_per_group;
  int64_t out_n = g.batch * g.out_features * P;
  bool direct = g.kernel_size == 1;  // 1x1, stride 1, no padding: col is the input
  if (direct) {
    if (P != g.in_size) direct = false;
    for (int64_t p = 0; direct && p < P; ++p) direct = taps[0][p] == p;
  }
  Shape canon_shape(os.dtype, canon_dims);
  Literal canon;
  if (IsIntLike(input.dtype()) && IsIntLike(kernel.dtype())) {
    std::vector<uint64_t> in = ToU64(in_c), w = ToU64(k_c), out(static_cast<size_t>(out_n), 0);
    std::vector<uint64_t> col(static_cast<size_t>(direct ? 0 : K * P));
    for (int64_t b = 0; b < g.batch; ++b)
      for (int64_t gi = 0; gi < g.groups; ++gi) {
        const uint64_t* src = in.data() + (b * g.in_features + gi * g.in_per_group) * g.in_size;
        if (!direct) Im2Col(g, taps, src, col.data());
        GemmU64(Og, P, K, w.data() + gi * Og * K, direct ? src : col.data(),
                out.data() + (b * g.out_features + gi * Og) * P);
      }
    canon = FromU64(out, canon_shape);
  } else {
    std::vector<double> in = ToDoubles(in_c), w = ToDoubles(k_c), out(static_cast<size_t>(out_n), 0.0);
    // Many small products (batch, depthwise groups): threads split the
    // (batch, group) pairs; otherwise each product is split.
    int64_t items = g.batch * g.groups;
    bool by_item = items >= options.num_threads && Og * P * K < (int64_t{1} << 23);
    int threads = by_item ? options.num_threads : 1;
    std::vector<std::vector<double>> cols(static_cast<size_t>(threads));
    ParallelFor(items, threads, [&](int worker, int64_t item) {
      int64_t b = item / g.groups, gi = item % g.groups;
      const double* src = in.data() + (b * g.in_features + gi * g.in_per_group) * g.in_size;
      std::vector<double>& col = cols[static_cast<size_t>(worker)];
      if (!direct && col.empty()) col.resize(static_cast<size_t>(K * P));
      if (!direct) Im2Col(g, taps, src, col.data());
      GemmF64(Og, P, K, w.data() + gi * Og * K, K, direct ? src : col.data(), P,
              out.data() + (b * g.out_features + gi * Og) * P, P, by_item ? 1 : options.num_threads);
    });
    canon = FromDoubles(out, canon_shape);
  }
  return TransposeLiteral(canon, out_perm);
}

}  // namespace xtpu::eval
