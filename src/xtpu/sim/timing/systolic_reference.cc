// The PE-by-PE systolic array reference (see systolic_reference.h).
#include "xtpu/sim/timing/systolic_reference.h"

#include <cmath>

#include "xtpu/support/check.h"

namespace xtpu::sim::timing {

SystolicArray::SystolicArray(int64_t rows, int64_t cols)
    : rows_(rows), cols_(cols), w_(rows * cols, 0.0f), act_(rows * cols), psum_(rows * cols),
      act_row_(rows * cols, -1), psum_row_(rows * cols, -1), act_job_(rows * cols, -1), psum_job_(rows * cols, -1),
      out_(cols), out_row_(cols, -1), out_job_(cols, -1) {}

void SystolicArray::LoadWeights(const std::vector<float>& w, int64_t k, int64_t n) {
  XTPU_CHECK(k >= 1 && k <= rows_ && n >= 1 && n <= cols_ && static_cast<int64_t>(w.size()) == k * n);
  XTPU_CHECK(Done());  // weights change only when the array is idle (this model has no shadow buffer)
  k_ = k;
  n_ = n;
  std::fill(w_.begin(), w_.end(), 0.0f);
  for (int64_t i = 0; i < k; ++i)
    for (int64_t j = 0; j < n; ++j) w_[i * cols_ + j] = w[i * n + j];
}

void SystolicArray::StartMatmul(const std::vector<float>& a, int64_t m, bool accumulate) {
  XTPU_CHECK(m >= 0 && static_cast<int64_t>(a.size()) == m * k_);
  int64_t start = cycle_;
  if (!jobs_.empty()) start = std::max(start, jobs_.back().start + jobs_.back().m);
  jobs_.push_back({a, m, start, accumulate});
  remaining_.push_back(m * n_);
  if (static_cast<int64_t>(acc_.size()) < m * n_) acc_.resize(m * n_, 0.0f);
}

bool SystolicArray::Done() const {
  for (int64_t r : remaining_)
    if (r > 0) return false;
  return true;
}

void SystolicArray::Step() {
  const int64_t t = cycle_;
  // 1. Sums that left the bottom row last cycle are written into the accumulators.
  for (int64_t j = 0; j < cols_; ++j) {
    if (out_row_[j] < 0) continue;
    if (j < n_) {
      const Job& job = jobs_[out_job_[j]];
      float& c = acc_[out_row_[j] * n_ + j];
      c = job.accumulate ? c + out_[j] : out_[j];
      --remaining_[out_job_[j]];
      rows_written_ = std::max(rows_written_, out_row_[j] + 1);
    }
    out_row_[j] = -1;
  }
  // 2. Inputs at the array's edges for this cycle: LHS element (r, i) at the
  // left of row i in cycle start + r + i; a zero partial sum for (r, j) at the
  // top of column j in cycle start + r + j.
  auto row_at = [&](int64_t offset, int64_t* job_index) -> int64_t {
    for (size_t q = 0; q < jobs_.size(); ++q) {
      int64_t r = t - offset - jobs_[q].start;
      if (r >= 0 && r < jobs_[q].m) {
        *job_index = static_cast<int64_t>(q);
        return r;
      }
    }
    return -1;
  };
  for (int64_t i = 0; i < rows_; ++i) {
    int64_t q = -1;
    int64_t r = row_at(i, &q);
    act_row_[i * cols_] = r;
    act_job_[i * cols_] = q;
    act_[i * cols_] = (r >= 0 && i < k_) ? jobs_[q].a[r * k_ + i] : 0.0f;
  }
  for (int64_t j = 0; j < cols_; ++j) {
    int64_t q = -1;
    int64_t r = row_at(j, &q);
    psum_row_[j] = r;
    psum_job_[j] = q;
    psum_[j] = 0.0f;  // +0.0, as the reference loop's s = +0.0
  }
  // 3. Every PE computes; 4. results move right (activations) and down (sums).
  std::vector<float> act_next(rows_ * cols_), psum_next(rows_ * cols_);
  std::vector<int64_t> act_row_next(rows_ * cols_, -1), psum_row_next(rows_ * cols_, -1);
  std::vector<int64_t> act_job_next(rows_ * cols_, -1), psum_job_next(rows_ * cols_, -1);
  for (int64_t i = 0; i < rows_; ++i) {
    for (int64_t j = 0; j < cols_; ++j) {
      int64_t p = i * cols_ + j;
      // The activation and the partial sum meeting here belong to the same
      // LHS row: that is what the skew is for.
      XTPU_CHECK(act_row_[p] == psum_row_[p] && act_job_[p] == psum_job_[p]);
      if (psum_row_[p] < 0) continue;
      float s = psum_[p];
      if (i < k_ && j < n_) s = std::fma(act_[p], w_[p], s);
      if (j + 1 < cols_) {
        act_next[p + 1] = act_[p];
        act_row_next[p + 1] = act_row_[p];
        act_job_next[p + 1] = act_job_[p];
      }
      if (i + 1 < rows_) {
        psum_next[p + cols_] = s;
        psum_row_next[p + cols_] = psum_row_[p];
        psum_job_next[p + cols_] = psum_job_[p];
      } else {
        out_[j] = s;
        out_row_[j] = psum_row_[p];
        out_job_[j] = psum_job_[p];
      }
    }
  }
  act_.swap(act_next);
  psum_.swap(psum_next);
  act_row_.swap(act_row_next);
  psum_row_.swap(psum_row_next);
  act_job_.swap(act_job_next);
  psum_job_.swap(psum_job_next);
  ++cycle_;
}

}  // namespace xtpu::sim::timing
