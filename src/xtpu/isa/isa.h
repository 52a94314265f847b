// The xtpu instruction set, declared once in XTPU_ISA: every opcode with its
// mnemonic, unit, operand fields (kind and default), a one-line summary and
// its semantics as a reference loop nest. The encoder, decoder, assembler,
// disassembler and the reference section of docs/isa.md are generated from
// this table (see isa.cc for the table's operand lists).
//
// Model (see docs/isa.md): per core one instruction stream, read by the scalar
// sequencer. Sequencer instructions (set/add/loop/...) run in the sequencer;
// every other instruction is dispatched, with its operands resolved to
// values, into the in-order queue of its unit (dmaN, mxuN, vpu, xluN). Any
// instruction may wait on one semaphore before it starts and signal one when
// it completes.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "xtpu/ir/dtype.h"
#include "xtpu/ir/shape.h"
#include "xtpu/support/status.h"

namespace xtpu::isa {

// Functional unit classes. Dma, Mxu and Xlu have several instances per core,
// selected by Instruction::unit; Seq and Vpu have one.
enum class UnitKind : uint8_t { kSeq, kDma, kMxu, kVpu, kXlu };
std::string_view UnitKindName(UnitKind u);  // "seq", "dma", ...
inline bool UnitIsIndexed(UnitKind u) {
  return u == UnitKind::kDma || u == UnitKind::kMxu || u == UnitKind::kXlu;
}

// How an operand is written and encoded.
//   kVal    register + signed immediate ("r3+4096", "r3", "-8"): 8-bit
//           register field (0 = none, else index+1) + 40-bit two's complement
//           immediate. Resolved to a 64-bit value when dispatched.
//   kReg    a scalar register ("r5"), 8 bits.
//   kSem    a semaphore ("s2"), 16 bits.
//   kFlag   0 or 1, 1 bit.
//   kDType  element type: f32, bf16, s32, s8 (8 bits).
//   kBinOp / kUnOp / kRedOp / kBMode: enumerations below (8 bits).
//   kImm32  32 raw bits; written as a float if the instruction's dtype is
//           f32/bf16, else as an integer.
//   kF32    an f32 immediate (32 bits).
//   kInt    a signed 32-bit constant, no register ("512", "4*N"): sizes and
//           strides of vpu.select, whose eleven operands would not fit in
//           64 bytes as kVal.
enum class OperandKind : uint8_t { kVal, kReg, kSem, kFlag, kDType, kBinOp, kUnOp, kRedOp, kBMode, kImm32, kF32, kInt };
int OperandBits(OperandKind k);
inline constexpr int kValImmBits = 40;

// VPU elementwise binary operations. New ones are appended so that encoded
// programs keep their meaning. Comparisons give 1 or 0 in the instruction's
// dtype (1.0f / 0.0f for f32 and bf16).
#define XTPU_BINOPS(V)                                                                               \
  V(kAdd, "add") V(kSub, "sub") V(kMul, "mul") V(kDiv, "div") V(kMax, "max") V(kMin, "min")          \
  V(kAnd, "and") V(kOr, "or") V(kXor, "xor") V(kShl, "shl") V(kShr, "shr")                           \
  V(kEq, "eq") V(kNe, "ne") V(kLt, "lt") V(kLe, "le") V(kGt, "gt") V(kGe, "ge")                      \
  V(kPow, "pow") V(kRem, "rem") V(kAtan2, "atan2")
// VPU elementwise unary operations (new ones appended, as above).
#define XTPU_UNOPS(V)                                                                          \
  V(kCopy, "copy") V(kNeg, "neg") V(kAbs, "abs") V(kRelu, "relu") V(kExp, "exp") V(kLog, "log") \
  V(kTanh, "tanh") V(kSqrt, "sqrt") V(kRsqrt, "rsqrt") V(kRecip, "recip") V(kErf, "erf")         \
  V(kFloor, "floor") V(kCeil, "ceil") V(kRoundEven, "round_even") V(kSign, "sign")               \
  V(kLogistic, "logistic") V(kSin, "sin") V(kCos, "cos")
// Reductions (VPU across sublanes/rows, XLU across lanes/columns).
#define XTPU_REDOPS(V) V(kSum, "sum") V(kMax, "max") V(kMin, "min")
// How vpu.binary reads its b operand: a tile b[r][c], or a column vector
// b[r][0] broadcast along each row. (A row vector is b_stride=0.)
#define XTPU_BMODES(V) V(kTile, "tile") V(kCol, "col")

#define XTPU_ENUM_ENTRY(e, name) e,
enum class BinOp : uint8_t { XTPU_BINOPS(XTPU_ENUM_ENTRY) };
enum class UnOp : uint8_t { XTPU_UNOPS(XTPU_ENUM_ENTRY) };
enum class RedOp : uint8_t { XTPU_REDOPS(XTPU_ENUM_ENTRY) };
enum class BMode : uint8_t { XTPU_BMODES(XTPU_ENUM_ENTRY) };
#undef XTPU_ENUM_ENTRY

// The ISA table. V(enum, mnemonic, unit, summary, loop nest, operands...)
// Operands (in encoding and positional order): REQ(name, kind) is required,
// OPT(name, kind, default) may be omitted. Required operands come first.
// In the loop nests, addresses are byte addresses; X[a] of type T means the
// element of type T at byte address a of memory X; esz = bytes of dtype.
// clang-format off
#define XTPU_ISA(V)                                                                                   \
  /* ---- scalar sequencer ---- */                                                                   \
  V(kNop, "nop", kSeq, "No operation in the sequencer (use with wait=/signal= to synchronize)",        \
    "wait(wait); signal(signal)")                                                                      \
  V(kHalt, "halt", kSeq, "Stop dispatching; the program ends when every unit's queue has drained",     \
    "stop fetching; the run completes when all queues are empty")                                      \
  V(kSet, "set", kSeq, "rd = v", "rd = v", REQ(rd, kReg), REQ(v, kVal))                                \
  V(kAdd, "add", kSeq, "rd = ra + v (64-bit, wrapping)", "rd = ra + v", REQ(rd, kReg), REQ(ra, kReg), REQ(v, kVal)) \
  V(kSub, "sub", kSeq, "rd = ra - v (64-bit, wrapping)", "rd = ra - v", REQ(rd, kReg), REQ(ra, kReg), REQ(v, kVal)) \
  V(kMul, "mul", kSeq, "rd = ra * v (64-bit, wrapping)", "rd = ra * v", REQ(rd, kReg), REQ(ra, kReg), REQ(v, kVal)) \
  V(kLd, "ld", kSeq, "Load 8 bytes from scalar memory", "rd = SMEM[addr] as s64", REQ(rd, kReg), REQ(addr, kVal)) \
  V(kSt, "st", kSeq, "Store 8 bytes to scalar memory", "SMEM[addr] as s64 = rs", REQ(rs, kReg), REQ(addr, kVal)) \
  V(kLoop, "loop", kSeq, "Counted loop: run the body up to the matching endloop `count` times with rc = 0, 1, ..., count-1", \
    "rc = 0\nfor i in [0, count):  # count <= 0: body skipped\n  rc = i; body", REQ(rc, kReg), REQ(count, kVal)) \
  V(kEndLoop, "endloop", kSeq, "End of the innermost loop body", "i += 1   # the loop's hidden trip counter\nif i < count: rc = i; jump to the first instruction of the body\nelse: leave the loop (rc keeps count-1)") \
  V(kSemAdd, "sem.add", kSeq, "Add n to a semaphore when dispatched (e.g. to pre-credit free buffers)", \
    "S[sem] += n", REQ(sem, kSem), OPT(n, kVal, 1))                                                    \
  /* ---- DMA engines ---- */                                                                        \
  V(kDmaLoad, "dma.load", kDma, "Strided copy HBM -> this core's VMEM (up to 3D)",                   \
    "for i2 in [0, n2):\n  for i1 in [0, n1):\n    for b in [0, bytes):\n      VMEM[dst + i2*ds2 + i1*ds1 + b] = HBM[src + i2*ss2 + i1*ss1 + b]", \
    REQ(dst, kVal), REQ(src, kVal), REQ(bytes, kVal), OPT(n1, kVal, 1), OPT(ds1, kVal, 0), OPT(ss1, kVal, 0), \
    OPT(n2, kVal, 1), OPT(ds2, kVal, 0), OPT(ss2, kVal, 0))                                             \
  V(kDmaStore, "dma.store", kDma, "Strided copy this core's VMEM -> HBM (up to 3D)",                 \
    "for i2 in [0, n2):\n  for i1 in [0, n1):\n    for b in [0, bytes):\n      HBM[dst + i2*ds2 + i1*ds1 + b] = VMEM[src + i2*ss2 + i1*ss1 + b]", \
    REQ(dst, kVal), REQ(src, kVal), REQ(bytes, kVal), OPT(n1, kVal, 1), OPT(ds1, kVal, 0), OPT(ss1, kVal, 0), \
    OPT(n2, kVal, 1), OPT(ds2, kVal, 0), OPT(ss2, kVal, 0))                                             \
  V(kDmaCopy, "dma.copy", kDma, "Strided copy VMEM -> VMEM within a core (up to 3D); regions must not overlap", \
    "for i2 in [0, n2):\n  for i1 in [0, n1):\n    for b in [0, bytes):\n      VMEM[dst + i2*ds2 + i1*ds1 + b] = VMEM[src + i2*ss2 + i1*ss1 + b]", \
    REQ(dst, kVal), REQ(src, kVal), REQ(bytes, kVal), OPT(n1, kVal, 1), OPT(ds1, kVal, 0), OPT(ss1, kVal, 0), \
    OPT(n2, kVal, 1), OPT(ds2, kVal, 0), OPT(ss2, kVal, 0))                                             \
  V(kDmaNop, "dma.nop", kDma, "No operation in a DMA queue (synchronization only)", "wait(wait); signal(signal)") \
  /* ---- matrix units ---- */                                                                       \
  V(kMxuLoadWeights, "mxu.load_weights", kMxu, "Load a k x n weight tile from VMEM; later matmuls of this MXU use it", \
    "W = zeros(mxu.rows, mxu.cols); K = k; N = n\nfor i in [0, k):\n  for j in [0, n):\n    W[i][j] = VMEM[src + i*stride + j*esz] as dtype", \
    REQ(src, kVal), REQ(stride, kVal), REQ(k, kVal), REQ(n, kVal), OPT(dtype, kDType, kBF16))               \
  V(kMxuFetchWeights, "mxu.fetch_weights", kMxu, "Load a weight tile from HBM through the weight FIFO (chips with weight_fifo.depth > 0)", \
    "as mxu.load_weights, reading HBM instead of VMEM", \
    REQ(src, kVal), REQ(stride, kVal), REQ(k, kVal), REQ(n, kVal), OPT(dtype, kDType, kBF16))               \
  V(kMxuMatmul, "mxu.matmul", kMxu, "Stream m LHS rows of K values through the array; write or add the products into accumulator rows", \
    "for r in [0, m):\n  for j in [0, N):\n    s = +0.0 (0 for s8)\n    for i in [0, K):        # increasing i, one PE per step\n      s = fma(VMEM[lhs + r*stride + i*esz] as dtype, W[i][j], s)\n    ACC[acc + r][j] = accumulate != 0 ? ACC[acc + r][j] + s : s", \
    REQ(lhs, kVal), REQ(stride, kVal), REQ(m, kVal), REQ(acc, kVal), OPT(accumulate, kVal, 0), OPT(dtype, kDType, kBF16)) \
  V(kMxuReadAcc, "mxu.read_acc", kMxu, "Copy m x n accumulator values to VMEM, converting to dtype", \
    "for r in [0, m):\n  for j in [0, n):\n    VMEM[dst + r*stride + j*esz] as dtype = convert(ACC[acc + r][j])", \
    REQ(dst, kVal), REQ(stride, kVal), REQ(acc, kVal), REQ(m, kVal), REQ(n, kVal), OPT(dtype, kDType, kF32)) \
  V(kMxuNop, "mxu.nop", kMxu, "No operation in an MXU queue (synchronization only)", "wait(wait); signal(signal)") \
  /* ---- vector unit ---- */                                                                        \
  V(kVpuBinary, "vpu.binary", kVpu, "Elementwise dst = a op b over a rows x cols tile", \
    "for r in [0, rows):\n  for c in [0, cols):\n    bc = bmode == col ? 0 : c\n    VMEM[dst + r*ds + c*esz] = op(VMEM[a + r*as + c*esz], VMEM[b + r*bs + bc*esz])", \
    REQ(op, kBinOp), REQ(dtype, kDType), REQ(dst, kVal), REQ(a, kVal), REQ(b, kVal), REQ(rows, kVal), REQ(cols, kVal), \
    REQ(ds, kVal), REQ(as, kVal), REQ(bs, kVal), OPT(bmode, kBMode, 0))                          \
  V(kVpuBinaryImm, "vpu.binary_imm", kVpu, "Elementwise dst = a op imm over a rows x cols tile", \
    "for r in [0, rows):\n  for c in [0, cols):\n    VMEM[dst + r*ds + c*esz] = op(VMEM[a + r*as + c*esz], imm)", \
    REQ(op, kBinOp), REQ(dtype, kDType), REQ(dst, kVal), REQ(a, kVal), REQ(imm, kImm32), REQ(rows, kVal), REQ(cols, kVal), \
    REQ(ds, kVal), REQ(as, kVal))                                                                \
  V(kVpuUnary, "vpu.unary", kVpu, "Elementwise dst = op(a) over a rows x cols tile", \
    "for r in [0, rows):\n  for c in [0, cols):\n    VMEM[dst + r*ds + c*esz] = op(VMEM[a + r*as + c*esz])", \
    REQ(op, kUnOp), REQ(dtype, kDType), REQ(dst, kVal), REQ(a, kVal), REQ(rows, kVal), REQ(cols, kVal), \
    REQ(ds, kVal), REQ(as, kVal))                                                                \
  V(kVpuReduce, "vpu.reduce", kVpu, "Reduce a rows x cols tile across rows (sublanes) into one row", \
    "for c in [0, cols):\n  s = VMEM[src + c*esz]\n  for r in [1, rows):     # increasing r\n    s = op(s, VMEM[src + r*ss + c*esz])\n  VMEM[dst + c*esz] = s", \
    REQ(op, kRedOp), REQ(dtype, kDType), REQ(dst, kVal), REQ(src, kVal), REQ(rows, kVal), REQ(cols, kVal), REQ(ss, kVal)) \
  V(kVpuConvert, "vpu.convert", kVpu, "Elementwise type conversion (f32<->bf16, s32<->f32, s8<->s32)", \
    "for r in [0, rows):\n  for c in [0, cols):\n    VMEM[dst + r*ds + c*dsz] as to = convert(VMEM[src + r*ss + c*ssz] as from)", \
    REQ(to, kDType), REQ(from, kDType), REQ(dst, kVal), REQ(src, kVal), REQ(rows, kVal), REQ(cols, kVal), \
    REQ(ds, kVal), REQ(ss, kVal))                                                                \
  V(kVpuRequant, "vpu.requant", kVpu, "int8 requantization: s8 = saturate(round_half_even(s32 * scale) + zero_point)", \
    "for r in [0, rows):\n  for c in [0, cols):\n    x = double(VMEM[src + r*ss + 4*c] as s32) * double(scale)\n    VMEM[dst + r*ds + c] as s8 = clamp(round_half_even(x) + zero_point, -128, 127)", \
    REQ(dst, kVal), REQ(src, kVal), REQ(scale, kF32), REQ(rows, kVal), REQ(cols, kVal), REQ(ds, kVal), \
    REQ(ss, kVal), OPT(zero_point, kVal, 0))                                                                \
  V(kVpuNop, "vpu.nop", kVpu, "No operation in the VPU queue (synchronization only)", "wait(wait); signal(signal)") \
  /* ---- cross-lane unit ---- */                                                                    \
  V(kXluTranspose, "xlu.transpose", kXlu, "Transpose a rows x cols tile (dst is cols x rows); regions must not overlap", \
    "for r in [0, rows):\n  for c in [0, cols):\n    VMEM[dst + c*ds + r*esz] = VMEM[src + r*ss + c*esz]", \
    REQ(dtype, kDType), REQ(dst, kVal), REQ(src, kVal), REQ(rows, kVal), REQ(cols, kVal), REQ(ds, kVal), REQ(ss, kVal)) \
  V(kXluReduce, "xlu.reduce", kXlu, "Reduce each row of a rows x cols tile across lanes into one value per row", \
    "for r in [0, rows):\n  s = VMEM[src + r*ss]\n  for c in [1, cols):     # increasing c\n    s = op(s, VMEM[src + r*ss + c*esz])\n  VMEM[dst + r*ds] = s", \
    REQ(op, kRedOp), REQ(dtype, kDType), REQ(dst, kVal), REQ(src, kVal), REQ(rows, kVal), REQ(cols, kVal), \
    REQ(ds, kVal), REQ(ss, kVal))                                                                \
  V(kXluPermute, "xlu.permute", kXlu, "Permute (gather) lanes: dst[r][c] = src[r][idx[c]] with idx an s32 vector in VMEM", \
    "for r in [0, rows):\n  for c in [0, cols):\n    p = VMEM[idx + 4*c] as s32     # fault unless 0 <= p < cols\n    VMEM[dst + r*ds + c*esz] = VMEM[src + r*ss + p*esz]", \
    REQ(dtype, kDType), REQ(dst, kVal), REQ(src, kVal), REQ(idx, kVal), REQ(rows, kVal), REQ(cols, kVal), \
    REQ(ds, kVal), REQ(ss, kVal))                                                                \
  V(kXluNop, "xlu.nop", kXlu, "No operation in an XLU queue (synchronization only)", "wait(wait); signal(signal)") \
  /* ---- appended later (opcodes keep their numbers) ---- */                                        \
  V(kBarrier, "barrier", kSeq, "Chip-wide barrier: the sequencer stops at its n-th barrier until every core's sequencer has reached its n-th barrier", \
    "wait(wait)\nn = number of barriers this core has passed\nstop until every core with a program has reached its barrier n\nsignal(signal)\n# a core that halts while another waits at a barrier is a deadlock")                                                                                             \
  V(kDmaGather, "dma.gather", kDma, "Gather rows HBM -> VMEM by an s32 index vector in VMEM (embedding lookup)", \
    "for i in [0, rows):\n  p = VMEM[idx + 4*i] as s32     # fault unless 0 <= p < limit\n  for b in [0, bytes):\n    VMEM[dst + i*bytes + b] = HBM[src + p*stride + b]\n# every row src + q*stride, q in [0, limit), must lie in HBM", \
    REQ(dst, kVal), REQ(src, kVal), REQ(idx, kVal), REQ(rows, kVal), REQ(bytes, kVal), REQ(stride, kVal), REQ(limit, kVal)) \
  V(kVpuSelect, "vpu.select", kVpu, "Elementwise dst = p != 0 ? a : b with p a tile of 32-bit words (bits of a, b copied unchanged)", \
    "for r in [0, rows):\n  for c in [0, cols):\n    t = VMEM[p + r*ps + 4*c] as u32 != 0\n    VMEM[dst + r*ds + c*esz] = t ? VMEM[a + r*as + c*esz] : VMEM[b + r*bs + c*esz]", \
    REQ(dtype, kDType), REQ(dst, kVal), REQ(p, kVal), REQ(a, kVal), REQ(b, kVal), REQ(rows, kInt), REQ(cols, kInt), \
    REQ(ds, kInt), REQ(ps, kInt), REQ(as, kInt), REQ(bs, kInt))
// clang-format on

enum class Opcode : uint8_t {
#define XTPU_ISA_ENUM(e, ...) e,
  XTPU_ISA(XTPU_ISA_ENUM)
#undef XTPU_ISA_ENUM
};

inline constexpr int kMaxOperands = 12;

struct OperandSpec {
  std::string_view name;
  OperandKind kind = OperandKind::kVal;
  bool required = true;
  int64_t default_value = 0;
};

struct OpInfo {
  Opcode opcode;
  std::string_view mnemonic;  // "dma.load"
  UnitKind unit;
  std::string_view summary;
  std::string_view semantics;  // reference loop nest
  std::array<OperandSpec, kMaxOperands> operands;
  int num_operands;
  int Find(std::string_view name) const;  // operand index or -1
};

int NumOpcodes();
// XTPU_CHECKs that `op` is valid; use FindOpcode for untrusted input.
const OpInfo& GetOpInfo(Opcode op);
std::optional<Opcode> FindOpcode(std::string_view mnemonic);
bool IsValidOpcode(int value);

// Names of enumeration operand values ("add", "f32", "tile"); the kind is one
// of kBinOp, kUnOp, kRedOp, kBMode, kDType, kFlag.
std::string_view EnumValueName(OperandKind kind, int64_t value);  // "" if out of range
std::optional<int64_t> ParseEnumValue(OperandKind kind, std::string_view name);
int64_t EnumValueCount(OperandKind kind);
// Bytes per element of the dtypes instructions take (f32, s32: 4; bf16: 2; s8: 1).
int ElementBytes(DType t);

// An operand value: `imm`, plus register `reg` if reg >= 0 (kVal), or just
// `imm` (register index for kReg, semaphore index for kSem, enum value, raw
// bits for kImm32/kF32).
struct Operand {
  int16_t reg = -1;
  int64_t imm = 0;
  bool operator==(const Operand& o) const { return reg == o.reg && imm == o.imm; }
};

struct Instruction {
  Opcode opcode = Opcode::kNop;
  uint8_t unit = 0;     // instance of dma/mxu/xlu; 0 for seq and vpu
  int32_t wait = -1;    // semaphore waited on before starting, or -1
  int32_t signal = -1;  // semaphore signalled on completion, or -1
  std::array<Operand, kMaxOperands> ops{};
  int line = 0;  // assembly source line (debug info; not encoded, not compared)

