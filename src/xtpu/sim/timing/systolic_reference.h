// A slow, cycle-by-cycle, PE-by-PE model of one weight-stationary systolic
// array: the reference that the fast MXU timing formula (MxuMatmulCycles in
// unit_models.h) and the fast functional kernel (mxu_kernel.h) are tested
// against, in cycles and in output bits.
//
// The array has `rows` x `cols` PEs. PE(i, j) holds weight W[i][j] (a k x n
// tile in the top-left corner; PEs outside it pass partial sums through).
// Element i of LHS row r enters array row i from the left at cycle r + i (the
// input skew) and moves one PE to the right per cycle, so it is at PE(i, j)
// in cycle r + i + j. The partial sum of (r, j) moves down one PE per cycle:
// PE(i, j) computes s = fma(a, W[i][j], s_from_above) in cycle r + i + j, so
// the sum is accumulated in increasing k, top to bottom, as docs/isa.md says.
// The sum leaves the bottom row in cycle r + rows - 1 + j and is written (or
// added) into the accumulator in the next cycle. Only columns j < n are
// written, so a matmul of m rows started at cycle 0 is complete after
// m + rows + n - 1 cycles (m + rows + cols - 1 for a full-width tile).
//
//   SystolicArray pe(128, 128);
//   pe.LoadWeights(w, k, n);                      // k x n, row-major
//   pe.StartMatmul(a, m, accumulate);              // m x k, row-major
//   while (!pe.Done()) pe.Step();                  // pe.cycle() = completion
//   const std::vector<float>& c = pe.accumulators();  // m x n
#pragma once

#include <cstdint>
#include <vector>

namespace xtpu::sim::timing {

class SystolicArray {
 public:
  SystolicArray(int64_t rows, int64_t cols);

  // Weights W (k x n, row-major, k <= rows, n <= cols) stay in the array.
  void LoadWeights(const std::vector<float>& w, int64_t k, int64_t n);
  // Queues a matmul of m LHS rows (m x k, row-major) into accumulator rows
  // [0, m); its first row enters the array at the current cycle, or right
  // after the last row of a matmul still streaming (back-to-back issue).
  // `accumulate` adds into the accumulators instead of overwriting them.
  void StartMatmul(const std::vector<float>& a, int64_t m, bool accumulate);

  // Simulates one clock cycle of every PE.
  void Step();
  // True when every queued matmul's results are in the accumulators.
  bool Done() const;
  int64_t cycle() const { return cycle_; }
  // Accumulator rows written so far (by the most recent matmuls), m x n.
  const std::vector<float>& accumulators() const { return acc_; }
  int64_t acc_rows_written() const { return rows_written_; }

 private:
  struct Job {
    std::vector<float> a;
    int64_t m = 0;
    int64_t start = 0;  // cycle in which row 0 element 0 enters PE(0, 0)
    bool accumulate = false;
  };
  int64_t rows_, cols_, k_ = 0, n_ = 0;
  std::vector<float> w_;  // rows x cols
  // Registers between PEs: activation entering PE(i, j) from the left and
  // partial sum entering PE(i, j) from above, each with the LHS row it
  // belongs to (-1 = bubble). Indexed i * cols + j.
  std::vector<float> act_, psum_;
  std::vector<int64_t> act_row_, psum_row_;
  std::vector<int64_t> act_job_, psum_job_;
  // Sums that left the bottom row last cycle, written into the accumulators
  // this cycle: per column j.
  std::vector<float> out_;
  std::vector<int64_t> out_row_, out_job_;
  std::vector<Job> jobs_;
  std::vector<float> acc_;
  std::vector<int64_t> remaining_;  // per job: outputs not yet written
  int64_t rows_written_ = 0;
  int64_t cycle_ = 0;
};

}  // namespace xtpu::sim::timing
