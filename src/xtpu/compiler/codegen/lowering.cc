// The lowering driver: buffer assignment, views, and one kernel per
// instruction (see lowering.h).
#include "xtpu/compiler/codegen/lowering.h"

#include <algorithm>
#include <cstdlib>
#include <map>
#include <set>
#include <unordered_map>

#include <fmt/format.h>

#include "xtpu/compiler/codegen/kernels.h"
#include "xtpu/compiler/codegen/mxu_sources.h"
#include "xtpu/support/check.h"

namespace xtpu::codegen {

int PrecisionPasses(Precision p) { return p == Precision::kDefault ? 1 : p == Precision::kHigh ? 3 : 6; }
std::string_view PrecisionName(Precision p) {
  return p == Precision::kDefault ? "default" : p == Precision::kHigh ? "high" : "highest";
}
StatusOr<Precision> ParsePrecision(std::string_view s) {
  if (s == "default") return Precision::kDefault;
  if (s == "high") return Precision::kHigh;
  if (s == "highest") return Precision::kHighest;
  return Error("unknown precision '{}' (use default, high or highest)", s);
}

DType ChipStorageType(DType t) {
  switch (t) {
    case DType::kPred:
    case DType::kS64:
      return DType::kS32;
    case DType::kF16:
      return DType::kF32;
    case DType::kU8:
      return DType::kS8;  // same bytes; kernels see the IR dtype too
    default:
      return t;
  }
}

namespace {

constexpr int64_t kAlign = 256;

int64_t AlignUp(int64_t v, int64_t a) { return (v + a - 1) / a * a; }

// First-fit allocator over the activation arena.
class Arena {
 public:
  explicit Arena(int64_t base) : base_(base) {}
  int64_t Alloc(int64_t bytes) {
    bytes = AlignUp(std::max<int64_t>(bytes, 1), kAlign);
    for (auto it = free_.begin(); it != free_.end(); ++it) {
      if (it->second >= bytes) {
        int64_t at = it->first;
        int64_t rest = it->second - bytes;
        free_.erase(it);
        if (rest > 0) free_[at + bytes] = rest;
        used_[at] = bytes;
        return at;
      }
    }
    int64_t at = base_ + top_;
    // Grow the last free block if it ends at the top.
    if (!free_.empty()) {
      auto last = std::prev(free_.end());
      if (last->first + last->second == base_ + top_) {
        at = last->first;
        top_ += bytes - last->second;
        free_.erase(last);
        used_[at] = bytes;
        peak_ = std::max(peak_, top_);
        return at;
      }
    }
    top_ += bytes;
    peak_ = std::max(peak_, top_);
    used_[at] = bytes;
    return at;
  }
  void Free(int64_t at) {
    auto it = used_.find(at);
    XTPU_CHECK(it != used_.end());
    int64_t size = it->second;
    used_.erase(it);
    auto [f, ok] = free_.emplace(at, size);
    XTPU_CHECK(ok);
    // Coalesce with neighbours.
    auto next = std::next(f);
    if (next != free_.end() && f->first + f->second == next->first) {
      f->second += next->second;
      free_.erase(next);
    }
    if (f != free_.begin()) {
      auto prev = std::prev(f);
      if (prev->first + prev->second == f->first) {
        prev->second += f->second;
        free_.erase(f);
      }
    }
  }
  int64_t peak() const { return peak_; }
  int64_t base() const { return base_; }

