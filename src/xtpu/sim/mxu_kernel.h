// The MXU's arithmetic as host kernels, kept apart so they can be tuned
// without touching the simulator. Both compute, for r < m and j < n,
//
//   s = 0;  for i in [0, k): s = fma(a[r][i], w[i][j], s)   (increasing i)
//   c[r][j] = accumulate ? c[r][j] + s : s
//
// exactly (every lane does the same sequence of IEEE operations as this loop,
// so results are bit-identical to it on every host and thread count). The
// integer version wraps modulo 2^32. Row-blocks are split over `threads`
// host threads (a pool created once per process); each output element is
// computed by one thread.
#pragma once

#include <cstdint>

namespace xtpu::sim {

void MatmulF32(const float* a, int64_t lda, const float* w, int64_t ldw, float* c, int64_t ldc, int64_t m,
               int64_t k, int64_t n, bool accumulate, int threads);
void MatmulS32(const int32_t* a, int64_t lda, const int32_t* w, int64_t ldw, int32_t* c, int64_t ldc, int64_t m,
               int64_t k, int64_t n, bool accumulate, int threads);

// As MatmulF32 with the LHS given as bf16 bit patterns (row stride `lda`
// elements); each thread widens its own rows to f32 just before use.
void MatmulBF16(const uint16_t* a, int64_t lda, const float* w, int64_t ldw, float* c, int64_t ldc, int64_t m,
                int64_t k, int64_t n, bool accumulate, int threads);

// The plain loop above, for tests of the fast kernels.
void MatmulF32Reference(const float* a, int64_t lda, const float* w, int64_t ldw, float* c, int64_t ldc, int64_t m,
                        int64_t k, int64_t n, bool accumulate);

}  // namespace xtpu::sim
