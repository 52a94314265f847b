// The GEMM engine's read-out: each MXU's read_acc of a finished row chunk
// (all after the chunk, or streamed between later matmuls), then the
// epilogue on the vector unit and the store (mxu_gemm_emitter.h).
#include <algorithm>

#include "xtpu/compiler/codegen/mxu_gemm_emitter.h"
#include "xtpu/compiler/codegen/vpu_common.h"
#include "xtpu/support/check.h"

namespace xtpu::codegen::mxu::gemm_internal {

void GemmEmitter::EmitResidualLoad(Core& k, int s, int64_t readout) {
  const Step& st = k.steps[s];
  const int oslot = static_cast<int>(readout % plan_.out_slots);
  for (const EpilogueOp& e : job_.epilogue) {
    if (e.kind != EpilogueOp::kResidual) continue;
    src_.EmitOutTile(em_, k.core, kEngineResidual, true, e.operand, st.b, st.c, st.g * plan_.ng, GroupCols(st.g),
                     res_bf16_ ? k.res16[oslot] : k.res[oslot], plan_.ng * (res_bf16_ ? 2 : 4),
                     {.wait = readout >= plan_.out_slots ? k.res_free : -1, .signal = k.res_loaded});
  }
}

std::vector<std::vector<ReadAcc>> GemmEmitter::ReadAccs(Core& k, int s, int64_t readout) {
  const Step& st = k.steps[s];
  const int oslot = static_cast<int>(readout % plan_.out_slots);
  const bool wait_out = readout >= plan_.out_slots;
  const int64_t rows = src_.ChunkRows(st.c);
  const int64_t ms = std::min(plan_.ms_max, CeilDiv(rows, plan_.pm));
  const int64_t ncols = GroupCols(st.g);
  const int64_t tiles = CeilDiv(ncols, tile_);
  const int64_t ng = plan_.ng;
  // A bf16 result: read_acc rounds directly when there is no epilogue, else
  // the f32 tile is rounded in place (row by row, at a 2-byte pitch) after it.
  const bool acc_bf16 = job_.out.dtype == DType::kBF16 && job_.epilogue.empty();
  const int64_t acc_esz = acc_bf16 ? 2 : 4;
  std::vector<std::vector<ReadAcc>> out(n_active_);
  for (int i = 0; i < plan_.pm; ++i) {
    for (int j = 0; j < plan_.pn; ++j) {
      const int unit = i * plan_.pn + j;
      const int64_t r0 = std::min(rows, i * ms), r1 = std::min(rows, r0 + ms);
      std::vector<int64_t> my;
      for (int64_t t = j; t < tiles; t += plan_.pn) my.push_back(t);
      if (r1 <= r0 || my.empty()) {
        ReadAcc r;
        r.owner = s;
        r.sync = {.wait = wait_out ? k.out_free[unit] : -1, .signal = k.acc_done[oslot]};
        out[unit].push_back(r);
        continue;
      }
      for (size_t q = 0; q < my.size(); ++q) {
        ReadAcc r;
        r.q = static_cast<int64_t>(q);
        r.owner = s;
        r.dst = k.out[oslot] + r0 * ng * 4 + my[q] * tile_ * acc_esz;
        r.acc = AccBase(readout) + static_cast<int64_t>(q) * plan_.ms_max;
        r.m = r1 - r0;
        r.n = std::min(tile_, ncols - my[q] * tile_);
        r.dtype = static_cast<int64_t>(acc_bf16 ? DType::kBF16 : DType::kF32);
        if (q == 0 && wait_out) r.sync.wait = k.out_free[unit];
        if (q + 1 == my.size()) r.sync.signal = k.acc_done[oslot];
        out[unit].push_back(r);
      }
    }
  }
  return out;
}

void GemmEmitter::EmitReadAcc(int core, int unit, const ReadAcc& r) {
  if (r.m == 0) {
    em_.Emit(core, Opcode::kMxuNop, unit, {}, r.sync);
    return;
  }
  em_.Emit(core, Opcode::kMxuReadAcc, unit,
           {{"dst", r.dst}, {"stride", plan_.ng * 4}, {"acc", r.acc}, {"m", r.m}, {"n", r.n}, {"dtype", r.dtype}},
           r.sync);
}

void GemmEmitter::EmitQueuedReads(Core& k, int unit, const std::function<bool(const ReadAcc&)>& until) {
  std::deque<ReadAcc>& rq = k.reads[unit];
  size_t last = rq.size();
  for (size_t i = 0; i < rq.size(); ++i)
    if (until(rq[i])) last = i;
  if (last == rq.size()) return;
  for (size_t i = 0; i <= last; ++i) {
    EmitReadAcc(k.core, unit, rq.front());
    rq.pop_front();
  }
}

void GemmEmitter::EmitReadsBeforeMatmul(Core& k, int unit, int64_t q) {
  std::deque<ReadAcc>& rq = k.reads[unit];
  auto same_tile = [&](const ReadAcc& r) { return r.m > 0 && r.q == q; };
  if (std::any_of(rq.begin(), rq.end(), same_tile)) {
    EmitQueuedReads(k, unit, same_tile);
  } else if (!rq.empty() && rq.front().need <= 0) {
    EmitReadAcc(k.core, unit, rq.front());
    rq.pop_front();
  }
}

void GemmEmitter::EmitReadout(Core& k, int s, bool acc_part) {
  const int c = k.core;
  const Step& st = k.steps[s];
  if (acc_part) {
    const int64_t readout = k.readouts++;
    k.readout_of[s] = readout;
    std::vector<std::vector<ReadAcc>> reads = ReadAccs(k, s, readout);
    for (int u = 0; u < n_active_; ++u)
      for (const ReadAcc& r : reads[u]) EmitReadAcc(c, u, r);
    return;
  }
  const int64_t readout = k.readout_of[s];  // this chunk's readout number
  XTPU_CHECK(readout >= 0);
  const int oslot = static_cast<int>(readout % plan_.out_slots);
  const bool free_out = readout + plan_.out_slots < k.total_readouts;
  const int64_t rows = src_.ChunkRows(st.c);
  const int64_t ncols = GroupCols(st.g);
  const int64_t ng = plan_.ng;
  const bool bf16_out = job_.out.dtype == DType::kBF16;
  int store_wait;
  if (!job_.epilogue.empty()) {
    Nops(c, isa::UnitKind::kVpu, 0, {.wait = k.acc_done[oslot]}, n_active_ - 1);
    if (has_bias_ && !k.bias_waited) {
      em_.Emit(c, Opcode::kVpuNop, 0, {}, {.wait = k.bias_loaded});
      k.bias_waited = true;
    }
    if (has_res_) em_.Emit(c, Opcode::kVpuNop, 0, {}, {.wait = k.res_loaded});
    if (res_bf16_)
      em_.Emit(c, Opcode::kVpuConvert, 0,
               {{"to", static_cast<int64_t>(DType::kF32)}, {"from", static_cast<int64_t>(DType::kBF16)},
                {"dst", k.res[oslot]}, {"src", k.res16[oslot]}, {"rows", rows}, {"cols", ncols}, {"ds", ng * 4},
                {"ss", ng * 2}});
    EmitEpilogueOps(em_, c, job_.epilogue, k.out[oslot], rows, ncols, ng * 4, k.bias + st.b * src_.N() * 4 + st.g * ng * 4,
                    k.res[oslot], k.acc_done[oslot], has_res_ && free_out ? k.res_free : -1, bf16_out ? -1 : k.ep_done,
                    k.saved);
    if (bf16_out) {
      em_.Emit(c, Opcode::kVpuConvert, 0,
               {{"to", static_cast<int64_t>(DType::kBF16)}, {"from", static_cast<int64_t>(DType::kF32)},
                {"dst", k.out[oslot]}, {"src", k.out[oslot]}, {"rows", rows}, {"cols", ncols}, {"ds", ng * 4},
                {"ss", ng * 4}},
               {.signal = k.ep_done});
    }
    store_wait = k.ep_done;
  } else {
    Nops(c, isa::UnitKind::kDma, kEngineStore, {.wait = k.acc_done[oslot]}, n_active_ - 1);
    store_wait = k.acc_done[oslot];
  }
  src_.EmitOutTile(em_, c, kEngineStore, false, job_.out, st.b, st.c, st.g * ng, ncols, k.out[oslot], ng * 4,
                   {.wait = store_wait});
  if (free_out)
    for (int u = 0; u < n_active_; ++u) em_.Emit(c, Opcode::kDmaNop, kEngineStore, {}, {.signal = k.out_free[u]});
}

}  // namespace xtpu::codegen::mxu::gemm_internal
