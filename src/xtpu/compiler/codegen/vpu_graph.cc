// ElemGraph -> TileProgram: every IR elementwise op as vector-unit
// instructions (docs/compiler.md, "Vector-unit kernels", lists the mapping
// and which results are bit-exact).
#include "xtpu/compiler/codegen/vpu_graph.h"

#include <cstring>

#include "xtpu/support/check.h"

namespace xtpu::codegen {

using isa::BinOp;
using isa::UnOp;

uint32_t ScalarBits(const Literal& l) {
  XTPU_CHECK(l.num_elements() == 1);
  switch (l.dtype()) {
    case DType::kF32: {
      uint32_t u;
      std::memcpy(&u, l.bytes().data(), 4);
      return u;
    }
    case DType::kBF16: {
      uint16_t u;
      std::memcpy(&u, l.bytes().data(), 2);
      return u;
    }
    default: return static_cast<uint32_t>(static_cast<int32_t>(l.GetAsInt64(0)));
  }
}

namespace {

bool IsFloatT(DType t) { return t == DType::kF32 || t == DType::kBF16; }

constexpr int64_t kSignBit = 0x80000000ll;

class ProgramBuilder {
 public:
  ProgramBuilder(const ElemGraph& g, const std::vector<bool>& rows, const std::string& what)
      : g_(g), rows_(rows), what_(what), vals_(g.nodes.size()), uses_(g.nodes.size(), 0) {}

  StatusOr<TileProgram> Build();

 private:
  struct Val {
    bool is_const = false;
    uint32_t bits = 0;  // compute-dtype bits
    Loc loc;
    DType ct = DType::kF32;  // compute dtype
  };
  Status Lower(int id, bool final);
  Loc L(const Val& v) { return v.is_const ? b_.ConstRow(v.ct, v.bits) : v.loc; }
  bool Row(const Val& v) const { return v.is_const || v.loc.row; }
  int64_t Imm(const Val& v) const {
    return v.ct == DType::kBF16 ? static_cast<int64_t>(v.bits) << 16 : static_cast<int64_t>(v.bits);
  }
  Loc Dst(DType ct, bool row, bool final) {
    if (final && !row && ct == MemDType(g_.out_dtype)) return b_.Out(ct);
    return b_.Temp(ct, row);
  }
  // dst = a op b with constants as immediates where the op allows.
  void Bin(BinOp op, DType t, const Loc& dst, const Val& a, const Val& b);
  // Truncation toward zero of an f32 value (bits of x's sign kept).
  Loc TruncF32(const Loc& x, bool row);
  Loc ToF32(const Val& v);  // f32 copy of a bf16 value (or the value itself)
  Status Unsupported(const Instruction& inst, DType t) {
    return Unimplemented("{}: '{}' on {} is not supported by the vector unit", what_, OpcodeName(inst.opcode),
                         DTypeName(t));
  }

