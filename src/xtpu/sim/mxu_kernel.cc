// Register-blocked MXU kernels (see mxu_kernel.h for the exact semantics).
//
// The f32 kernel keeps a 6 x 16 block of partial sums in AVX2 registers,
// walks i = 0..k-1 in order doing one FMA per element and step, then adds
// the block into C (or stores it). Each lane therefore performs exactly the
// reference sequence fma(a, w, s), so results equal the plain loop bit for
// bit. Hosts without AVX2/FMA and the edges use the scalar loop (std::fma).
#include "xtpu/sim/mxu_kernel.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <thread>
#include <vector>

#if defined(__x86_64__)
#include <immintrin.h>
#define XTPU_HAVE_X86 1
#else
#define XTPU_HAVE_X86 0
#endif

namespace xtpu::sim {
namespace {

void ScalarBlockF32(const float* a, int64_t lda, const float* w, int64_t ldw, float* c, int64_t ldc, int64_t r0,
                    int64_t r1, int64_t j0, int64_t j1, int64_t k, bool accumulate) {
  for (int64_t r = r0; r < r1; ++r) {
    for (int64_t j = j0; j < j1; ++j) {
      float s = 0.0f;
      for (int64_t i = 0; i < k; ++i) s = std::fma(a[r * lda + i], w[i * ldw + j], s);
      float& out = c[r * ldc + j];
      out = accumulate ? out + s : s;
    }
  }
}

#if XTPU_HAVE_X86
template <int R>
__attribute__((target("avx2,fma"))) void MicroF32(const float* a, int64_t lda, const float* w, int64_t ldw, float* c,
                                                  int64_t ldc, int64_t k, bool accumulate) {
  __m256 s[R][2];
#pragma GCC unroll 8
  for (int r = 0; r < R; ++r) s[r][0] = s[r][1] = _mm256_setzero_ps();
  for (int64_t i = 0; i < k; ++i) {
    const __m256 b0 = _mm256_loadu_ps(w + i * ldw);
    const __m256 b1 = _mm256_loadu_ps(w + i * ldw + 8);
#pragma GCC unroll 8
    for (int r = 0; r < R; ++r) {
      const __m256 x = _mm256_broadcast_ss(a + r * lda + i);
      s[r][0] = _mm256_fmadd_ps(x, b0, s[r][0]);
      s[r][1] = _mm256_fmadd_ps(x, b1, s[r][1]);
    }
  }
#pragma GCC unroll 8
  for (int r = 0; r < R; ++r) {
    float* out = c + r * ldc;
    if (accumulate) {
      s[r][0] = _mm256_add_ps(_mm256_loadu_ps(out), s[r][0]);
      s[r][1] = _mm256_add_ps(_mm256_loadu_ps(out + 8), s[r][1]);
    }
    _mm256_storeu_ps(out, s[r][0]);
    _mm256_storeu_ps(out + 8, s[r][1]);
  }
}

// Rows [r0, r1) against the packed panels (see MatmulF32): the 6-row block
// of A stays in L1 while it meets every 16-column panel of W.
__attribute__((target("avx2,fma"))) void BlockF32Avx2(const float* a, int64_t lda, const float* panels, float* c,
                                                      int64_t ldc, int64_t r0, int64_t r1, int64_t k, int64_t n16,
                                                      bool accumulate) {
  int64_t r = r0;
  for (; r + 6 <= r1; r += 6)
    for (int64_t j = 0; j < n16; j += 16)
      MicroF32<6>(a + r * lda, lda, panels + j * k, 16, c + r * ldc + j, ldc, k, accumulate);
  if (r == r1) return;
  for (int64_t j = 0; j < n16; j += 16) {
    const float* ar = a + r * lda;
    const float* w = panels + j * k;
    float* cr = c + r * ldc + j;
    switch (r1 - r) {
      case 5: MicroF32<5>(ar, lda, w, 16, cr, ldc, k, accumulate); break;
      case 4: MicroF32<4>(ar, lda, w, 16, cr, ldc, k, accumulate); break;
      case 3: MicroF32<3>(ar, lda, w, 16, cr, ldc, k, accumulate); break;
      case 2: MicroF32<2>(ar, lda, w, 16, cr, ldc, k, accumulate); break;
      case 1: MicroF32<1>(ar, lda, w, 16, cr, ldc, k, accumulate); break;
      default: break;
    }
  }
}

bool HostHasAvx2Fma() {
  static const bool has = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  return has;
}
#endif

void BlockS32(const int32_t* a, int64_t lda, const int32_t* w, int64_t ldw, int32_t* c, int64_t ldc, int64_t r0,
              int64_t r1, int64_t k, int64_t n, bool accumulate) {
  std::vector<uint32_t> s(static_cast<size_t>(n));
  for (int64_t r = r0; r < r1; ++r) {
    std::fill(s.begin(), s.end(), 0u);
    uint32_t* __restrict sp = s.data();
    for (int64_t i = 0; i < k; ++i) {
      const uint32_t x = static_cast<uint32_t>(a[r * lda + i]);
      const int32_t* __restrict wr = w + i * ldw;
      for (int64_t j = 0; j < n; ++j) sp[j] += x * static_cast<uint32_t>(wr[j]);
    }
    int32_t* out = c + r * ldc;
    for (int64_t j = 0; j < n; ++j)
      out[j] = static_cast<int32_t>(accumulate ? static_cast<uint32_t>(out[j]) + sp[j] : sp[j]);
  }
}

// Splits [0, m) into row ranges (multiples of 6) over up to `threads` threads.
template <typename F>
void ParallelRows(int64_t m, int64_t flops, int threads, F&& f) {
  int t = static_cast<int>(std::min<int64_t>(threads, (m + 5) / 6));
  if (flops < (int64_t{1} << 21)) t = 1;  // not worth a thread
  if (t <= 1) return f(int64_t{0}, m);
  int64_t per = ((m + t - 1) / t + 5) / 6 * 6;
  std::vector<std::thread> pool;
  for (int i = 1; i < t; ++i) {
    int64_t r0 = i * per, r1 = std::min(m, r0 + per);
    if (r0 < r1) pool.emplace_back([&f, r0, r1] { f(r0, r1); });
  }
  f(int64_t{0}, std::min(m, per));
  for (auto& th : pool) th.join();
}

}  // namespace

void MatmulF32(const float* a, int64_t lda, const float* w, int64_t ldw, float* c, int64_t ldc, int64_t m, int64_t k,
               int64_t n, bool accumulate, int threads) {
#if XTPU_HAVE_X86
  if (HostHasAvx2Fma()) {
    // Pack W into 16-column panels, each k x 16 contiguous, so the kernel
    // reads it sequentially.
    const int64_t n16 = n / 16 * 16;
    thread_local std::vector<float> panels;
    panels.resize(static_cast<size_t>(n16 * k));
    for (int64_t j = 0; j < n16; j += 16)
      for (int64_t i = 0; i < k; ++i) std::memcpy(&panels[j * k + i * 16], w + i * ldw + j, 16 * sizeof(float));
    const float* pw = panels.data();
    ParallelRows(m, 2 * m * n * k, threads, [&](int64_t r0, int64_t r1) {
      BlockF32Avx2(a, lda, pw, c, ldc, r0, r1, k, n16, accumulate);
      if (n16 < n) ScalarBlockF32(a, lda, w, ldw, c, ldc, r0, r1, n16, n, k, accumulate);
    });
    return;
  }
#endif
  ParallelRows(m, 2 * m * n * k, threads, [&](int64_t r0, int64_t r1) {
    ScalarBlockF32(a, lda, w, ldw, c, ldc, r0, r1, 0, n, k, accumulate);
  });
}

void MatmulS32(const int32_t* a, int64_t lda, const int32_t* w, int64_t ldw, int32_t* c, int64_t ldc, int64_t m,
               int64_t k, int64_t n, bool accumulate, int threads) {
  ParallelRows(m, 2 * m * n * k, threads, [&](int64_t r0, int64_t r1) {
    BlockS32(a, lda, w, ldw, c, ldc, r0, r1, k, n, accumulate);
  });
}

void MatmulF32Reference(const float* a, int64_t lda, const float* w, int64_t ldw, float* c, int64_t ldc, int64_t m,
                        int64_t k, int64_t n, bool accumulate) {
  ScalarBlockF32(a, lda, w, ldw, c, ldc, 0, m, 0, n, k, accumulate);
}

}  // namespace xtpu::sim
