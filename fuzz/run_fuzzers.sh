#!/usr/bin/env bash
# Builds the libFuzzer targets in build-fuzz (clang, ASan + UBSan) and runs
# each for N seconds (default 60): fuzz/run_fuzzers.sh [seconds].
# With --runs N (CI): a fixed seed and N inputs per target instead, so the run
# is the same on every machine: fuzz/run_fuzzers.sh --runs 50000.
# Options before those: --build-dir DIR (instead of build-fuzz) and
# --target NAME (run only that target; may be repeated).
# Fails when a target finds a crash, leak, hang or sanitizer error; the
# reproducer is left in <build dir>/fuzz-artifacts/<target>/.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
build="$root/build-fuzz"
targets=()
while [ $# -gt 0 ]; do
  case "$1" in
    --build-dir) build="$(mkdir -p "${2:?--build-dir needs a directory}" && cd "$2" && pwd)"; shift 2 ;;
    --target) targets+=("${2:?--target needs a name}"); shift 2 ;;
    *) break ;;
  esac
done
[ ${#targets[@]} -gt 0 ] || targets=(ir_parser_fuzz onnx_import_fuzz isa_fuzz executable_fuzz)
limit=(-max_total_time="${1:-60}")
what="${1:-60}s"
if [ "${1:-}" = "--runs" ]; then
  limit=(-seed=1 -runs="${2:?--runs needs a count}")
  what="$2 runs (seed 1)"
fi

CC=clang CXX=clang++ cmake -S "$root" -B "$build" -G Ninja -DXTPU_FUZZ=ON >/dev/null
ninja -C "$build" "${targets[@]}"

# Seed corpora: the checked-in seeds plus every sample file and, for ONNX,
# any small models in the tree. Fuzzing grows them in build-fuzz only.
seed() {  # seed <target> <dir> <glob-pattern>...
  local dir="$build/fuzz-corpus/$1"
  mkdir -p "$dir"
  shift
  for f in "$@"; do
    [ -f "$f" ] && [ "$(stat -c %s "$f")" -le 65536 ] && cp -f "$f" "$dir/" || true
  done
}
shopt -s nullglob globstar
seed ir_parser_fuzz "$root"/fuzz/corpus/ir/* "$root"/tests/ir/*.tir
seed onnx_import_fuzz "$root"/fuzz/corpus/onnx/* "$root"/tests/**/*.onnx
seed isa_fuzz "$root"/fuzz/corpus/isa/* "$root"/tests/asm/*.s
seed executable_fuzz "$root"/fuzz/corpus/executable/*

export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1"
export ASAN_OPTIONS="detect_leaks=1"
status=0
for target in "${targets[@]}"; do
  artifacts="$build/fuzz-artifacts/$target"
  mkdir -p "$artifacts"
  echo "== $target for $what"
  if ! "$build/fuzz/$target" "${limit[@]}" -timeout=10 -rss_limit_mb=2048 \
      -artifact_prefix="$artifacts/" -print_final_stats=1 \
      "$build/fuzz-corpus/$target" 2>"$build/$target.log"; then
    echo "FAILED: $target found a problem; see $build/$target.log and $artifacts/" >&2
    tail -40 "$build/$target.log" >&2
    status=1
  else
    grep -E "^stat::number_of_executed_units|^stat::new_units_added" "$build/$target.log" || true
  fi
done
exit $status