  const ElemGraph& g_;
  const std::vector<bool>& rows_;
  const std::string& what_;
  TileBuilder b_;
  std::vector<Val> vals_;
  std::vector<int> uses_;
};

void ProgramBuilder::Bin(BinOp op, DType t, const Loc& dst, const Val& a, const Val& b) {
  auto commutes = [](BinOp o) {
    return o == BinOp::kAdd || o == BinOp::kMul || o == BinOp::kMax || o == BinOp::kMin || o == BinOp::kAnd ||
           o == BinOp::kOr || o == BinOp::kXor || o == BinOp::kEq || o == BinOp::kNe;
  };
  auto flipped = [](BinOp o) {
    switch (o) {
      case BinOp::kLt: return BinOp::kGt;
      case BinOp::kLe: return BinOp::kGe;
      case BinOp::kGt: return BinOp::kLt;
      case BinOp::kGe: return BinOp::kLe;
      default: return o;
    }
  };
  bool is_cmp = op == BinOp::kLt || op == BinOp::kLe || op == BinOp::kGt || op == BinOp::kGe;
  if (b.is_const && !a.is_const) return b_.BinaryImm(op, t, dst, a.loc, Imm(b));
  if (a.is_const && !b.is_const && (commutes(op) || is_cmp)) return b_.BinaryImm(flipped(op), t, dst, b.loc, Imm(a));
  if (b.is_const) return b_.BinaryImm(op, t, dst, L(a), Imm(b));
  b_.Binary(op, t, dst, L(a), L(b));
}

Loc ProgramBuilder::TruncF32(const Loc& x, bool row) {
  Loc mag = b_.Temp(DType::kF32, row);
  b_.Unary(UnOp::kAbs, DType::kF32, mag, x);
  b_.Unary(UnOp::kFloor, DType::kF32, mag, mag);
  Loc sign = b_.Temp(DType::kS32, row);
  Loc xs = x;
  xs.dtype = DType::kS32;
  b_.BinaryImm(BinOp::kAnd, DType::kS32, sign, xs, kSignBit);
  Loc mag_s = mag;
  mag_s.dtype = DType::kS32;
  b_.Binary(BinOp::kOr, DType::kS32, mag_s, mag_s, sign);
  b_.Free(sign);
  return mag;
}

Loc ProgramBuilder::ToF32(const Val& v) {
  if (v.ct == DType::kF32) return L(v);
  Loc t = b_.Temp(DType::kF32, Row(v));
  b_.Convert(DType::kF32, DType::kBF16, t, L(v));
  return t;
}

Status ProgramBuilder::Lower(int id, bool final) {
  const ElemNode& n = g_.nodes[id];
  Val& out = vals_[id];
  out.ct = ComputeDType(n.dtype);
  if (n.kind == ElemNode::kConst) {
    out.is_const = true;
    out.bits = n.bits;
    return OkStatus();
  }
  if (n.kind == ElemNode::kInput) {
    const DType mem = g_.input_dtypes[n.input];
    Loc in = b_.In(n.input, mem, rows_[n.input]);
    if (mem == DType::kS8) {
      out.loc = b_.Temp(DType::kS32, in.row);
      b_.Convert(DType::kS32, DType::kS8, out.loc, in);
    } else {
      out.loc = in;
    }
    return OkStatus();
  }
  const Instruction& inst = *n.inst;
  std::vector<const Val*> ops;
  bool row = true;
  for (int o : n.operands) {
    ops.push_back(&vals_[o]);
    row = row && Row(vals_[o]);
  }
  const DType ot = ops.empty() ? n.dtype : ops[0]->ct;  // operand compute dtype
  const DType it = ops.empty() ? n.dtype : g_.nodes[n.operands[0]].dtype;  // operand IR dtype
  const DType ct = out.ct;
  const Opcode op = inst.opcode;
  // Integer results of s8 ops that can leave the s8 range wrap like the IR.
  auto wrap_s8 = [&](const Loc& d) {
    if (n.dtype != DType::kS8) return;
    b_.BinaryImm(BinOp::kShl, DType::kS32, d, d, 24);
    b_.BinaryImm(BinOp::kShr, DType::kS32, d, d, 24);
  };
  auto bin = [&](BinOp bop) {
    out.loc = Dst(ct, row, final);
    Bin(bop, ot, out.loc, *ops[0], *ops[1]);
  };
  auto una = [&](UnOp uop) {
    out.loc = Dst(ct, row, final);
    b_.Unary(uop, ot, out.loc, L(*ops[0]));
  };
  switch (op) {
    case Opcode::kCopy: una(UnOp::kCopy); break;
    case Opcode::kAbs:
    case Opcode::kNegate:
    case Opcode::kSign:
      if (it == DType::kPred) {
        una(op == Opcode::kNegate ? UnOp::kNeg : UnOp::kCopy);
        if (op == Opcode::kNegate) b_.BinaryImm(BinOp::kAnd, DType::kS32, out.loc, out.loc, 1);
      } else {
        una(op == Opcode::kAbs ? UnOp::kAbs : op == Opcode::kNegate ? UnOp::kNeg : UnOp::kSign);
        wrap_s8(out.loc);
      }
      break;
    case Opcode::kNot:
      if (IsFloatT(it)) return Unsupported(inst, it);
      out.loc = Dst(ct, row, final);
      b_.BinaryImm(BinOp::kXor, DType::kS32, out.loc, L(*ops[0]), it == DType::kPred ? 1 : -1);
      break;
    case Opcode::kExp:
    case Opcode::kLog:
    case Opcode::kTanh:
    case Opcode::kLogistic:
    case Opcode::kSqrt:
    case Opcode::kRsqrt:
    case Opcode::kErf:
    case Opcode::kFloor:
    case Opcode::kCeil:
    case Opcode::kRoundNearestEven:
    case Opcode::kCos:
    case Opcode::kSin: {
      if (!IsFloatT(it)) return Unsupported(inst, it);
      UnOp u = op == Opcode::kExp        ? UnOp::kExp
               : op == Opcode::kLog      ? UnOp::kLog
               : op == Opcode::kTanh     ? UnOp::kTanh
               : op == Opcode::kLogistic ? UnOp::kLogistic
               : op == Opcode::kSqrt     ? UnOp::kSqrt
               : op == Opcode::kRsqrt    ? UnOp::kRsqrt
               : op == Opcode::kErf      ? UnOp::kErf
               : op == Opcode::kFloor    ? UnOp::kFloor
               : op == Opcode::kCeil     ? UnOp::kCeil
               : op == Opcode::kCos      ? UnOp::kCos
               : op == Opcode::kSin      ? UnOp::kSin
                                         : UnOp::kRoundEven;
      una(u);
      break;
    }
    case Opcode::kRoundNearestAfz: {
      // round(x) = copysign(floor(|x|) + (|x| - floor(|x|) >= 0.5), x), exact in f32.
      if (!IsFloatT(it)) return Unsupported(inst, it);
      Loc x = ToF32(*ops[0]);
      Loc a = b_.Temp(DType::kF32, row), t = b_.Temp(DType::kF32, row);
      b_.Unary(UnOp::kAbs, DType::kF32, a, x);
      b_.Unary(UnOp::kFloor, DType::kF32, t, a);
      b_.Binary(BinOp::kSub, DType::kF32, a, a, t);
      b_.BinaryImm(BinOp::kGe, DType::kF32, a, a, F32Bits(0.5f));
      b_.Binary(BinOp::kAdd, DType::kF32, t, t, a);
      Loc as = a, ts = t, xs = x;
      as.dtype = ts.dtype = xs.dtype = DType::kS32;
      b_.BinaryImm(BinOp::kAnd, DType::kS32, as, xs, kSignBit);
      if (x.kind == LocKind::kTemp && x.index != L(*ops[0]).index) b_.Free(x);
      if (ct == DType::kF32) {
        out.loc = Dst(ct, row, final);
        Loc os = out.loc;
        os.dtype = DType::kS32;
        b_.Binary(BinOp::kOr, DType::kS32, os, ts, as);
      } else {
        b_.Binary(BinOp::kOr, DType::kS32, ts, ts, as);
        out.loc = Dst(ct, row, final);
        b_.Convert(DType::kBF16, DType::kF32, out.loc, t);
      }
      b_.Free(a);
      b_.Free(t);
      break;
    }
    case Opcode::kAdd:
    case Opcode::kSubtract:
    case Opcode::kMultiply:
    case Opcode::kMaximum:
    case Opcode::kMinimum:
    case Opcode::kAnd:
    case Opcode::kOr:
    case Opcode::kXor:
    case Opcode::kDivide:
    case Opcode::kRemainder:
    case Opcode::kPower:
    case Opcode::kAtan2: {
      BinOp bop;
      if (it == DType::kPred) {
        if (op == Opcode::kAnd || op == Opcode::kMinimum || op == Opcode::kMultiply) bop = BinOp::kAnd;
        else if (op == Opcode::kOr || op == Opcode::kMaximum || op == Opcode::kAdd) bop = BinOp::kOr;
        else if (op == Opcode::kXor) bop = BinOp::kXor;
        else return Unsupported(inst, it);
      } else {
        const bool fl = IsFloatT(it);
        switch (op) {
          case Opcode::kAdd: bop = BinOp::kAdd; break;
          case Opcode::kSubtract: bop = BinOp::kSub; break;
          case Opcode::kMultiply: bop = BinOp::kMul; break;
          case Opcode::kMaximum: bop = BinOp::kMax; break;
          case Opcode::kMinimum: bop = BinOp::kMin; break;
          case Opcode::kRemainder: bop = BinOp::kRem; break;
          case Opcode::kAnd: bop = BinOp::kAnd; break;
          case Opcode::kOr: bop = BinOp::kOr; break;
          case Opcode::kXor: bop = BinOp::kXor; break;
          case Opcode::kDivide: bop = BinOp::kDiv; break;
          case Opcode::kPower: bop = BinOp::kPow; break;
          default: bop = BinOp::kAtan2; break;
        }
        const bool bitwise = bop == BinOp::kAnd || bop == BinOp::kOr || bop == BinOp::kXor;
        const bool float_only = bop == BinOp::kDiv || bop == BinOp::kPow || bop == BinOp::kAtan2;
        if ((fl && bitwise) || (!fl && float_only)) return Unsupported(inst, it);
      }
      bin(bop);
      if (bop == BinOp::kAdd || bop == BinOp::kSub || bop == BinOp::kMul) wrap_s8(out.loc);
      break;
    }
    case Opcode::kCompare: {
      static constexpr BinOp kDir[] = {BinOp::kEq, BinOp::kNe, BinOp::kLt, BinOp::kLe, BinOp::kGt, BinOp::kGe};
      const BinOp bop = kDir[static_cast<int>(inst.direction)];
      if (!IsFloatT(ot)) {
        bin(bop);
        break;
      }
      // 1.0/0.0 in the operand type, then to a 0/1 word.
      Loc c = b_.Temp(ot, row);
      Bin(bop, ot, c, *ops[0], *ops[1]);
      if (ot == DType::kBF16) {
        Loc f = b_.Temp(DType::kF32, row);
        b_.Convert(DType::kF32, DType::kBF16, f, c);
        b_.Free(c);
        c = f;
      }
      out.loc = Dst(ct, row, final);
      b_.Convert(DType::kS32, DType::kF32, out.loc, c);
      b_.Free(c);
      break;
    }
    case Opcode::kSelect: {
      row = Row(*ops[0]) && Row(*ops[1]) && Row(*ops[2]);
      out.loc = Dst(ct, row, final);
      b_.Select(ct, out.loc, L(*ops[0]), L(*ops[1]), L(*ops[2]));
      break;
    }
    case Opcode::kClamp: {
      // maximum(x, lo) then minimum(., hi), as the evaluator.
      const Val& lo = *ops[0];
      const Val& x = *ops[1];
      const Val& hi = *ops[2];
      if (it == DType::kPred) return Unsupported(inst, it);
      Val t;
      t.ct = ct;
      t.loc = b_.Temp(ct, Row(lo) && Row(x));
      Bin(BinOp::kMax, ct, t.loc, x, lo);
      out.loc = Dst(ct, row, final);
      Bin(BinOp::kMin, ct, out.loc, t, hi);
      b_.Free(t.loc);
      break;
    }
    case Opcode::kConvert: {
      const DType from = it, to = n.dtype;
      const Val& x = *ops[0];
      if (from == to || (ComputeDType(from) == DType::kS32 && (to == DType::kS32 || (to == DType::kS8 && from != DType::kS32)))) {
        una(UnOp::kCopy);
        break;
      }
      if (to == DType::kPred) {
        Loc c = b_.Temp(ot, row);
        Bin(BinOp::kNe, ot, c, x, Val{true, 0, {}, ot});
        if (IsFloatT(ot)) {
          Val cv;
          cv.ct = ot;
          cv.loc = c;
          Loc f = ToF32(cv);
          out.loc = Dst(ct, row, final);
          b_.Convert(DType::kS32, DType::kF32, out.loc, f);
          if (f.index != c.index || f.kind != c.kind) b_.Free(f);
          b_.Free(c);
        } else {
          out.loc = c;
        }
        break;
      }
      if (IsFloatT(from)) {
        if (IsFloatT(to)) {
          out.loc = Dst(ct, row, final);
          b_.Convert(to, from, out.loc, L(x));
          break;
        }
        // float -> integer: truncate toward zero, then the saturating convert.
        Loc f = ToF32(x);
        Loc t = TruncF32(f, row);
        if (f.kind == LocKind::kTemp && !(x.loc.kind == LocKind::kTemp && x.loc.index == f.index)) b_.Free(f);
        out.loc = Dst(ct, row, final);
        b_.Convert(DType::kS32, DType::kF32, out.loc, t);
        b_.Free(t);
        if (to == DType::kS8) {
          b_.BinaryImm(BinOp::kMax, DType::kS32, out.loc, out.loc, -128);
          b_.BinaryImm(BinOp::kMin, DType::kS32, out.loc, out.loc, 127);
        }
        break;
      }
      // From an s32-held integer or pred.
      if (to == DType::kS8) {  // from s32: keep the low 8 bits
        una(UnOp::kCopy);
        wrap_s8(out.loc);
        break;
      }
      if (to == DType::kF32) {
        out.loc = Dst(ct, row, final);
        b_.Convert(DType::kF32, DType::kS32, out.loc, L(x));
        break;
      }
      if (to == DType::kBF16) {
        Loc f = b_.Temp(DType::kF32, row);
        b_.Convert(DType::kF32, DType::kS32, f, L(x));
        out.loc = Dst(ct, row, final);
        b_.Convert(DType::kBF16, DType::kF32, out.loc, f);
        b_.Free(f);
        break;
      }
      return Unsupported(inst, from);
    }
    default: return Unsupported(inst, it);
  }
  return OkStatus();
}

StatusOr<TileProgram> ProgramBuilder::Build() {
  for (const ElemNode& n : g_.nodes)
    for (int o : n.operands) ++uses_[o];
  for (int id = 0; id < static_cast<int>(g_.nodes.size()); ++id) {
    if (id != g_.root && uses_[id] == 0) continue;  // dead
    RETURN_IF_ERROR(Lower(id, id == g_.root));
    for (int o : g_.nodes[id].operands)
      if (--uses_[o] == 0 && !vals_[o].is_const) b_.Free(vals_[o].loc);
  }
  // The result into the output tile (in its memory dtype).
  const Val& r = vals_[g_.root];
  const DType mt = MemDType(g_.out_dtype);
  if (r.is_const || r.loc.kind != LocKind::kOut) {
    Loc out = b_.Out(mt);
    if (mt == DType::kS8) b_.Convert(DType::kS8, DType::kS32, out, L(r));
    else b_.Unary(UnOp::kCopy, mt, out, L(r));
  }
  return b_.Finish();
}

}  // namespace

StatusOr<TileProgram> BuildElementwiseProgram(const ElemGraph& g, const std::vector<bool>& row_inputs,
                                              const std::string& what) {
  ProgramBuilder b(g, row_inputs, what);
  return b.Build();
}

}  // namespace xtpu::codegen