  const OpInfo& info() const { return GetOpInfo(opcode); }
  // Operand by name; XTPU_CHECKs that it exists.
  const Operand& op(std::string_view name) const;
  bool operator==(const Instruction& o) const {
    return opcode == o.opcode && unit == o.unit && wait == o.wait && signal == o.signal && ops == o.ops;
  }
};

// Memory spaces that buffers live in.
enum class MemSpace : uint8_t { kHbm, kVmem };
// What a buffer is for: inputs are set by the host (or seeded randomly),
// outputs are read back.
enum class BufferRole : uint8_t { kScratch, kInput, kOutput, kInOut };
std::string_view BufferRoleName(BufferRole r);

// `.buffer name hbm bf16[256,256] input at 0x0` — a named, typed region, so
// that the host can set inputs and read outputs (and .npy I/O knows shapes).
struct BufferDecl {
  std::string name;
  MemSpace mem = MemSpace::kHbm;
  int core = 0;  // for vmem
  Shape shape;
  int64_t address = 0;
  BufferRole role = BufferRole::kScratch;
  bool operator==(const BufferDecl& o) const {
    return name == o.name && mem == o.mem && core == o.core && shape == o.shape && address == o.address &&
           role == o.role;
  }
};

struct Program {
  std::vector<BufferDecl> buffers;
  std::vector<std::vector<Instruction>> cores;  // one stream per core
  std::string source_name;                      // file it came from (not compared)
  bool operator==(const Program& o) const { return buffers == o.buffers && cores == o.cores; }
  const BufferDecl* FindBuffer(std::string_view name) const;
  int64_t num_instructions() const;
};

// Static checks that need no chip: operand ranges and enum values, dtype and
// op combinations, unit index 0 for seq/vpu. `where` prefixes errors.
Status ValidateInstruction(const Instruction& inst, const std::string& where);
// ValidateInstruction on every instruction, loops nest properly (depth <=
// kMaxLoopDepth), buffer declarations are sane and do not overlap.
Status ValidateProgram(const Program& program);
inline constexpr int kMaxLoopDepth = 16;

// For each pc, the pc of the matching endloop (for loop) or loop (for
// endloop), -1 elsewhere. Requires a validated stream.
std::vector<int> MatchLoops(const std::vector<Instruction>& stream);

// The generated reference section of docs/isa.md: encoding, operand kinds,
// and per instruction its unit, operands and semantics loop nest. A unit
// test checks that docs/isa.md contains exactly this text.
std::string IsaReferenceMarkdown();

// Unit instance name: "seq", "vpu", "dma1", "mxu0".
std::string UnitName(UnitKind kind, int index);

}  // namespace xtpu::isa
