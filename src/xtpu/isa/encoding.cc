// Encoder and decoder of instructions and program files (see encoding.h).
#include "xtpu/isa/encoding.h"

#include <bit>
#include <cctype>
#include <cstring>

#include "xtpu/support/check.h"

namespace xtpu::isa {
namespace {

constexpr int kHeaderBits = 64;

void PutBits(uint8_t* buf, int pos, int width, uint64_t value) {
  for (int i = 0; i < width; ++i, ++pos)
    if ((value >> i) & 1) buf[pos >> 3] |= static_cast<uint8_t>(1u << (pos & 7));
}

uint64_t GetBits(const uint8_t* buf, int pos, int width) {
  uint64_t v = 0;
  for (int i = 0; i < width; ++i, ++pos)
    if ((buf[pos >> 3] >> (pos & 7)) & 1) v |= uint64_t{1} << i;
  return v;
}

int64_t SignExtend(uint64_t v, int bits) {
  uint64_t m = uint64_t{1} << (bits - 1);
  return static_cast<int64_t>((v ^ m) - m);
}

// Sum of operand widths of `info`; the table must fit kInstructionBytes.
int OperandsEnd(const OpInfo& info) {
  int pos = kHeaderBits;
  for (int i = 0; i < info.num_operands; ++i) pos += OperandBits(info.operands[i].kind);
  return pos;
}

class Writer {
 public:
  void U8(uint8_t v) { s_.push_back(static_cast<char>(v)); }
  void U16(uint16_t v) { Raw(&v, 2); }
  void U32(uint32_t v) { Raw(&v, 4); }
  void I64(int64_t v) { Raw(&v, 8); }
  void Raw(const void* p, size_t n) { s_.append(static_cast<const char*>(p), n); }
  std::string Take() { return std::move(s_); }

 private:
  std::string s_;  // little-endian hosts only (checked in Encode)
};

class Reader {
 public:
  explicit Reader(std::string_view s) : s_(s) {}
  Status Need(size_t n, std::string_view what) {
    if (s_.size() - pos_ < n)
      return Error("program binary truncated at byte {} reading {}", pos_, what);
    return OkStatus();
  }
  template <typename T>
  StatusOr<T> Get(std::string_view what) {
    RETURN_IF_ERROR(Need(sizeof(T), what));
    T v;
    std::memcpy(&v, s_.data() + pos_, sizeof(T));
    pos_ += sizeof(T);
    return v;
  }
  StatusOr<std::string_view> Bytes(size_t n, std::string_view what) {
    RETURN_IF_ERROR(Need(n, what));
    std::string_view v = s_.substr(pos_, n);
    pos_ += n;
    return v;
  }
  size_t remaining() const { return s_.size() - pos_; }
  size_t pos() const { return pos_; }

