// The matrix-unit GEMM engine shared by dot, convolution and output fusions.
//
// A problem is `batches` independent GEMMs out[b] (rows x N) = lhs[b] x W[b]
// where W[b] is a [Kw, N] weight panel and the LHS rows come in "steps": one
// step is an f32 chunk of LHS that a GemmSource DMAs into a VMEM staging
// buffer; the engine converts it to bf16 planes (hi / mid / lo, see
// Precision) with the vector unit and streams it through the MXUs as a list
// of k-steps (an LHS offset in the plane, k <= mxu.rows values per row, and
// the weight-panel rows they multiply). The row chunks of a batch are
// independent and each fits the accumulators; K chunks of one row chunk
// accumulate.
//
// Schedule per core (a software pipeline, emitted in dispatch order):
//   DMA LHS step s+2 | VPU convert step s+1 | MXUs step s | read_acc, epilogue
//   (VPU), store (DMA) of the finished row chunk.
// Weights stay in VMEM for a column group (Ng columns of one batch) while all
// its row chunks stream by; the next group's panel is loaded into a second
// slot, or piece by piece as the last row chunk of the current group releases
// K ranges. Within a group the MXUs form a pm x pn grid: pn split the column
// tiles (128 wide), pm split the rows of a chunk. The cores split the row
// chunks or the column groups, whichever moves fewer HBM bytes.
//
// Numerics (docs/numerics.md "Matmul precision on the chip"): per k-step in
// order, per weight plane from the smallest (lo) to hi, per LHS plane from the
// smallest to hi, one mxu.matmul adds its products into the f32 accumulator;
// the first matmul of a row chunk writes.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "xtpu/compiler/codegen/lowering.h"

