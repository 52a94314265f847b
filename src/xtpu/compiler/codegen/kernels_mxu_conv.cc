// Convolution (NHWC input, HWIO kernel) on the matrix units as an implicit
// GEMM, without im2col in HBM.
//
// A row chunk is a band of output rows of one image (or several whole
// images). Its input rows are DMAed into VMEM and converted to bf16 into
// zero-padded "phase bands": for stride sh, phase ph holds the padded input
// rows (oh0 + j) * sh + ph, each Wp = sw * Wq pixels wide. Output pixel
// (i, ow) is "wide" row q = i * Wq + ow of the GEMM and, for kernel row kh
// (phase (kh*dh) % sh, shift (kh*dh) / sh), reads band pixel
// sw * q + shift * Wp + kw * dw: a constant row stride of sw pixels, so one
// mxu.matmul covers the whole band. Columns ow >= OW are garbage and are not
// stored. With dw = 1 the (kw, channel) values of a kernel row are
// contiguous in the band, so k-steps pack several kw into one 128-deep tile.
// Several whole images share a chunk with a pitch of OH + max shift rows.
// Feature groups are independent GEMMs (batches of the engine).
//
// Pixel pairs: a convolution with few output channels (N <= mxu.cols / 2)
// leaves half of each MXU's columns idle, and a short kernel row (kw x C not
// a multiple of mxu.rows) half-fills its last k-step. Computing output
// pixels 2p and 2p+1 in one GEMM row fixes both: it is the convolution with
// kernel width kw + sw, stride 2 sw, OW / 2 output pixels and 2 OC output
// channels, whose weights hold the original kernel at column offset 0 (for
// pixel 2p) and shifted by sw pixels (for 2p+1), zeros elsewhere; its
// [N, OH, OW/2, 2 OC] result is the original [N, OH, OW, OC] in memory.
// Used when it streams fewer LHS rows through the MXUs (ResNet's conv1 and
// 64-channel 3x3 convolutions: half the rows at the same k-steps).
//
// Packed kernel rows: with few input channels (ResNet's conv1: 3) a kernel
// row holds only kw x C values, so each of the kh k-steps uses a sliver of
// the MXU's rows. Packed, the LHS is laid out per output row: for every
// input pixel, the kh input rows that output row reads, C' channels each
// (C rounded up to even; the extra channel is zero) - one strided DMA per
// kernel row puts them side by side in the staging buffer. The K values of
// an output pixel are then kw x kh x C' contiguous values, a few full
// k-steps (conv1: 2 instead of 7). Input rows are read kh / sh times from
// HBM, so it is used only when it at least halves the rows streamed.
#include <algorithm>
#include <functional>

#include "xtpu/compiler/codegen/kernels.h"
#include "xtpu/compiler/codegen/mxu_sources.h"

namespace xtpu::codegen::mxu {
namespace {

struct ConvGeom {
  int64_t n, h, w, c, kh, kw, oc, oh, ow, sh, sw, ph_lo, pw_lo, dh, dw, groups, cg, ocg;
};

class ConvSource : public GemmSource {
 public:
  // krows: K values per matmul (the chip's mxu.rows).
  // `orig` is the convolution's own geometry; g differs from it in pixel-pair
  // mode (PairGeometry).
  ConvSource(const ConvGeom& g, const ConvGeom& orig, View input, const Literal* kernel, int64_t krows, bool packed)
      : g_(g), orig_(orig), in_(std::move(input)), lit_(kernel), krows_(krows), packed_(packed) {
    cp_ = g.cg + g.cg % 2;
    wq_ = CeilDiv(std::max(g.pw_lo + g.w, (g.ow - 1) * g.sw + (g.kw - 1) * g.dw + 1), g.sw);
    wp_ = g.sw * wq_;
    std::vector<bool> used(g.sh, false);
    for (int64_t r = 0; r < g.kh; ++r) {
      used[(r * g.dh) % g.sh] = true;
      shift_max_ = std::max(shift_max_, (r * g.dh) / g.sh);
    }
    phase_index_.assign(g.sh, -1);
    for (int64_t p = 0; p < g.sh; ++p)
      if (used[p]) phase_index_[p] = static_cast<int>(phases_.size()), phases_.push_back(p);
  }
  int64_t Batches() const override { return g_.groups; }
  int64_t N() const override { return g_.ocg; }
  // (Packed: larger; the planner sizes VMEM before Plan, so a fall-back to
  // the plain form in Plan only makes the panel smaller.)
  int64_t WeightRows() const override { return packed_ ? g_.kw * Slot() : g_.kh * g_.kw * g_.cg; }

