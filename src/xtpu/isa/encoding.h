// Binary form of instructions and programs.
//
// An instruction is 64 bytes (512 bits, little-endian bit order): bits 0-7
// opcode, 8-15 unit index, 16-31 wait semaphore + 1 (0 = none), 32-47 signal
// semaphore + 1, 48-63 reserved (zero), then the operands in table order,
// each OperandBits(kind) wide; all remaining bits are zero. The width is
// generous on purpose: every field has room for the largest chip.
//
// A program file: "XTPUPROG" magic, u32 version (kProgramVersion), u32 core
// count, u32 buffer count; per buffer: u16 name length, name, u8 mem, u8 core,
// u8 role, u8 dtype, u8 rank, rank x i64 dims, i64 address; per core: u32
// instruction count, then the instructions. All integers little-endian.
//
// Decode checks every field and never trusts a length: any malformed input
// is an error naming the instruction (core and pc) or header field.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "xtpu/isa/isa.h"
#include "xtpu/support/status.h"

namespace xtpu::isa {

inline constexpr int kInstructionBytes = 64;
inline constexpr uint32_t kProgramVersion = 1;
inline constexpr std::string_view kProgramMagic = "XTPUPROG";

// `inst` must be valid (ValidateInstruction); XTPU_CHECKs otherwise.
void EncodeInstruction(const Instruction& inst, uint8_t out[kInstructionBytes]);
StatusOr<Instruction> DecodeInstruction(const uint8_t in[kInstructionBytes]);

// Validates the program first; errors name the problem.
StatusOr<std::string> Encode(const Program& program);
StatusOr<Program> Decode(std::string_view bytes);
// True if `bytes` starts with the program magic.
bool LooksLikeProgramBinary(std::string_view bytes);

}  // namespace xtpu::isa
