"""Runs one pass test: tests/passes/<name>.tir.

The file starts with a RUN line, then holds tensor IR with FileCheck lines
(`// CHECK:`, `// CHECK-NEXT:`, `// CHECK-NOT:`, ...) beside it:

  // RUN: passes=algsimp,dce [rtol=1e-6] [chip=v4] [unchanged]

The test
  1. runs `xtpu opt --passes=<list> --check-unchanged --print-after-all
     [--chip=<chip>] FILE` (the verifier runs after every pass;
     --check-unchanged fails a pass that says "unchanged" but changed the
     module); with `unchanged`, every pass must also report no change;
  2. checks the printed module with `FileCheck FILE`;
  3. runs the module before and after the passes on the reference evaluator
     (`xtpu run --backend reference`, random inputs from seeds 0 and 1) and
     compares the outputs: same names in the same order, same dtypes and
     shapes, and values equal bit for bit (NaN equals NaN; 0 equals -0). With rtol=R, values may differ
     by R times the largest magnitude of that output instead (for passes that
     round differently, e.g. canonicalize rescaling weights).

Usage (ctest runs it; see tests/passes/CMakeLists.txt):
  /usr/bin/python3 tests/passes/run_pass_test.py --xtpu build/xtpu \
      --filecheck /usr/bin/FileCheck-14 tests/passes/dce.tir
"""
import argparse
import os
import subprocess
import sys
import tempfile

import numpy as np

SEEDS = (0, 1)


def parse_run_line(path):
    with open(path) as f:
        first = f.readline().strip()
    prefix = "// RUN:"
    if not first.startswith(prefix):
        sys.exit(f"{path}:1: the first line must be '// RUN: passes=<list> [rtol=R] [chip=NAME] [unchanged]'")
    opts = {}
    for word in first[len(prefix):].split():
        if word == "unchanged":
            opts[word] = True
            continue
        key, eq, value = word.partition("=")
        if not eq or key not in ("passes", "rtol", "chip"):
            sys.exit(f"{path}:1: unknown RUN option '{word}' (passes=, rtol=, chip=, unchanged)")
        opts[key] = value
    if not opts.get("passes"):
        sys.exit(f"{path}:1: RUN line needs passes=<list>")
    return opts


def run(cmd):
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    if r.returncode != 0:
        sys.exit(f"FAILED: {' '.join(cmd)}\n{r.stdout}{r.stderr}")
    return r


def outputs(xtpu, model, seed, out):
    run([xtpu, "run", "--backend", "reference", model, "--seed", str(seed), "--output", out, "-q"])
    with np.load(out) as z:
        return [(name, z[name]) for name in z.files]


def compare(before, after, rtol, seed):
    names_b = [n for n, _ in before]
    names_a = [n for n, _ in after]
    if names_b != names_a:
        sys.exit(f"FAILED: output names changed: {names_b} -> {names_a}")
    for (name, b), (_, a) in zip(before, after):
        where = f"output '{name}' (seed {seed})"
        if b.dtype != a.dtype or b.shape != a.shape:
            sys.exit(f"FAILED: {where}: {b.dtype}{list(b.shape)} -> {a.dtype}{list(a.shape)}")
        is_float = np.issubdtype(b.dtype, np.floating)
        if rtol is None or not is_float:
            # Exact: 0 and -0 compare equal, NaN equals NaN (other dtypes, such
            # as bf16 stored as raw 16-bit values, compare as stored).
            same = (b == a) | (np.isnan(b) & np.isnan(a)) if is_float else (b == a)
            if not np.all(same):
                i = tuple(np.argwhere(~np.asarray(same))[0]) if b.ndim else ()
                sys.exit(f"FAILED: {where} differs at {list(i)}: {b[i]!r} before, {a[i]!r} after")
            continue
        bf, af = b.astype(np.float64), a.astype(np.float64)
        if not np.array_equal(np.isnan(bf), np.isnan(af)):
            sys.exit(f"FAILED: {where}: NaNs moved")
        finite = ~np.isnan(bf)
        scale = np.max(np.abs(bf[finite]), initial=0.0)
        err = np.max(np.abs(bf[finite] - af[finite]), initial=0.0)
        if err > rtol * scale:
            sys.exit(f"FAILED: {where}: max difference {err} > rtol {rtol} x max |value| {scale}")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--xtpu", required=True)
    parser.add_argument("--filecheck", required=True)
    parser.add_argument("test")
    args = parser.parse_args()
    opts = parse_run_line(args.test)
    rtol = float(opts["rtol"]) if "rtol" in opts else None
    with tempfile.TemporaryDirectory(prefix="xtpu_pass_") as tmp:
        after = os.path.join(tmp, "after.tir")
        cmd = [args.xtpu, "opt", "--passes=" + opts["passes"], "--check-unchanged", "--print-after-all",
               args.test, "-o", after]
        if "chip" in opts:
            cmd.insert(3, "--chip=" + opts["chip"])
        r = run(cmd)
        changed = [line for line in r.stderr.splitlines() if line.startswith("// -----// IR after ")]
        if opts.get("unchanged") and changed:
            sys.exit(f"FAILED: expected no pass to change the module, but: {changed}")
        r = subprocess.run([args.filecheck, args.test, "--input-file", after], capture_output=True, text=True)
        if r.returncode != 0:
            with open(after) as f:
                sys.exit(f"FAILED: FileCheck\n{r.stderr}\n--- module after {opts['passes']} ---\n{f.read()}")
        for seed in SEEDS:
            before_out = outputs(args.xtpu, args.test, seed, os.path.join(tmp, "before.npz"))
            after_out = outputs(args.xtpu, after, seed, os.path.join(tmp, "after.npz"))
            compare(before_out, after_out, rtol, seed)
    print(f"PASS: {os.path.basename(args.test)} ({opts['passes']})")


if __name__ == "__main__":
    main()
