// The compiled executable (.xtpu file): everything needed to run a compiled
// model on a chip without the compiler — the chip it targets, the ISA
// program, the constant (weight) data that fills the program's buffers, the
// model's input and output signatures, and free-form JSON metadata.
//
// Binary format (docs/executable.md; all integers little-endian):
//   "XTPUEXEC" magic, u32 format version (kExecutableFormatVersion),
//   sections: u32 tag (four ASCII characters), u64 payload length, payload —
//     HEAD compiler version, chip name, precision
//     CHIP chip description (TOML text, ChipToToml)
//     PROG the program (isa::Encode)
//     CNST constants: buffer name and raw bytes each
//     SIGS input and output signatures
//     META metadata (JSON text)
//   u32 CRC-32 (zlib) of every byte before it.
//
// Executables are untrusted input: DeserializeExecutable checks every length
// against the bytes that remain before it allocates, and every field against
// the program and the chip (see the function). A corrupt, truncated or
// foreign file is an error of one line naming the file and the field, e.g.
//   "model.xtpu: constant 'w3' has 100 bytes, its buffer 'w3' needs 4096".
//
//   ASSIGN_OR_RETURN(runtime::Executable e, runtime::LoadExecutable("model.xtpu"));
//   ASSIGN_OR_RETURN(ChipConfig chip, LoadChipFromString(e.chip_toml, "model.xtpu"));
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "xtpu/ir/dtype.h"
#include "xtpu/isa/isa.h"
#include "xtpu/support/status.h"

namespace xtpu::runtime {

inline constexpr std::string_view kExecutableMagic = "XTPUEXEC";
// Bumped whenever the layout changes; a reader rejects newer files with
// "written by a newer xtpu (format N); this is format M".
inline constexpr uint32_t kExecutableFormatVersion = 1;
// Names (signature, buffer) and header strings must be non-empty and shorter
// than this. They are bytes: no encoding is required.
inline constexpr size_t kMaxExecutableNameBytes = 4096;

// One input or output of the compiled model.
struct TensorSignature {
  std::string name;                 // model input/output name
  DType model_dtype = DType::kF32;  // dtype the user passes/gets (e.g. s64, f32)
  std::vector<int64_t> dims;        // the model's dims; equal to the buffer's
  std::string buffer;               // the HBM buffer of the program holding it
  DType chip_dtype = DType::kF32;   // dtype of that buffer (e.g. s32 for an s64 model input)
  bool operator==(const TensorSignature&) const = default;
};

// A constant (weights) region: the program buffer it fills and its raw bytes
// (chip dtype, row-major); the byte count equals the buffer's byte size.
struct ConstantData {
  std::string buffer;
  std::string bytes;
  bool operator==(const ConstantData&) const = default;
};

struct Executable {
  std::string compiler_version;       // XTPU_VERSION at compile time (informational: never checked)
  std::string chip_toml;              // the full chip description it targets (ChipToToml)
  std::string chip_name;              // equals the name in chip_toml
  std::string precision = "default";  // "default" | "high" | "highest"
  isa::Program program;               // must pass sim::CheckProgramForChip for the chip
  std::vector<ConstantData> constants;
  std::vector<TensorSignature> inputs, outputs;
  std::string metadata_json = "{}";  // free-form JSON text: flops, per-kernel table (validated as JSON)
  // Compares every field (program as isa::Program::operator==, which ignores
  // source names and assembly line numbers).
  bool operator==(const Executable&) const = default;
};

// Checks the executable as DeserializeExecutable does, then writes the
// binary form. The same executable always gives the same bytes.
StatusOr<std::string> SerializeExecutable(const Executable& e);

// Parses and checks a binary executable; `source_name` (usually the path)
// starts every error message and becomes program.source_name. Checks: magic,
// format version, section framing (tags known, none repeated or missing,
// lengths within the file), CRC; then every field: header strings and names
// non-empty and < kMaxExecutableNameBytes, precision one of the three modes,
// dtypes valid, dims non-negative with element counts that do not overflow,
// chip_toml loads (LoadChipFromString) and names chip_name, the program
// decodes and passes sim::CheckProgramForChip for that chip, every signature
// names a distinct HBM buffer of the program with the same dims and dtype
// chip_dtype, every constant fills a distinct buffer (not an input's) with
// exactly its byte size, and metadata_json is valid JSON. A differing
// compiler_version is not an error.
StatusOr<Executable> DeserializeExecutable(std::string_view bytes, const std::string& source_name);

// SerializeExecutable, then writes `path`; errors name the path.
Status SaveExecutable(const Executable& e, const std::string& path);
// Reads `path` and DeserializeExecutable(bytes, path).
StatusOr<Executable> LoadExecutable(const std::string& path);

}  // namespace xtpu::runtime