 private:
  int64_t base_;
  int64_t top_ = 0, peak_ = 0;
  std::map<int64_t, int64_t> free_, used_;
};

int64_t DotFlops(const Instruction& inst) {
  // 2 * |result| * |contracting|
  int64_t k = 1;
  for (int64_t d : inst.dot_dims.lhs_contracting) k *= inst.operand(0)->shape.dims[d];
  return 2 * inst.shape.num_elements() * k;
}

int64_t ConvFlops(const Instruction& inst) {
  const Shape& w = inst.operand(1)->shape;
  int64_t per_out = 2 * w.dims[inst.conv_dims.kernel_input_feature];
  for (int64_t d : inst.conv_dims.kernel_spatial) per_out *= w.dims[d];
  return per_out * inst.shape.num_elements();
}

}  // namespace

int64_t InstructionFlops(const Instruction& inst) {
  switch (inst.opcode) {
    case Opcode::kDot:
      return DotFlops(inst);
    case Opcode::kConvolution:
      return ConvFlops(inst);
    case Opcode::kFusion: {
      int64_t f = 0;
      if (inst.to_apply)
        for (const auto& i : inst.to_apply->instructions()) f += InstructionFlops(*i);
      return f;
    }
    default:
      return 0;
  }
}

struct LoweringContext::Impl {
  const ChipConfig* chip = nullptr;
  Arena arena{0};
  int64_t hbm_top = 0;        // constants grow down from here
  int64_t const_low = 0;
  std::map<int64_t, std::vector<uint8_t>> const_blobs;  // address -> bytes
  std::unordered_map<std::string, View> const_by_key;
  int64_t const_bytes = 0;
  std::unordered_map<const Instruction*, View> views;
  std::vector<int64_t> kernel_scratch;  // arena blocks to free after the instruction
  std::string largest_const;
  int64_t largest_const_bytes = 0;
};

StatusOr<View> LoweringContext::AddConstant(const std::string& key, const Literal& value) {
  auto it = impl_->const_by_key.find(key);
  if (it != impl_->const_by_key.end()) return it->second;
  int64_t bytes = value.shape().byte_size();
  int64_t low = (impl_->const_low - bytes) / kAlign * kAlign;
  if (low < impl_->arena.base() + impl_->arena.peak()) {
    return Error("constant '{}' ({}) does not fit in HBM: constants need {} so far and activations {}, HBM has {}", key,
                 FormatBytes(bytes), FormatBytes(impl_->const_bytes + bytes), FormatBytes(impl_->arena.peak()),
                 FormatBytes(impl_->hbm_top));
  }
  impl_->const_low = low;
  impl_->const_bytes += bytes;
  if (bytes > impl_->largest_const_bytes) {
    impl_->largest_const_bytes = bytes;
    impl_->largest_const = key;
  }
  impl_->const_blobs[low] = value.bytes();
  View v = View::Dense(low, value.dtype(), value.shape().dims);
  impl_->const_by_key.emplace(key, v);
  return v;
}

const Literal* LoweringContext::ConstantValue(const Instruction* inst) const {
  return inst->opcode == Opcode::kConstant ? &inst->literal : nullptr;
}

StatusOr<View> LoweringContext::ValueView(const Instruction* inst) {
  auto it = impl_->views.find(inst);
  if (it != impl_->views.end()) return it->second;
  if (inst->opcode == Opcode::kConstant) {
    DType t = ChipStorageType(inst->literal.dtype());
    if (t == inst->literal.dtype()) return AddConstant("const:" + inst->name, inst->literal);
    Literal conv(Shape(t, inst->literal.shape().dims));
    for (int64_t i = 0; i < conv.num_elements(); ++i) {
      if (IsFloat(t)) conv.SetFromDouble(i, inst->literal.GetAsDouble(i));
      else conv.SetFromInt64(i, inst->literal.GetAsInt64(i));
    }
    return AddConstant("const:" + inst->name, conv);
  }
  return Error("internal: no HBM home for '{}'", inst->name);
}

StatusOr<View> LoweringContext::AllocHbmScratch(DType dtype, std::vector<int64_t> dims) {
  View v = View::Dense(0, dtype, std::move(dims));
  v.base = impl_->arena.Alloc(v.bytes());
  impl_->kernel_scratch.push_back(v.base);
  if (impl_->arena.base() + impl_->arena.peak() > impl_->const_low)
    return Error("HBM is full: activations need {} beyond the {} of constants (HBM {})", FormatBytes(impl_->arena.peak()),
                 FormatBytes(impl_->const_bytes), FormatBytes(impl_->hbm_top));
  return v;
}

namespace {

bool IsView(const Instruction& inst) {
  switch (inst.opcode) {
    case Opcode::kReshape:
    case Opcode::kSlice:
    case Opcode::kBroadcast:
    case Opcode::kReverse:
      return true;
    case Opcode::kTranspose: {
      // Transposes that keep the minor dim are free views; others are copied.
      const auto& p = inst.dimensions;
      return !p.empty() && p.back() == static_cast<int64_t>(p.size()) - 1;
    }
    default:
      return false;
  }
}

// Transposes that move the minor dim and whose every reader is a batched dot
// (rhs rank = lhs rank >= 3) taking it as the rhs (only).
std::set<const Instruction*> DotWeightTransposes(const Computation& entry) {
  std::unordered_map<const Instruction*, int> dot_uses, other_uses;
  for (const auto& i : entry.instructions()) {
    for (size_t k = 0; k < i->operands.size(); ++k) {
      const Instruction* o = i->operand(k);
      const bool batched_rhs = i->opcode == Opcode::kDot && k == 1 && i->operand(0) != o &&
                               i->operand(0)->shape.rank() == o->shape.rank() && o->shape.rank() >= 3 &&
                               !i->dot_dims.rhs_batch.empty();
      (batched_rhs ? dot_uses : other_uses)[o]++;
    }
  }
  std::set<const Instruction*> out;
  for (const auto& i : entry.instructions())
    if (i->opcode == Opcode::kTranspose && !IsView(*i) && dot_uses.count(i.get()) && !other_uses.count(i.get()))
      out.insert(i.get());
  return out;
}

bool IsElementwiseOp(const Instruction& inst) {
  return OpcodeKind(inst.opcode) == OpKind::kUnary || OpcodeKind(inst.opcode) == OpKind::kBinary ||
         inst.opcode == Opcode::kCompare || inst.opcode == Opcode::kSelect || inst.opcode == Opcode::kClamp ||
         inst.opcode == Opcode::kConvert;
}

// A value whose one reader is a transpose that keeps the minor dim (a view)
// and is reshaped: its kernel can write it in the transpose's layout. Only
// kernels that store through any strided view: dots, loop and row fusions,
// elementwise ops.
const Instruction* TransposedHome(const Instruction& inst,
                                  const std::unordered_map<const Instruction*, std::vector<const Instruction*>>& users,
                                  const std::set<const Instruction*>& dot_views) {
  const bool kind = inst.opcode == Opcode::kDot ||
                    (inst.opcode == Opcode::kFusion &&
                     (inst.fusion_kind == FusionKind::kLoop || inst.fusion_kind == FusionKind::kRow)) ||
                    IsElementwiseOp(inst);
  if (!kind || inst.shape.rank() < 2) return nullptr;
  auto it = users.find(&inst);
  if (it == users.end() || it->second.size() != 1) return nullptr;
  const Instruction* t = it->second[0];
  if (t->opcode != Opcode::kTranspose || !IsView(*t) || dot_views.count(t) ||
      std::count(t->operands.begin(), t->operands.end(), &inst) != 1)
    return nullptr;
  auto tu = users.find(t);
  if (tu == users.end()) return nullptr;
  for (const Instruction* u : tu->second)
    if (u->opcode == Opcode::kReshape) return t;
  return nullptr;
}

StatusOr<View> ViewOf(const Instruction& inst, const View& in) {
  switch (inst.opcode) {
    case Opcode::kReshape:
      return in.Reshape(inst.shape.dims);
    case Opcode::kSlice:
      return in.Slice(inst.slice_starts, inst.slice_limits, inst.slice_strides);
    case Opcode::kBroadcast:
      return in.Broadcast(inst.shape.dims, inst.dimensions);
    case Opcode::kReverse:
      return in.Reverse(inst.dimensions);
    case Opcode::kTranspose:
      return in.Transpose(inst.dimensions);
    default:
      XTPU_CHECK(false);
  }
  return in;
}

std::string BufferName(const std::string& prefix, size_t i) { return fmt::format("{}{}", prefix, i); }

// The convolution a matrix-unit kernel runs: `inst` itself, or the one of an
// output fusion; nullptr for anything else (dots, depthwise and int8
// convolutions included).
const Instruction* MxuConvolution(const Instruction& inst) {
  const Instruction* conv = nullptr;
  if (inst.opcode == Opcode::kConvolution) {
    conv = &inst;
  } else if (inst.opcode == Opcode::kFusion && inst.fusion_kind == FusionKind::kOutput && inst.to_apply) {
    for (const auto& i : inst.to_apply->instructions()) {
      if (i->opcode == Opcode::kDot) return nullptr;
      if (i->opcode == Opcode::kConvolution) {
        if (conv) return nullptr;
        conv = i.get();
      }
    }
    if (!conv || conv->operand(0)->opcode != Opcode::kParameter || conv->operand(0)->parameter_number != 0)
      return nullptr;
  }
  auto is_float = [](DType t) { return t == DType::kF32 || t == DType::kBF16; };
  if (!conv || IsInt8Matmul(inst) || mxu::IsDepthwise(*conv) || !is_float(inst.shape.dtype)) return nullptr;
  for (const Instruction* op : conv->operands)
    if (!is_float(op->shape.dtype)) return nullptr;
  return conv;
}

// Values stored as bf16 in HBM (default precision only): results of a
// matrix-unit convolution whose every use is as the input (operand 0, once)
// of another. The consumer rounds its input to bf16 anyway (one bf16 pass), so
// rounding at the producer's store gives bit-identical results with half the
// HBM traffic. Values read by anything else (residual adds, outputs, views)
// stay f32. XTPU_F32_ACTIVATIONS=1 turns this off (for A/B comparisons).
// Pads that can be done in place: the operand's producer (a matrix-unit
// convolution: its stores take any strided view) writes straight into the
// box of the pad's buffer and the pad kernel only fills the border. Needs no
// interior and no negative padding, the operand used by the pad alone, and
// neither value an output. Maps operand -> pad.
std::unordered_map<const Instruction*, const Instruction*> InPlacePads(const Computation& entry) {
  std::unordered_map<const Instruction*, int> uses;
  for (const auto& i : entry.instructions())
    for (const Instruction* op : i->operands) uses[op]++;
  std::set<const Instruction*> outputs;
  if (entry.root())
    for (const Instruction* o : entry.root()->operands) outputs.insert(o);
  std::unordered_map<const Instruction*, const Instruction*> out;
  for (const auto& up : entry.instructions()) {
    const Instruction* p = up.get();
    if (p->opcode != Opcode::kPad || p->operands.size() != 2 ||
        (p->shape.dtype != DType::kF32 && p->shape.dtype != DType::kBF16))
      continue;
    const Instruction* v = p->operand(0);
    if (v == p->operand(1) || uses[v] != 1 || outputs.count(v) || outputs.count(p) || !MxuConvolution(*v)) continue;
    if (static_cast<int64_t>(p->padding.size()) != p->shape.rank()) continue;
    bool box = true;
    for (const PadDim& d : p->padding) box = box && d.interior == 0 && d.lo >= 0 && d.hi >= 0;
    if (box) out[v] = p;
  }
  return out;
}

std::set<const Instruction*> Bf16Values(const Computation& entry, const LoweringOptions& options) {
  std::set<const Instruction*> out;
  if (options.precision != Precision::kDefault) return out;
  if (const char* e = std::getenv("XTPU_F32_ACTIVATIONS"); e != nullptr && e[0] != '\0' && e[0] != '0') return out;
  std::unordered_map<const Instruction*, std::vector<const Instruction*>> users;
  for (const auto& i : entry.instructions())
    for (const Instruction* op : i->operands) users[op].push_back(i.get());
  for (const auto& up : entry.instructions()) {
    const Instruction* v = up.get();
    if (!MxuConvolution(*v)) continue;
    auto it = users.find(v);
    if (it == users.end()) continue;
    bool ok = true;
    for (const Instruction* u : it->second) {
      if (!MxuConvolution(*u) || u->operand(0) != v ||
          std::count(u->operands.begin(), u->operands.end(), v) != 1) {
        ok = false;
        break;
      }
    }
    if (ok) out.insert(v);
  }
  return out;
}

}  // namespace

StatusOr<LoweredModel> LowerModule(const Module& module, const ChipConfig& chip, const LoweringOptions& options) {
  const Computation& entry = *module.entry();
  int cores = options.cores > 0 ? std::min<int>(options.cores, chip.core.count) : static_cast<int>(chip.core.count);
  ProgramEmitter em(chip, cores);
  LoweringContext ctx(em, options);
  LoweringContext::Impl impl;
  impl.chip = &chip;
  ctx.set_impl(&impl);
  LoweredModel out;

  // ---- inputs and outputs: fixed regions at the bottom of HBM ----
  int64_t addr = 0;
  const std::vector<Instruction*>& params = entry.parameters();
  for (size_t i = 0; i < params.size(); ++i) {
    const Instruction* p = params[i];
    if (!p) return Error("entry parameter {} is missing", i);
    Shape s(ChipStorageType(p->shape.dtype), p->shape.dims);
    isa::BufferDecl b;
    b.name = BufferName("in", i);
    b.mem = isa::MemSpace::kHbm;
    b.shape = s;
    b.address = addr;
    b.role = isa::BufferRole::kInput;
    em.program().buffers.push_back(b);
    out.inputs.push_back({p->name, b.name, s});
    impl.views[p] = View::Dense(addr, s.dtype, s.dims);
    addr = AlignUp(addr + std::max<int64_t>(s.byte_size(), 1), kAlign);
  }
  const Instruction* root = entry.root();
  if (!root || root->opcode != Opcode::kTuple) return Error("entry root must be a tuple of the outputs");
  std::vector<int64_t> out_addr;
  for (size_t i = 0; i < root->operands.size(); ++i) {
    const Instruction* o = root->operand(i);
    Shape s(ChipStorageType(o->shape.dtype), o->shape.dims);
    isa::BufferDecl b;
    b.name = BufferName("out", i);
    b.mem = isa::MemSpace::kHbm;
    b.shape = s;
    b.address = addr;
    b.role = isa::BufferRole::kOutput;
    em.program().buffers.push_back(b);
    std::vector<std::string> names = module.OutputNames();
    out.outputs.push_back({i < names.size() ? names[i] : o->name, b.name, s});
    out_addr.push_back(addr);
    addr = AlignUp(addr + std::max<int64_t>(s.byte_size(), 1), kAlign);
  }
  impl.arena = Arena(addr);
  impl.hbm_top = chip.hbm.bytes;
  impl.const_low = chip.hbm.bytes;
  if (addr > chip.hbm.bytes) return Error("inputs and outputs ({}) do not fit in HBM ({})", FormatBytes(addr), FormatBytes(chip.hbm.bytes));

  // ---- liveness: the buffer behind each value, and its last use ----
  const auto& insts = entry.instructions();
  // Transposes read only as the weights of batched dots (attention's keys,
  // [B, S, D] -> [B, D, S]) stay views: the dot kernel loads their
  // contiguous rows and transposes them in VMEM (kernels_mxu_batched.cc)
  // instead of a copy kernel moving them through HBM.
  const std::set<const Instruction*> dot_views = DotWeightTransposes(entry);
  auto is_view = [&](const Instruction& inst) { return IsView(inst) || dot_views.count(&inst) > 0; };
  std::unordered_map<const Instruction*, int> index;
  for (size_t i = 0; i < insts.size(); ++i) index[insts[i].get()] = static_cast<int>(i);
  // owner: the instruction whose arena block holds a value (views share it).
  std::unordered_map<const Instruction*, const Instruction*> owner;
  std::unordered_map<const Instruction*, int> last_use;
  // Pads whose operand is written in place: value -> its pad, and the pad's
  // buffer (allocated when the operand's kernel runs).
  const std::unordered_map<const Instruction*, const Instruction*> pad_of = InPlacePads(entry);
  for (const auto& [v, p] : pad_of) owner[v] = p;  // the pad's block holds both
  std::unordered_map<const Instruction*, View> pad_home;
  for (size_t i = 0; i < insts.size(); ++i) {
    const Instruction* inst = insts[i].get();
    if (!owner.count(inst))
      owner[inst] = (is_view(*inst) && owner.count(inst->operand(0))) ? owner[inst->operand(0)] : inst;
    for (const Instruction* op : inst->operands) {
      const Instruction* ow = owner.count(op) ? owner[op] : op;
      last_use[ow] = std::max(last_use[ow], static_cast<int>(i));
    }
  }
  // Outputs written in place: a kernel's own result that is an output once.
  std::unordered_map<const Instruction*, int> output_of;
  std::map<const Instruction*, int> output_count;
  for (const Instruction* o : root->operands) output_count[o]++;
  for (size_t i = 0; i < root->operands.size(); ++i) {
    const Instruction* o = root->operand(i);
    bool kernel_result = o->opcode != Opcode::kParameter && o->opcode != Opcode::kConstant && !is_view(*o);
    if (kernel_result && output_count[o] == 1) output_of[o] = static_cast<int>(i);
  }

  const std::set<const Instruction*> bf16_values = Bf16Values(entry, options);
  std::unordered_map<const Instruction*, std::vector<const Instruction*>> users;
  for (const auto& i : entry.instructions())
    for (const Instruction* op : i->operands) users[op].push_back(i.get());

  // Batched dots whose one reader is the softmax of their rows: emitted
  // with it as one kernel (the scores stay in VMEM), at the softmax.
  std::unordered_map<const Instruction*, const Instruction*> softmax_of;  // fusion -> its dot

  // ---- one kernel (or view) per instruction ----
  for (size_t i = 0; i < insts.size(); ++i) {
    const Instruction& inst = *insts[i];
    if (options.progress) options.progress(static_cast<double>(i) / insts.size());
    if (inst.opcode == Opcode::kParameter || inst.opcode == Opcode::kConstant || inst.opcode == Opcode::kTuple) continue;
    size_t kernels_before = em.kernels().size();
    if (is_view(inst)) {
      ASSIGN_OR_RETURN(View in, ctx.ValueView(inst.operand(0)));
      StatusOr<View> v = ViewOf(inst, in);
      if (v.ok()) {
        impl.views[&inst] = *v;
        continue;
      }
      // A reshape of a strided view: materialize the operand first.
      View dense = View::Dense(impl.arena.Alloc(in.bytes()), in.dtype, in.dims);
      RETURN_IF_ERROR(EmitCopy(ctx, inst.name + ".materialize", in, dense));
      ASSIGN_OR_RETURN(View r, dense.Reshape(inst.shape.dims));
      impl.views[&inst] = r;
      owner[&inst] = &inst;
      last_use[&inst] = std::max(last_use[&inst], last_use[owner[inst.operand(0)]]);
      continue;
    }
    if (inst.opcode == Opcode::kDot && !output_of.count(&inst) && !pad_of.count(&inst)) {
      auto u = users.find(&inst);
      const Instruction* f = u != users.end() && u->second.size() == 1 ? u->second[0] : nullptr;
      if (f && mxu::IsSoftmaxOf(*f, inst)) {
        const DType ft = bf16_values.count(f) && !output_of.count(f) ? DType::kBF16 : ChipStorageType(f->shape.dtype);
        ASSIGN_OR_RETURN(bool fuse, mxu::TryEmitBatchedDotSoftmax(ctx, inst, *f, View::Dense(0, ft, f->shape.dims),
                                                                   /*emit=*/false));
        if (fuse) {
          softmax_of[f] = &inst;
          for (const Instruction* op : inst.operands) {  // read by the kernel at f
            const Instruction* ow = owner.count(op) ? owner[op] : op;
            last_use[ow] = std::max(last_use[ow], index[f]);
          }
          last_use[&inst] = -1;  // never allocated
          out.flops += InstructionFlops(inst);
          continue;
        }
      }
    }
    Shape s(bf16_values.count(&inst) && !output_of.count(&inst) ? DType::kBF16 : ChipStorageType(inst.shape.dtype),
            inst.shape.dims);
    if (inst.shape.is_tuple) return Error("'{}': tuple-shaped values are not supported on the chip", inst.name);
    View result;
    auto pad_it = pad_of.find(&inst);
    if (auto it = output_of.find(&inst); it != output_of.end()) {
      result = View::Dense(out_addr[it->second], s.dtype, s.dims);
    } else if (auto home = pad_home.find(&inst); home != pad_home.end()) {
      result = home->second;  // the operand's kernel allocated it
    } else if (pad_it != pad_of.end()) {
      // Allocate the pad's buffer; this value is its box.
      const Instruction* p = pad_it->second;
      const DType pt = ChipStorageType(p->shape.dtype);  // f32, or bf16 in bf16 models
      View home = View::Dense(impl.arena.Alloc(Shape(pt, p->shape.dims).byte_size()), pt, p->shape.dims);
      if (impl.arena.base() + impl.arena.peak() > impl.const_low)
        return Error("HBM is full at '{}': activations need {} and constants {} (HBM {})", inst.name,
                     FormatBytes(impl.arena.peak()), FormatBytes(impl.const_bytes), FormatBytes(chip.hbm.bytes));
      pad_home[p] = home;
      result = home;
      for (int d = 0; d < home.rank(); ++d) result = result.SubRange(d, p->padding[d].lo, s.dims[d]);
    } else if (const Instruction* t = TransposedHome(inst, users, dot_views); t != nullptr) {
      // Stored in the layout of its one reader, a transpose (a view), so that
      // reshapes of the transpose are views too and need no copy (attention's
      // heads: [B*H, S, D] -> [S, B*H, D] -> [S*B, H*D]).
      View dense = View::Dense(impl.arena.Alloc(s.byte_size()), s.dtype, t->shape.dims);
      std::vector<int64_t> inv(t->dimensions.size());
      for (size_t k = 0; k < inv.size(); ++k) inv[t->dimensions[k]] = static_cast<int64_t>(k);
      result = dense.Transpose(inv);
      if (impl.arena.base() + impl.arena.peak() > impl.const_low)
        return Error("HBM is full at '{}': activations need {} and constants {} (HBM {})", inst.name,
                     FormatBytes(impl.arena.peak()), FormatBytes(impl.const_bytes), FormatBytes(chip.hbm.bytes));
    } else {
      result = View::Dense(impl.arena.Alloc(s.byte_size()), s.dtype, s.dims);
      if (impl.arena.base() + impl.arena.peak() > impl.const_low)
        return Error("HBM is full at '{}': activations need {} and constants {} (HBM {})", inst.name,
                     FormatBytes(impl.arena.peak()), FormatBytes(impl.const_bytes), FormatBytes(chip.hbm.bytes));
    }
    impl.views[&inst] = result;
    Status st;
    if (auto sm = softmax_of.find(&inst); sm != softmax_of.end()) {
      StatusOr<bool> done = mxu::TryEmitBatchedDotSoftmax(ctx, *sm->second, inst, result, /*emit=*/true);
      st = !done.ok() ? done.status()
           : *done    ? OkStatus()
                      : Error("internal: '{}': the fused batched dot and softmax no longer plans", inst.name);
    } else if (IsInt8Matmul(inst)) {
      st = EmitInt8Matmul(ctx, inst, result);
    } else switch (inst.opcode) {
      case Opcode::kDot:
        st = EmitDot(ctx, inst, result);
        break;
      case Opcode::kConvolution:
        st = EmitConvolution(ctx, inst, result);
        break;
      case Opcode::kFusion:
        st = inst.fusion_kind == FusionKind::kOutput ? EmitOutputFusion(ctx, inst, result)
             : inst.fusion_kind == FusionKind::kRow  ? EmitRowFusion(ctx, inst, result)
                                                     : EmitLoopFusion(ctx, inst, result);
        break;
      case Opcode::kReduce:
        st = EmitReduce(ctx, inst, result);
        break;
      case Opcode::kConcatenate:
        st = EmitConcatenate(ctx, inst, result);
        break;
      case Opcode::kPad:
        st = EmitPad(ctx, inst, result, pad_home.count(&inst) > 0);
        break;
      case Opcode::kGather:
        st = EmitGather(ctx, inst, result);
        break;
      case Opcode::kTranspose: {
        ASSIGN_OR_RETURN(View in, ctx.ValueView(inst.operand(0)));
        st = EmitCopy(ctx, inst.name, in.Transpose(inst.dimensions), result);
        break;
      }
      default:
        if (OpcodeKind(inst.opcode) == OpKind::kUnary || OpcodeKind(inst.opcode) == OpKind::kBinary ||
            inst.opcode == Opcode::kCompare || inst.opcode == Opcode::kSelect || inst.opcode == Opcode::kClamp ||
            inst.opcode == Opcode::kConvert) {
          st = EmitElementwise(ctx, inst, result);
        } else {
          st = Unimplemented("'{}': {} is not supported on the chip", inst.name, OpcodeName(inst.opcode));
        }
    }
    RETURN_IF_ERROR(st);
    // FLOPs of the IR op go to its first kernel.
    int64_t flops = InstructionFlops(inst);
    out.flops += flops;
    if (em.kernels().size() > kernels_before && em.kernels()[kernels_before].flops == 0)
      em.mutable_kernels()[kernels_before].flops = flops;
    // Free this kernel's scratch and dead values.
    for (int64_t b : impl.kernel_scratch) impl.arena.Free(b);
    impl.kernel_scratch.clear();
    for (const Instruction* op : inst.operands) {
      const Instruction* ow = owner.count(op) ? owner[op] : op;
      if (last_use[ow] == static_cast<int>(i) && ow->opcode != Opcode::kParameter && ow->opcode != Opcode::kConstant &&
          !output_of.count(ow) && index.count(ow)) {
        const View& v = impl.views[ow];
        if (v.base >= impl.arena.base() && v.base < impl.const_low) impl.arena.Free(v.base);
        last_use[ow] = -1;  // freed
      }
    }
    if (last_use.find(&inst) == last_use.end() && !output_of.count(&inst) && !pad_of.count(&inst)) {
      // Unused result (should have been removed by DCE).
      impl.arena.Free(result.base);
    }
  }

  // ---- outputs that are not written in place ----
  for (size_t i = 0; i < root->operands.size(); ++i) {
    const Instruction* o = root->operand(i);
    if (output_of.count(o) && output_of[o] == static_cast<int>(i)) continue;
    ASSIGN_OR_RETURN(View src, ctx.ValueView(o));
    View dst = View::Dense(out_addr[i], src.dtype, o->shape.dims);
    RETURN_IF_ERROR(EmitCopy(ctx, fmt::format("output{}", i), src, dst));
  }

  // ---- constants: one buffer at the top of HBM ----
  if (impl.const_bytes > 0 || !impl.const_blobs.empty()) {
    int64_t low = impl.const_low;
    int64_t size = chip.hbm.bytes - low;
    out.constants.assign(size, 0);
    for (const auto& [a, bytes] : impl.const_blobs) std::copy(bytes.begin(), bytes.end(), out.constants.begin() + (a - low));
    isa::BufferDecl b;
    b.name = "constants";
    b.mem = isa::MemSpace::kHbm;
    b.shape = Shape(DType::kS8, {size});
    b.address = low;
    b.role = isa::BufferRole::kInput;
    em.program().buffers.push_back(b);
  }
  if (impl.arena.peak() > 0) {
    isa::BufferDecl b;
    b.name = "activations";
    b.mem = isa::MemSpace::kHbm;
    b.shape = Shape(DType::kS8, {impl.arena.peak()});
    b.address = impl.arena.base();
    b.role = isa::BufferRole::kScratch;
    em.program().buffers.push_back(b);
  }
  out.hbm_activation_bytes = impl.arena.peak();
  out.hbm_constant_bytes = impl.const_bytes;
  out.kernels = em.kernels();
  out.program = em.TakeProgram();
  return out;
}

}  // namespace xtpu::codegen