  bool Plan(int64_t max_rows, int64_t budget, int planes) override {
    if (packed_ && PlanPacked(max_rows, budget, planes)) return true;
    packed_ = false;  // (does not fit: the plain form)
    if (g_.oh * wq_ <= max_rows) {
      bh_ = g_.oh;
      pitch_ = g_.oh + shift_max_;
      nb_ = 1;
      while (nb_ < g_.n && (nb_ * pitch_ + g_.oh) * wq_ <= max_rows) ++nb_;
    } else {
      nb_ = 1;
      bh_ = max_rows / wq_;
      if (bh_ < 1) return false;
      pitch_ = bh_ + shift_max_;
    }
    rb_ = (nb_ - 1) * pitch_ + bh_ + shift_max_ + 1;
    const int64_t np = static_cast<int64_t>(phases_.size());
    // Bytes per channel: staging f32 (x2, + temp), planes bf16 (x2 x planes).
    int64_t per_c = np * rb_ * (g_.w * Esz() * 2 + g_.w * 4 * (planes > 1 ? 1 : 0) + wp_ * 2 * 2 * planes);
    int64_t cc = budget / std::max<int64_t>(1, per_c);
    if (cc >= g_.cg) {
      cc_ = g_.cg;
    } else {
      cc_ = cc >= 128 ? cc / 128 * 128 : cc / 8 * 8;
      if (cc_ < 8) return false;
      int64_t nk = CeilDiv(g_.cg, cc_);
      cc_ = std::min(cc_, CeilDiv(CeilDiv(g_.cg, nk), 8) * 8);
    }
    nk_ = CeilDiv(g_.cg, cc_);
    // Chunks.
    MakeChunks();
    // K-steps and the weight panel's rows.
    ksteps_.assign(nk_, {});
    wrows_.clear();
    for (int64_t kc = 0; kc < nk_; ++kc) {
      const int64_t c0 = kc * cc_, ccw = Ccw(kc);
      for (int64_t r = 0; r < g_.kh; ++r) {
        const int64_t off = r * g_.dh;
        const int64_t base = PhaseOffset(phase_index_[off % g_.sh], kc) + (off / g_.sh) * wp_ * ccw * 2;
        auto run = [&](int64_t start, int64_t kw0, int64_t len) {
          for (int64_t e0 = 0; e0 < len; e0 += krows_) {
            int64_t e1 = std::min(len, e0 + krows_);
            ksteps_[kc].push_back({start + e0 * 2, e1 - e0, static_cast<int64_t>(wrows_.size())});
            for (int64_t e = e0; e < e1; ++e) wrows_.push_back({r, kw0 + e / ccw, c0 + e % ccw});
          }
        };
        if (g_.dw == 1) {
          run(base, 0, g_.kw * ccw);
        } else {
          for (int64_t s = 0; s < g_.kw; ++s) run(base + s * g_.dw * ccw * 2, s, ccw);
        }
      }
    }
    return true;
  }
  int64_t NumChunks() const override { return static_cast<int64_t>(chunks_.size()); }
  int64_t ChunkRows(int64_t c) const override {
    const Chunk& k = chunks_[c];
    return ((k.nimg - 1) * pitch_ + k.bh) * wq_;
  }
  // Images of a chunk are pitch_ band rows apart: the halo rows between them
  // are not streamed.
  std::vector<std::pair<int64_t, int64_t>> RowRuns(int64_t c) const override {
    const Chunk& k = chunks_[c];
    std::vector<std::pair<int64_t, int64_t>> runs;
    for (int64_t i = 0; i < k.nimg; ++i) {
      const int64_t a = i * pitch_ * wq_, b = (i * pitch_ + k.bh) * wq_;
      if (!runs.empty() && runs.back().second == a) runs.back().second = b;  // no halo (1x1 kernels)
      else runs.push_back({a, b});
    }
    return runs;
  }
  int64_t NumKChunks() const override { return nk_; }
  const std::vector<KStep>& KSteps(int64_t kc) const override { return ksteps_[kc]; }
  int64_t LhsRowStride(int64_t kc) const override { return g_.sw * (packed_ ? Slot() : Ccw(kc)) * 2; }
  int64_t StagingBytes() const override {
    if (packed_) return CeilDiv(PackedSlotBytes() + nb_ * RawRows() * g_.w * g_.cg * Esz(), 4096) * 4096;
    return static_cast<int64_t>(phases_.size()) * rb_ * g_.w * cc_ * Esz();
  }
  int64_t PlaneBytes() const override {
    if (packed_) return rb_ * wp_ * Slot() * 2;
    return static_cast<int64_t>(phases_.size()) * rb_ * wp_ * cc_ * 2;
  }
  bool ZeroPlanesFirst() const override { return true; }
  // Packed: the pad channel of every slot is never loaded and must read 0.
  bool ZeroStagingFirst() const override { return packed_; }
  DType StagingDType() const override { return in_.dtype; }
  int64_t LhsBytes() const override { return g_.n * g_.h * g_.w * g_.cg * Esz(); }