 private:
  std::string_view s_;
  size_t pos_ = 0;
};

}  // namespace

void EncodeInstruction(const Instruction& inst, uint8_t out[kInstructionBytes]) {
  std::memset(out, 0, kInstructionBytes);
  const OpInfo& info = inst.info();
  XTPU_CHECK(OperandsEnd(info) <= kInstructionBytes * 8);
  PutBits(out, 0, 8, static_cast<uint8_t>(inst.opcode));
  PutBits(out, 8, 8, inst.unit);
  PutBits(out, 16, 16, static_cast<uint64_t>(inst.wait + 1));
  PutBits(out, 32, 16, static_cast<uint64_t>(inst.signal + 1));
  int pos = kHeaderBits;
  for (int i = 0; i < info.num_operands; ++i) {
    const OperandKind kind = info.operands[i].kind;
    const Operand& o = inst.ops[i];
    if (kind == OperandKind::kVal) {
      PutBits(out, pos, 8, static_cast<uint64_t>(o.reg + 1));
      PutBits(out, pos + 8, kValImmBits, static_cast<uint64_t>(o.imm));
    } else {
      PutBits(out, pos, OperandBits(kind), static_cast<uint64_t>(o.imm));
    }
    pos += OperandBits(kind);
  }
}

StatusOr<Instruction> DecodeInstruction(const uint8_t in[kInstructionBytes]) {
  Instruction inst;
  int opcode = static_cast<int>(GetBits(in, 0, 8));
  if (!IsValidOpcode(opcode)) return Error("invalid opcode {}", opcode);
  inst.opcode = static_cast<Opcode>(opcode);
  inst.unit = static_cast<uint8_t>(GetBits(in, 8, 8));
  inst.wait = static_cast<int32_t>(GetBits(in, 16, 16)) - 1;
  inst.signal = static_cast<int32_t>(GetBits(in, 32, 16)) - 1;
  if (GetBits(in, 48, 16) != 0) return Error("{}: reserved header bits are not zero", inst.info().mnemonic);
  const OpInfo& info = inst.info();
  int pos = kHeaderBits;
  for (int i = 0; i < info.num_operands; ++i) {
    const OperandKind kind = info.operands[i].kind;
    Operand& o = inst.ops[i];
    if (kind == OperandKind::kVal) {
      o.reg = static_cast<int16_t>(static_cast<int>(GetBits(in, pos, 8)) - 1);
      o.imm = SignExtend(GetBits(in, pos + 8, kValImmBits), kValImmBits);
    } else if (kind == OperandKind::kInt) {
      o.imm = SignExtend(GetBits(in, pos, 32), 32);
    } else {
      o.imm = static_cast<int64_t>(GetBits(in, pos, OperandBits(kind)));
    }
    pos += OperandBits(kind);
  }
  for (; pos < kInstructionBytes * 8; ++pos)
    if (GetBits(in, pos, 1)) return Error("{}: unused bit {} is not zero", info.mnemonic, pos);
  RETURN_IF_ERROR(ValidateInstruction(inst, "instruction"));
  return inst;
}

bool LooksLikeProgramBinary(std::string_view bytes) { return bytes.substr(0, kProgramMagic.size()) == kProgramMagic; }

StatusOr<std::string> Encode(const Program& program) {
  static_assert(std::endian::native == std::endian::little, "xtpu program files assume a little-endian host");
  RETURN_IF_ERROR(ValidateProgram(program));
  Writer w;
  w.Raw(kProgramMagic.data(), kProgramMagic.size());
  w.U32(kProgramVersion);
  w.U32(static_cast<uint32_t>(program.cores.size()));
  w.U32(static_cast<uint32_t>(program.buffers.size()));
  for (const BufferDecl& b : program.buffers) {
    if (b.name.size() > 0xffff) return Error("buffer name '{}...' is too long", b.name.substr(0, 32));
    w.U16(static_cast<uint16_t>(b.name.size()));
    w.Raw(b.name.data(), b.name.size());
    w.U8(static_cast<uint8_t>(b.mem));
    w.U8(static_cast<uint8_t>(b.core));
    w.U8(static_cast<uint8_t>(b.role));
    w.U8(static_cast<uint8_t>(b.shape.dtype));
    w.U8(static_cast<uint8_t>(b.shape.dims.size()));
    for (int64_t d : b.shape.dims) w.I64(d);
    w.I64(b.address);
  }
  uint8_t buf[kInstructionBytes];
  for (const auto& stream : program.cores) {
    w.U32(static_cast<uint32_t>(stream.size()));
    for (const Instruction& inst : stream) {
      EncodeInstruction(inst, buf);
      w.Raw(buf, kInstructionBytes);
    }
  }
  return w.Take();
}

StatusOr<Program> Decode(std::string_view bytes) {
  Reader r(bytes);
  ASSIGN_OR_RETURN(std::string_view magic, r.Bytes(kProgramMagic.size(), "magic"));
  if (magic != kProgramMagic) return Error("not an xtpu program binary (bad magic)");
  ASSIGN_OR_RETURN(uint32_t version, r.Get<uint32_t>("version"));
  if (version != kProgramVersion)
    return Error("program binary version {} is not supported (this build reads version {})", version,
                 kProgramVersion);
  ASSIGN_OR_RETURN(uint32_t num_cores, r.Get<uint32_t>("core count"));
  ASSIGN_OR_RETURN(uint32_t num_buffers, r.Get<uint32_t>("buffer count"));
  if (num_cores == 0 || num_cores > 64) return Error("program binary: core count {} (must be 1..64)", num_cores);
  if (num_buffers > r.remaining() / 14) return Error("program binary: buffer count {} exceeds file size", num_buffers);
  Program p;
  for (uint32_t i = 0; i < num_buffers; ++i) {
    BufferDecl b;
    ASSIGN_OR_RETURN(uint16_t len, r.Get<uint16_t>("buffer name length"));
    ASSIGN_OR_RETURN(std::string_view name, r.Bytes(len, "buffer name"));
    b.name = std::string(name);
    for (char c : b.name)
      if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.'))
        return Error("program binary: buffer {} has an invalid name", i);
    ASSIGN_OR_RETURN(uint8_t mem, r.Get<uint8_t>("buffer memory"));
    ASSIGN_OR_RETURN(uint8_t core, r.Get<uint8_t>("buffer core"));
    ASSIGN_OR_RETURN(uint8_t role, r.Get<uint8_t>("buffer role"));
    ASSIGN_OR_RETURN(uint8_t dtype, r.Get<uint8_t>("buffer dtype"));
    ASSIGN_OR_RETURN(uint8_t rank, r.Get<uint8_t>("buffer rank"));
    if (mem > 1) return Error("program binary: buffer '{}' has invalid memory {}", b.name, mem);
    if (role > 3) return Error("program binary: buffer '{}' has invalid role {}", b.name, role);
    if (dtype > static_cast<uint8_t>(DType::kF32))
      return Error("program binary: buffer '{}' has invalid dtype {}", b.name, dtype);
    if (rank > 8) return Error("program binary: buffer '{}' has rank {} (at most 8)", b.name, rank);
    b.mem = static_cast<MemSpace>(mem);
    b.core = core;
    b.role = static_cast<BufferRole>(role);
    std::vector<int64_t> dims(rank);
    for (auto& d : dims) {
      ASSIGN_OR_RETURN(d, r.Get<int64_t>("buffer dimension"));
    }
    b.shape = Shape(static_cast<DType>(dtype), std::move(dims));
    ASSIGN_OR_RETURN(b.address, r.Get<int64_t>("buffer address"));
    p.buffers.push_back(std::move(b));
  }
  p.cores.resize(num_cores);
  for (uint32_t c = 0; c < num_cores; ++c) {
    ASSIGN_OR_RETURN(uint32_t n, r.Get<uint32_t>("instruction count"));
    if (n > r.remaining() / kInstructionBytes)
      return Error("program binary: core {} claims {} instructions but the file is shorter", c, n);
    p.cores[c].reserve(n);
    for (uint32_t pc = 0; pc < n; ++pc) {
      ASSIGN_OR_RETURN(std::string_view raw, r.Bytes(kInstructionBytes, "instruction"));
      StatusOr<Instruction> inst = DecodeInstruction(reinterpret_cast<const uint8_t*>(raw.data()));
      if (!inst.ok()) return inst.status().WithPrefix(fmt::format("program binary: core {} pc {}", c, pc));
      p.cores[c].push_back(*inst);
    }
  }
  if (r.remaining() != 0) return Error("program binary: {} trailing bytes after the last instruction", r.remaining());
  RETURN_IF_ERROR(ValidateProgram(p).WithPrefix("program binary"));
  return p;
}

}  // namespace xtpu::isa