namespace xtpu::codegen::mxu {

// bf16 planes per operand for `passes` (1, 3, 6): 1, 2, 3.
int PrecisionPlanes(int passes);
// The (lhs plane, weight plane) products of one k-step, in accumulation order.
std::vector<std::pair<int, int>> PrecisionProducts(int passes);
// Splits x into `planes` bf16 values hi, mid, lo (x_hi = bf16(x),
// x_mid = bf16(x - x_hi), x_lo = bf16(x - x_hi - x_mid), in f32).
void SplitBf16(float x, int planes, uint16_t out[3]);

struct KStep {
  int64_t lhs_offset = 0;  // bytes from the LHS plane base, for chunk row 0
  int64_t k = 0;           // values per LHS row (<= mxu.rows)
  int64_t wrow = 0;        // first row of the weight panel it multiplies
};

// vpu.convert of `rows` x `cols` elements: staging (f32) -> plane (bf16).
struct ConvertRect {
  int64_t dst = 0, src = 0;  // byte offsets in the plane / the staging buffer
  int64_t rows = 0, cols = 0, ds = 0, ss = 0;
};
// A plane region zeroed before the converts of a step (padding rows).
struct ZeroRect {
  int64_t dst = 0, rows = 0, words = 0, ds = 0;  // words: 32-bit words per row
};

// The epilogue of an output fusion, applied to the f32 output tile in VMEM.
// kUnary: tile = unop(tile). kSave: a copy of the tile goes to the saved
// tile (one per epilogue); kSaved: tile = tile op saved (GELU's x * (...),
// SiLU's x * logistic(x)).
struct EpilogueOp {
  enum Kind { kBinaryImm, kBias, kResidual, kUnary, kSave, kSaved } kind = kBinaryImm;
  isa::BinOp op = isa::BinOp::kAdd;
  float imm = 0;            // kBinaryImm
  bool reversed = false;    // kBinaryImm / kBias / kResidual / kSaved: other op this (sub, div)
  View operand;             // kBias: f32 [batches, N] (stride 0 allowed); kResidual: the job's out shape
  isa::UnOp unop = isa::UnOp::kCopy;  // kUnary
  float save_scale = 1;               // kSave: the saved tile is tile * save_scale (a power of two)
};
// True if the epilogue saves a copy of the tile (needs a saved tile buffer).
bool EpilogueSaves(const std::vector<EpilogueOp>& epilogue);
// Fewer vector-unit passes for the same chain, as XLA's algebraic simplifier
// would: x / c becomes x * (1 / c) (4 passes -> 1; within an f32 ulp, see
// docs/numerics.md), and a power-of-two scale right after the saved-tile
// multiply moves into the save (GELU's x * (1 + erf(..)) * 0.5: exact).
void SimplifyEpilogue(std::vector<EpilogueOp>* epilogue);

// What a dot or convolution provides to the engine.
class GemmSource {
 public:
  virtual ~GemmSource() = default;
  virtual int64_t Batches() const = 0;
  virtual int64_t N() const = 0;           // output columns per batch
  virtual int64_t WeightRows() const = 0;  // Kw
  // Chooses the row and K chunking for at most `max_rows` rows per chunk and
  // about `vmem_budget` bytes of LHS VMEM (2 f32 staging buffers, a temporary
  // when `planes` > 1, and 2 x `planes` bf16 planes). False if nothing fits.
  virtual bool Plan(int64_t max_rows, int64_t vmem_budget, int planes) = 0;
  virtual int64_t NumChunks() const = 0;  // row chunks per batch
  // After Plan, for a kernel whose `cores` split the row chunks: splits each
  // core's last chunk into two of at least `min_rows` rows. False (nothing
  // changed) if the source cannot.
  virtual bool SplitLastChunks(int /*cores*/, int64_t /*min_rows*/) { return false; }
  virtual int64_t ChunkRows(int64_t c) const = 0;
  // The [begin, end) row ranges of chunk c whose results are stored; rows
  // between them (e.g. the halo between two images of a convolution chunk)
  // are not streamed through the MXUs. Default: the whole chunk.
  virtual std::vector<std::pair<int64_t, int64_t>> RowRuns(int64_t c) const { return {{0, ChunkRows(c)}}; }
  virtual int64_t NumKChunks() const = 0;
  virtual const std::vector<KStep>& KSteps(int64_t kc) const = 0;
  virtual int64_t LhsRowStride(int64_t kc) const = 0;  // bytes between streamed rows
  virtual int64_t StagingBytes() const = 0;
  virtual int64_t PlaneBytes() const = 0;
  virtual bool ZeroPlanesFirst() const { return false; }
  // Zero both staging buffers before the first LHS loads (for sources whose
  // loads leave gaps that are converted into the planes; StagingBytes() is
  // then a multiple of 4096).
  virtual bool ZeroStagingFirst() const { return false; }
  // dtype of the LHS in HBM and in the staging buffer: f32, or bf16 when the
  // producer stored the value as bf16 (default precision only: one plane;
  // the convert to the plane is then exact).
  virtual DType StagingDType() const { return DType::kF32; }
  // dtype of non-constant weights in HBM (RhsView): f32, or bf16 (then one
  // plane, DMAed straight into the panel).
  virtual DType WeightDType() const { return DType::kF32; }
  // Weights DMAed straight into the bf16 panel (a constant panel, or bf16
  // tensors), piece by piece; otherwise f32 weights are staged and split by
  // the VPU.
  bool DirectWeights() const { return ConstantWeights() || WeightDType() == DType::kBF16; }
  virtual int64_t LhsBytes() const = 0;  // HBM bytes of one pass over all LHS steps of one batch
  // DMAs step (b, c, kc) into `staging`: the first instruction waits on
  // sync.wait, the last signals sync.signal.
  virtual void EmitLhsLoad(ProgramEmitter& em, int core, int engine, int64_t b, int64_t c, int64_t kc,
                           int64_t staging, Sync sync) const = 0;
  virtual void Converts(int64_t b, int64_t c, int64_t kc, std::vector<ConvertRect>* converts,
                        std::vector<ZeroRect>* zeros) const = 0;
  // Moves the output tile of row chunk c, columns [col0, col0 + ncols), between
  // `tensor` (the output or a residual of the output's shape) and VMEM rows
  // (chunk row r at vmem + r * row_stride). Same sync contract.
  virtual void EmitOutTile(ProgramEmitter& em, int core, int engine, bool load, const View& tensor, int64_t b,
                           int64_t c, int64_t col0, int64_t ncols, int64_t vmem, int64_t row_stride,
                           Sync sync) const = 0;
  // Constant weights: W[b][row][col] of the panel as f32; nullopt if the
  // weights are not constant (then RhsView gives f32 [batches, Kw, N] in HBM,
  // with panel row i = K index i).
  virtual bool ConstantWeights() const = 0;
  virtual float Weight(int64_t b, int64_t row, int64_t col) const = 0;
  virtual View RhsView() const { return View(); }
};

struct GemmJob {
  std::string name;    // instruction name (kernel and error messages)
  std::string op;      // kernel record op
  View out;            // dense result; bf16 (default precision) stores the f32 tile rounded to bf16
  const GemmSource* source = nullptr;
  std::vector<EpilogueOp> epilogue;
  int64_t flops = 0;   // useful FLOPs of this kernel (0: the lowering assigns the op's)
  int passes = 0;      // bf16 passes per product (0: the context's precision; bf16 operands need 1)
};

// Emits the whole kernel (BeginKernel .. EndKernel).
Status EmitGemm(LoweringContext& ctx, const GemmJob& job);

// The most weight-panel rows (Kw) whose one-tile-wide panel fits the planner's
// weight budget at the context's precision.
int64_t MaxWeightRows(LoweringContext& ctx, const GemmSource& src, int passes);
// The job's bf16 passes per product (GemmJob::passes or the context's).
int JobPasses(LoweringContext& ctx, const GemmJob& job);

// DMA helper with HBM byte accounting for the kernel record.
int Dma(ProgramEmitter& em, int core, int engine, bool load, const View& hbm, int64_t vmem,
        const std::vector<int64_t>& vmem_strides, Sync sync);

// Applies `epilogue` to an f32 tile of rows x ncols at `tile` (row stride
// `row_stride` bytes) with the VPU. Bias rows and residual tiles are already
// in VMEM at the given addresses (-1 if unused). The first instruction waits
// on `wait`, the residual's last reader signals `residual_free`.
// `saved_vmem`: the saved tile (same row stride) when EpilogueSaves.
void EmitEpilogueOps(ProgramEmitter& em, int core, const std::vector<EpilogueOp>& epilogue, int64_t tile,
                     int64_t rows, int64_t ncols, int64_t row_stride, int64_t bias_vmem, int64_t residual_vmem,
                     int wait, int residual_free, int done_signal, int64_t saved_vmem = -1);

int64_t CeilDiv(int64_t a, int64_t b);

}  // namespace xtpu::codegen::mxu