  void EmitLhsLoad(ProgramEmitter& em, int core, int engine, int64_t b, int64_t c, int64_t kc, int64_t staging,
                   Sync sync) const override {
    const Chunk& k = chunks_[c];
    const int64_t ccw = Ccw(kc);
    struct Piece {
      View v;
      int64_t vmem;
    };
    std::vector<Piece> pieces;
    const int64_t e = Esz(), slot = Slot();
    if (packed_) {
      // Per image: the band's input rows into the raw area once (HBM), then
      // per kernel row r, input rows (oh0 + j) * sh + r * dh - ph_lo of the
      // band rows j that read a real row into slot r of every pixel (a
      // VMEM-to-VMEM copy): each input row leaves HBM once, not kh / sh times.
      std::vector<std::function<void(Sync)>> ops;
      const int64_t row = g_.w * g_.cg * e;  // bytes of one input row
      for (int64_t i = 0; i < k.nimg; ++i) {
        const int64_t top = k.oh0 * g_.sh - g_.ph_lo;  // input row of raw row 0
        const int64_t raw = staging + PackedSlotBytes() + i * RawRows() * row;
        const int64_t h0 = std::max<int64_t>(0, top);
        const int64_t h1 = std::min(g_.h, top + (k.bh - 1) * g_.sh + (g_.kh - 1) * g_.dh + 1);
        if (h1 <= h0) continue;
        View v = in_.SubRange(0, k.n0 + i, 1).Slice({0, h0, 0, 0}, {1, h1, g_.w, g_.cg}, {1, 1, 1, 1});
        ops.push_back([&em, core, engine, v, raw, h0, top, row](Sync sy) {
          Dma(em, core, engine, true, v, raw + (h0 - top) * row, {0, row, row / v.dims[2], row / v.dims[2] / v.dims[3]}, sy);
        });
        for (int64_t r = 0; r < g_.kh; ++r) {
          int64_t j0 = k.bh, j1 = 0;
          for (int64_t j = 0; j < k.bh; ++j)
            if (auto [r0, r1] = ValidKernelRows(k.oh0 + j); r >= r0 && r < r1) j0 = std::min(j0, j), j1 = j + 1;
          if (j1 <= j0) continue;
          const int64_t src = raw + (j0 * g_.sh + r * g_.dh) * row;
          const int64_t dst = staging + ((i * pitch_ + j0) * g_.w * slot + r * cp_) * e;
          const int64_t n2 = j1 - j0, W = g_.w, C = g_.cg, sh = g_.sh;
          ops.push_back([&em, core, engine, src, dst, n2, W, C, e, slot, sh, row](Sync sy) {
            em.Emit(core, isa::Opcode::kDmaCopy, engine,
                    {{"dst", dst}, {"src", src}, {"bytes", C * e}, {"n1", W}, {"ds1", slot * e}, {"ss1", C * e},
                     {"n2", n2}, {"ds2", W * slot * e}, {"ss2", sh * row}},
                    sy);
          });
        }
      }
      EmitChain(em, core, engine, ops, sync);
      return;
    }
    for (size_t pi = 0; pi < phases_.size(); ++pi) {
      for (int64_t i = 0; i < k.nimg; ++i) {
        auto [j0, j1] = ValidRows(k, phases_[pi]);
        if (j1 <= j0) continue;
        const int64_t h0 = (k.oh0 + j0) * g_.sh + phases_[pi] - g_.ph_lo;
        View v = in_.SubRange(0, k.n0 + i, 1);
        v = v.Slice({0, h0, 0, b * g_.cg + kc * cc_}, {1, h0 + (j1 - j0 - 1) * g_.sh + 1, g_.w, b * g_.cg + kc * cc_ + ccw},
                    {1, g_.sh, 1, 1});
        int64_t vm = staging + (pi * rb_ * g_.w * ccw + (i * pitch_ + j0) * g_.w * ccw) * Esz();
        pieces.push_back({v, vm});
      }
    }
    std::vector<std::function<void(Sync)>> ops;
    for (const Piece& p : pieces)
      ops.push_back([&em, core, engine, p, ccw, e, this](Sync sy) {
        Dma(em, core, engine, true, p.v, p.vmem, {0, g_.w * ccw * e, ccw * e, e}, sy);
      });
    EmitChain(em, core, engine, ops, sync);
  }
  // Emits `ops` in order: the first waits on sync.wait, the last signals
  // sync.signal (a nop carries both when there is nothing to move).
  static void EmitChain(ProgramEmitter& em, int core, int engine, const std::vector<std::function<void(Sync)>>& ops,
                        Sync sync) {
    if (ops.empty()) {
      em.Emit(core, isa::Opcode::kDmaNop, engine, {}, sync);
      return;
    }
    for (size_t i = 0; i < ops.size(); ++i) {
      Sync sy;
      if (i == 0) sy.wait = sync.wait;
      if (i + 1 == ops.size()) sy.signal = sync.signal;
      ops[i](sy);
    }
  }
  void Converts(int64_t, int64_t c, int64_t kc, std::vector<ConvertRect>* converts,
                std::vector<ZeroRect>* zeros) const override {
    const Chunk& k = chunks_[c];
    if (packed_) {
      PackedConverts(k, converts, zeros);
      return;
    }
    const int64_t ccw = Ccw(kc);
    const int64_t row_bytes = wp_ * ccw * 2;
    if (nk_ > 1 && g_.cg % cc_ != 0) {
      // Channel chunks of two widths lay the band out differently: clear the
      // whole plane so that padding pixels are zero in either layout.
      zeros->push_back({0, CeilDiv(PlaneBytes(), 4096), 1024, 4096});
    }
    for (size_t pi = 0; pi < phases_.size(); ++pi) {
      const int64_t po = PhaseOffset(static_cast<int>(pi), kc);
      for (int64_t i = 0; i < k.nimg; ++i) {
        auto [j0, j1] = ValidRows(k, phases_[pi]);
        const int64_t top = i * pitch_, need = bh_ + shift_max_;
        auto zero = [&](int64_t a, int64_t b) {
          if (b > a) zeros->push_back({po + (top + a) * row_bytes, b - a, CeilDiv(row_bytes, 4), row_bytes});
        };
        zero(0, std::min(j0, need));
        zero(std::max<int64_t>(j1, 0), need);
        if (j1 > j0) {
          converts->push_back({po + ((top + j0) * wp_ + g_.pw_lo) * ccw * 2,
                               (static_cast<int64_t>(pi) * rb_ * g_.w * ccw + (top + j0) * g_.w * ccw) * Esz(), j1 - j0,
                               g_.w * ccw, row_bytes, g_.w * ccw * Esz()});
        }
      }
    }
  }
  void EmitOutTile(ProgramEmitter& em, int core, int engine, bool load, const View& t, int64_t b, int64_t c,
                   int64_t col0, int64_t ncols, int64_t vmem, int64_t row_stride, Sync sync) const override {
    const Chunk& k = chunks_[c];
    for (int64_t i = 0; i < k.nimg; ++i) {
      View v = t.Slice({k.n0 + i, k.oh0, 0, b * g_.ocg + col0}, {k.n0 + i + 1, k.oh0 + k.bh, g_.ow, b * g_.ocg + col0 + ncols},
                       {1, 1, 1, 1});
      Sync s;
      if (i == 0) s.wait = sync.wait;
      if (i + 1 == k.nimg) s.signal = sync.signal;
      // Tiles are rows of f32, or of bf16 at a 2-byte pitch for a bf16 result.
      Dma(em, core, engine, load, v, vmem + i * pitch_ * wq_ * row_stride, {0, wq_ * row_stride, row_stride, v.element_bytes()}, s);
    }
  }
  bool ConstantWeights() const override { return true; }
  float Weight(int64_t b, int64_t row, int64_t col) const override {
    const WRow& r = wrows_[row];
    int64_t kw = r.kw, o = b * g_.ocg + col;
    if (g_.kw != orig_.kw) {  // pixel pairs: column half j is output pixel 2p + j, sw pixels to the right
      const int64_t j = col / orig_.oc;
      kw -= j * orig_.sw;
      o = col % orig_.oc;
      if (kw < 0 || kw >= orig_.kw) return 0.0f;
    }
    if (r.c >= g_.cg) return 0.0f;  // the pad channel of a packed slot
    int64_t i = ((r.kh * orig_.kw + kw) * g_.cg + r.c) * orig_.oc + o;
    return static_cast<float>(lit_->GetAsDouble(i));
  }

