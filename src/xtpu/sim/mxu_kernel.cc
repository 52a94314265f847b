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
#include <atomic>
#include <condition_variable>
#include <functional>
#include <mutex>
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

// Widens n bf16 values (bit patterns) to f32.
void WidenBf16(const uint16_t* in, int64_t n, float* out) {
  for (int64_t i = 0; i < n; ++i) {
    const uint32_t u = static_cast<uint32_t>(in[i]) << 16;
    std::memcpy(out + i, &u, 4);
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

// As BlockF32Avx2 with a bf16 LHS: each block of up to 6 rows is widened
// into a small buffer (it stays in L1) and then meets every panel. Columns
// past the last full panel use the scalar loop on the widened rows.
__attribute__((target("avx2,fma"))) void BlockBF16Avx2(const uint16_t* a, int64_t lda, const float* panels,
                                                       const float* w, int64_t ldw, float* c, int64_t ldc,
                                                       int64_t r0, int64_t r1, int64_t k, int64_t n16, int64_t n,
                                                       bool accumulate) {
  thread_local std::vector<float> rows;
  rows.resize(static_cast<size_t>(6 * k));
  float* x = rows.data();
  for (int64_t r = r0; r < r1; r += 6) {
    const int64_t h = std::min<int64_t>(6, r1 - r);
    for (int64_t i = 0; i < h; ++i) {
      const uint16_t* in = a + (r + i) * lda;
      float* out = x + i * k;
      int64_t j = 0;
      for (; j + 8 <= k; j += 8) {
        const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(in + j));
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + j),
                            _mm256_slli_epi32(_mm256_cvtepu16_epi32(v), 16));
      }
      WidenBf16(in + j, k - j, out + j);
    }
    float* cr = c + r * ldc;
    for (int64_t j = 0; j < n16; j += 16) {
      const float* pw = panels + j * k;
      switch (h) {
        case 6: MicroF32<6>(x, k, pw, 16, cr + j, ldc, k, accumulate); break;
        case 5: MicroF32<5>(x, k, pw, 16, cr + j, ldc, k, accumulate); break;
        case 4: MicroF32<4>(x, k, pw, 16, cr + j, ldc, k, accumulate); break;
        case 3: MicroF32<3>(x, k, pw, 16, cr + j, ldc, k, accumulate); break;
        case 2: MicroF32<2>(x, k, pw, 16, cr + j, ldc, k, accumulate); break;
        default: MicroF32<1>(x, k, pw, 16, cr + j, ldc, k, accumulate); break;
      }
    }
    if (n16 < n) ScalarBlockF32(x, k, w, ldw, cr, ldc, 0, h, n16, n, k, accumulate);
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

// A pool of host threads created once per process. Run(t, f) calls f(i) for
// i in [0, t): i = 0 on the caller, the rest on pool threads; it returns when
// all calls have returned. Concurrent callers take turns. (Spinning
// before sleeping was tried; on a shared 2-CPU host it did not help.)
class ThreadPool {
 public:
  static ThreadPool& Get() {
    static ThreadPool pool;
    return pool;
  }
  ~ThreadPool() {
    {
      std::lock_guard<std::mutex> l(mu_);
      stop_ = true;
      gen_.fetch_add(1);
    }
    cv_.notify_all();
    for (auto& t : threads_) t.join();
  }
  void Run(int t, const std::function<void(int)>& f) {
    std::lock_guard<std::mutex> turn(run_mu_);
    {
      std::lock_guard<std::mutex> l(mu_);
      while (static_cast<int>(threads_.size()) < t - 1) {
        const uint64_t seen = gen_.load();
        threads_.emplace_back([this, seen] { Work(seen); });
      }
      fn_ = &f;
      next_ = 1;
      total_ = t;
      remaining_.store(t - 1);
      gen_.fetch_add(1, std::memory_order_release);
    }
    cv_.notify_all();
    f(0);
    std::unique_lock<std::mutex> l(mu_);
    done_cv_.wait(l, [this] { return remaining_.load() == 0; });
    fn_ = nullptr;
  }

 private:
  void Work(uint64_t seen) {
    for (;;) {
      std::unique_lock<std::mutex> l(mu_);
      cv_.wait(l, [&] { return gen_.load() != seen; });
      if (stop_) return;
      seen = gen_.load();
      if (fn_ == nullptr || next_ >= total_) continue;  // every call taken
      const int i = next_++;
      const std::function<void(int)>* f = fn_;
      l.unlock();
      (*f)(i);
      l.lock();
      if (remaining_.fetch_sub(1) == 1) done_cv_.notify_one();
    }
  }

  std::mutex run_mu_, mu_;
  std::condition_variable cv_, done_cv_;
  std::vector<std::thread> threads_;
  std::atomic<uint64_t> gen_{0};
  std::atomic<int> remaining_{0};
  const std::function<void(int)>* fn_ = nullptr;  // guarded by mu_
  int next_ = 0, total_ = 0;                      // guarded by mu_
  bool stop_ = false;                             // guarded by mu_
};

// Calls f(r0, r1) over row ranges covering [0, m), each a multiple of 6 rows
// (but the last), handed out dynamically to up to `threads` pool threads.
// Which thread computes a range does not change any result.
template <typename F>
void ParallelRows(int64_t m, int64_t flops, int threads, F&& f) {
  int t = static_cast<int>(std::min<int64_t>(threads, (m + 5) / 6));
  if (flops < (int64_t{1} << 21)) t = 1;  // not worth a thread
  if (t <= 1) return f(int64_t{0}, m);
  // About 8 ranges per thread, so a thread slowed by the host evens out.
  const int64_t chunk = std::max<int64_t>(6, (m + 8 * t - 1) / (8 * t) + 5) / 6 * 6;
  std::atomic<int64_t> next{0};
  const std::function<void(int)> work = [&](int) {
    for (;;) {
      const int64_t r0 = next.fetch_add(chunk);
      if (r0 >= m) return;
      f(r0, std::min(m, r0 + chunk));
    }
  };
  ThreadPool::Get().Run(t, work);
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

void MatmulBF16(const uint16_t* a, int64_t lda, const float* w, int64_t ldw, float* c, int64_t ldc, int64_t m,
                int64_t k, int64_t n, bool accumulate, int threads) {
#if XTPU_HAVE_X86
  if (HostHasAvx2Fma()) {
    const int64_t n16 = n / 16 * 16;
    thread_local std::vector<float> panels;
    panels.resize(static_cast<size_t>(n16 * k));
    for (int64_t j = 0; j < n16; j += 16)
      for (int64_t i = 0; i < k; ++i) std::memcpy(&panels[j * k + i * 16], w + i * ldw + j, 16 * sizeof(float));
    const float* pw = panels.data();
    ParallelRows(m, 2 * m * n * k, threads, [&](int64_t r0, int64_t r1) {
      BlockBF16Avx2(a, lda, pw, w, ldw, c, ldc, r0, r1, k, n16, n, accumulate);
    });
    return;
  }
#endif
  std::vector<float> af(static_cast<size_t>(m * k));
  for (int64_t r = 0; r < m; ++r) WidenBf16(a + r * lda, k, af.data() + r * k);
  MatmulF32(af.data(), k, w, ldw, c, ldc, m, k, n, accumulate, threads);
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