 private:
  struct Chunk {
    int64_t n0, nimg, oh0, bh;
  };
  struct WRow {
    int64_t kh, kw, c;
  };
  int64_t Ccw(int64_t kc) const { return std::min(cc_, g_.cg - kc * cc_); }
  // Row chunks: nb_ whole images at a time, or bands of bh_ output rows.
  void MakeChunks() {
    chunks_.clear();
    if (bh_ == g_.oh) {
      for (int64_t n0 = 0; n0 < g_.n; n0 += nb_) chunks_.push_back({n0, std::min(nb_, g_.n - n0), 0, g_.oh});
    } else {
      for (int64_t n = 0; n < g_.n; ++n)
        for (int64_t o = 0; o < g_.oh; o += bh_) chunks_.push_back({n, 1, o, std::min(bh_, g_.oh - o)});
    }
  }
  int64_t Slot() const { return g_.kh * cp_; }  // packed: values per pixel (kh slots of cp_ channels)
  int64_t PackedSlotBytes() const { return rb_ * g_.w * Slot() * Esz(); }
  // Packed: input rows a band of bh_ output rows reads (the raw area per image).
  int64_t RawRows() const { return (bh_ - 1) * g_.sh + (g_.kh - 1) * g_.dh + 1; }
  // Kernel rows [r0, r1) of output row o that read real input rows.
  std::pair<int64_t, int64_t> ValidKernelRows(int64_t o) const {
    int64_t r0 = 0, r1 = g_.kh;
    while (r0 < g_.kh && o * g_.sh + r0 * g_.dh - g_.ph_lo < 0) ++r0;
    while (r1 > r0 && o * g_.sh + (r1 - 1) * g_.dh - g_.ph_lo >= g_.h) --r1;
    return {r0, r1};
  }
  bool PlanPacked(int64_t max_rows, int64_t budget, int planes) {
    const int64_t slot = Slot();
    // VMEM bytes per band row: 2 staging rows, a temporary, 2 x planes plane rows.
    // (+ 2 raw areas of about sh input rows per band row, and the kernel's
    // extra rows; staging rounds up to 4 KiB).
    const int64_t per_row = g_.w * slot * Esz() * 2 + (planes > 1 ? g_.w * slot * 4 : 0) + wp_ * slot * 2 * 2 * planes +
                            2 * g_.sh * g_.w * g_.cg * Esz();
    const int64_t extra = 2 * ((g_.kh - 1) * g_.dh + 1) * g_.w * g_.cg * Esz() + 2 * 4096;
    const int64_t fit = std::min(max_rows / wq_, (budget - extra) / per_row);
    if (fit < 1) return false;
    if (g_.oh <= fit) {
      bh_ = pitch_ = g_.oh;
      nb_ = std::min(g_.n, fit / g_.oh);
    } else {
      nb_ = 1;
      bh_ = pitch_ = fit;
    }
    rb_ = nb_ * bh_;
    // The estimate above is close; make it exact (what the GEMM engine
    // allocates: 2 staging buffers, a temporary with > 1 plane, 2 x planes).
    auto total = [&] {
      return (2 + (planes > 1 ? 1 : 0)) * StagingBytes() + 2 * planes * CeilDiv(PlaneBytes(), 4096) * 4096;
    };
    while (total() > budget) {
      if (nb_ > 1) --nb_;
      else if (bh_ > 1) bh_ = pitch_ = bh_ - 1;
      else return false;
      rb_ = nb_ * bh_;
    }
    cc_ = g_.cg;
    nk_ = 1;
    MakeChunks();
    // An output pixel's K values: kw pixels x kh slots x cp_ channels.
    ksteps_.assign(1, {});
    wrows_.clear();
    const int64_t len = g_.kw * slot;
    for (int64_t e0 = 0; e0 < len; e0 += krows_) {
      const int64_t e1 = std::min(len, e0 + krows_);
      ksteps_[0].push_back({e0 * 2, e1 - e0, static_cast<int64_t>(wrows_.size())});
      for (int64_t x = e0; x < e1; ++x) wrows_.push_back({(x % slot) / cp_, x / slot, x % cp_});
    }
    return true;
  }
  // Packed layout: band row j of image i at plane row i * pitch + j, pixel p
  // (pw_lo padding pixels first), slot r, channel c. Rows whose kernel rows
  // all read real input convert in one rectangle per image; the first and
  // last output rows of an image convert their real slots and zero the rest.
  void PackedConverts(const Chunk& k, std::vector<ConvertRect>* converts, std::vector<ZeroRect>* zeros) const {
    const int64_t slot = Slot(), e = Esz();
    auto plane_at = [&](int64_t row, int64_t r) { return (row * wp_ + g_.pw_lo) * slot * 2 + r * cp_ * 2; };
    auto stage_at = [&](int64_t row, int64_t r) { return (row * g_.w * slot + r * cp_) * e; };
    for (int64_t i = 0; i < k.nimg; ++i) {
      int64_t full0 = -1;
      auto flush = [&](int64_t j) {
        if (full0 < 0) return;
        const int64_t row = i * pitch_ + full0;
        converts->push_back({plane_at(row, 0), stage_at(row, 0), j - full0, g_.w * slot, wp_ * slot * 2, g_.w * slot * e});
        full0 = -1;
      };
      for (int64_t j = 0; j < k.bh; ++j) {
        auto [r0, r1] = ValidKernelRows(k.oh0 + j);
        if (r0 == 0 && r1 == g_.kh) {
          if (full0 < 0) full0 = j;
          continue;
        }
        flush(j);
        const int64_t row = i * pitch_ + j;
        if (r1 > r0) converts->push_back({plane_at(row, r0), stage_at(row, r0), g_.w, (r1 - r0) * cp_, slot * 2, slot * e});
        if (r0 > 0) zeros->push_back({plane_at(row, 0), g_.w, r0 * cp_ / 2, slot * 2});
        if (r1 < g_.kh) zeros->push_back({plane_at(row, std::max(r0, r1)), g_.w, (g_.kh - std::max(r0, r1)) * cp_ / 2, slot * 2});
      }
      flush(k.bh);
    }
  }
  int64_t Esz() const { return in_.element_bytes(); }  // staging element bytes: 4 (f32) or 2 (bf16)
  int64_t PhaseOffset(int pi, int64_t kc) const { return pi * rb_ * wp_ * Ccw(kc) * 2; }
  // Band rows [j0, j1) of phase ph holding real input rows (others are padding).
  std::pair<int64_t, int64_t> ValidRows(const Chunk& k, int64_t ph) const {
    const int64_t need = bh_ + shift_max_;
    // padded row (oh0 + j) * sh + ph is real when ph_lo <= it < ph_lo + H.
    auto first_at_least = [&](int64_t x) {  // smallest j with (oh0 + j) * sh + ph >= x
      int64_t t = x - ph;
      int64_t q = t >= 0 ? CeilDiv(t, g_.sh) : -((-t) / g_.sh);
      return q - k.oh0;
    };
    int64_t j0 = std::max<int64_t>(0, first_at_least(g_.ph_lo));
    int64_t j1 = std::min(need, first_at_least(g_.ph_lo + g_.h));
    return {j0, std::max(j0, j1)};
  }

  ConvGeom g_, orig_;
  View in_;
  const Literal* lit_;
  int64_t krows_ = 128;  // K values per matmul (mxu.rows)
  bool packed_ = false;  // kernel rows packed into each pixel's K values (see the top)
  int64_t cp_ = 0;       // packed: channels per slot (cg rounded up to even)
  int64_t wq_ = 0, wp_ = 0, shift_max_ = 0;
  std::vector<int64_t> phases_;
  std::vector<int> phase_index_;
  int64_t bh_ = 1, pitch_ = 1, nb_ = 1, rb_ = 1, cc_ = 1, nk_ = 1;
  std::vector<Chunk> chunks_;
  std::vector<std::vector<KStep>> ksteps_;
  std::vector<WRow> wrows_;
};

}  // namespace

Status CheckConv(const Instruction& conv, const std::string& name) {
  const ConvDims& d = conv.conv_dims;
  bool nhwc = d.input_batch == 0 && d.input_feature == 3 && d.input_spatial == std::vector<int64_t>{1, 2} &&
              d.kernel_spatial == std::vector<int64_t>{0, 1} && d.kernel_input_feature == 2 &&
              d.kernel_output_feature == 3 && d.output_batch == 0 && d.output_feature == 3 &&
              d.output_spatial == std::vector<int64_t>{1, 2};
  if (!nhwc || conv.window.size() != 2)
    return Unimplemented("convolution '{}': only NHWC input / HWIO kernel with two spatial dims (b01f_01io->b01f) is "
                         "lowered to the chip", name);
  if (conv.batch_group_count != 1) return Unimplemented("convolution '{}': batch_group_count must be 1", name);
  for (const WindowDim& w : conv.window) {
    if (w.base_dilation != 1) return Unimplemented("convolution '{}': input (lhs) dilation is not supported", name);
    if (w.pad_lo < 0 || w.pad_hi < 0) return Unimplemented("convolution '{}': negative padding is not supported", name);
    if (w.stride < 1 || w.window_dilation < 1) return Error("convolution '{}': bad stride or dilation", name);
  }
  const DType it = conv.operand(0)->shape.dtype, kt = conv.operand(1)->shape.dtype, ot = conv.shape.dtype;
  const bool f32 = it == DType::kF32 && kt == DType::kF32 && ot == DType::kF32;
  const bool bf16 = it == DType::kBF16 && kt == DType::kBF16 && (ot == DType::kF32 || ot == DType::kBF16);
  if (!f32 && !bf16)
    return Unimplemented("convolution '{}': the matrix unit takes f32 x f32 -> f32 or bf16 x bf16 -> f32/bf16 (got {} x {} "
                         "-> {})",
                         name, DTypeName(it), DTypeName(kt), DTypeName(ot));
  if (bf16 && IsDepthwise(conv))
    return Unimplemented("convolution '{}': depthwise convolutions (vector unit, f32) take f32 operands, not bf16", name);
  return OkStatus();
}

bool IsDepthwise(const Instruction& conv) {
  const Shape& in = conv.operand(0)->shape;
  const Shape& k = conv.operand(1)->shape;
  return conv.feature_group_count > 1 && conv.feature_group_count == in.dims[3] && k.dims[3] == in.dims[3];
}

// MXU row passes of a convolution: wide LHS rows x k-steps x column tiles
// (channel chunking ignored: it is the same for both forms compared).
// `packed`: kernel rows packed (see the top of the file).
int64_t StreamCost(const ConvGeom& g, int64_t krows, int64_t cols, bool packed = false) {
  const int64_t wq = CeilDiv(std::max(g.pw_lo + g.w, (g.ow - 1) * g.sw + (g.kw - 1) * g.dw + 1), g.sw);
  const int64_t ksteps = packed       ? CeilDiv(g.kw * g.kh * (g.cg + g.cg % 2), krows)
                         : g.dw == 1 ? g.kh * CeilDiv(g.kw * g.cg, krows)
                                     : g.kh * g.kw * CeilDiv(g.cg, krows);
  return g.n * g.oh * wq * ksteps * CeilDiv(g.ocg, cols) * g.groups;
}

// The pixel-pair form of g (see the top of the file).
ConvGeom PairGeometry(const ConvGeom& g) {
  ConvGeom p = g;
  p.kw = g.kw + g.sw;
  p.sw = 2 * g.sw;
  p.ow = g.ow / 2;
  p.oc = p.ocg = 2 * g.oc;
  return p;
}

// [N, OH, OW, OC] -> [N, OH, OW/2, 2 OC] without moving data.
StatusOr<View> PairView(const View& v) {
  if (v.rank() != 4) return Error("pixel-pair view of rank {}", v.rank());
  return v.Reshape({v.dims[0], v.dims[1], v.dims[2] / 2, 2 * v.dims[3]});
}

StatusOr<PreparedGemm> PrepareConv(LoweringContext& ctx, const Instruction& conv, const Instruction* input,
                                   const Instruction* kernel, const std::vector<View>& outputs) {
  RETURN_IF_ERROR(CheckConv(conv, conv.name));
  const Literal* lit = ctx.ConstantValue(kernel);
  if (!lit)
    return Unimplemented("convolution '{}': the kernel must be a constant (weights) to be lowered to the chip",
                         conv.name);
  const Shape& is = input->shape;
  const Shape& ks = kernel->shape;
  const Shape& os = conv.shape;
  ConvGeom g;
  g.n = is.dims[0], g.h = is.dims[1], g.w = is.dims[2], g.c = is.dims[3];
  g.kh = ks.dims[0], g.kw = ks.dims[1], g.oc = ks.dims[3];
  g.oh = os.dims[1], g.ow = os.dims[2];
  g.sh = conv.window[0].stride, g.sw = conv.window[1].stride;
  g.ph_lo = conv.window[0].pad_lo, g.pw_lo = conv.window[1].pad_lo;
  g.dh = conv.window[0].window_dilation, g.dw = conv.window[1].window_dilation;
  g.groups = conv.feature_group_count;
  g.cg = g.c / g.groups;
  g.ocg = g.oc / g.groups;
  if (g.cg * g.groups != g.c || g.ocg * g.groups != g.oc || ks.dims[2] != g.cg)
    return Error("convolution '{}': feature groups do not divide the features", conv.name);
  ASSIGN_OR_RETURN(View in, ctx.ValueView(input));
  PreparedGemm p;
  if (is.dtype == DType::kBF16) p.passes = 1;  // bf16 operands are their own hi plane
  const int64_t krows = ctx.chip().mxu.rows, cols = ctx.chip().mxu.cols;
  bool pair = g.groups == 1 && g.dw == 1 && g.ow >= 2 && g.ow % 2 == 0 &&
              StreamCost(PairGeometry(g), krows, cols) < StreamCost(g, krows, cols);
  for (const View& v : outputs) pair = pair && PairView(v).ok();
  const ConvGeom& chosen = pair ? PairGeometry(g) : g;
  // Packed only when it halves the rows streamed and its taller weight panel
  // (one column tile, 3 planes at most) fits the planner's half of VMEM.
  const int64_t packed_panel = chosen.kw * chosen.kh * (chosen.cg + chosen.cg % 2) * cols * 2 * 3;
  const bool packed = g.groups == 1 && g.dw == 1 && packed_panel <= ctx.em().VmemBytes() / 2 &&
                      2 * StreamCost(chosen, krows, cols, true) <= StreamCost(chosen, krows, cols);
  if (pair) {
    p.source = std::make_unique<ConvSource>(PairGeometry(g), g, in, lit, krows, packed);
    p.canon = PairView;
    // The bias repeated for both pixels of a pair: [1, 2, OC] with stride 0,
    // DMAed densely into VMEM as one row of 2 OC values.
    p.bias = [g](const View& v) -> View { return v.Broadcast({1, 2, g.oc}, {2}); };
    return p;
  }
  p.source = std::make_unique<ConvSource>(g, g, in, lit, krows, packed);
  p.canon = [](const View& v) -> StatusOr<View> { return v; };
  p.bias = [g](const View& v) -> View {
    View r = v;
    r.dims = {g.groups, g.ocg};
    r.strides = {g.ocg * v.strides[0], v.strides[0]};
    return r;
  };
  return p;
}

}  // namespace xtpu::codegen::mxu

namespace xtpu::codegen {

Status EmitConvolution(LoweringContext& ctx, const Instruction& inst, const View& out) {
  RETURN_IF_ERROR(mxu::CheckConv(inst, inst.name));
  if (mxu::IsDepthwise(inst))
    return mxu::EmitDepthwise(ctx, inst.name, "convolution(depthwise)", inst, inst.operand(0), inst.operand(1), out, {});
  ASSIGN_OR_RETURN(mxu::PreparedGemm p, mxu::PrepareConv(ctx, inst, inst.operand(0), inst.operand(1), {out}));
  mxu::GemmJob job;
  job.name = inst.name;
  job.op = "convolution";
  ASSIGN_OR_RETURN(job.out, p.canon(out));
  job.source = p.source.get();
  return mxu::EmitGemmSplitK(ctx, std::move(job), p, InstructionFlops(inst));
}

}  // namespace xtpu::codegen
