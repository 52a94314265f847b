#!/usr/bin/env python3
"""End-to-end check of one exported model through the `xtpu` command.

  1. xtpu run NAME.onnx with PyTorch's example inputs: every output must match
     PyTorch's own within max relative error 1e-4, where
     max relative error = max|xtpu - torch| / max|torch| (per output).
  2. xtpu import NAME.onnx -o NAME.tir, then xtpu opt NAME.tir -o NAME.opt.tir:
     the two texts must be byte for byte identical.
  3. xtpu run NAME.tir gives bit-identical outputs to step 1.

Usage: check_model.py --xtpu PATH --models DIR NAME [--tolerance 1e-4]
"""
import argparse
import filecmp
import os
import subprocess
import sys
import time

import numpy as np


def run(cmd):
    t = time.time()
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode != 0:
        sys.exit(f"FAILED ({p.returncode}): {' '.join(cmd)}\n{p.stderr.strip()}")
    return time.time() - t


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--xtpu", required=True)
    ap.add_argument("--models", required=True)
    ap.add_argument("--tolerance", type=float, default=1e-4)
    ap.add_argument("name")
    a = ap.parse_args()
    stem = os.path.join(a.models, a.name)
    work = os.path.join(a.models, "e2e")
    os.makedirs(work, exist_ok=True)
    out = os.path.join(work, a.name + ".out.npz")
    secs = run([a.xtpu, "run", "--backend", "reference", stem + ".onnx", "--inputs", stem + ".inputs.npz", "--output", out, "--quiet"])
    expected = np.load(stem + ".expected.npz")
    got = np.load(out)
    if sorted(expected.files) != sorted(got.files):
        sys.exit(f"FAILED: outputs {sorted(got.files)} != expected {sorted(expected.files)}")
    ok = True
    for k in expected.files:
        e, g = expected[k], got[k]
        if e.shape != g.shape or e.dtype != g.dtype:
            sys.exit(f"FAILED: output {k}: {g.dtype}{list(g.shape)} != expected {e.dtype}{list(e.shape)}")
        err = float(np.max(np.abs(g.astype(np.float64) - e)) / max(np.max(np.abs(e)), 1e-30))
        status = "ok" if err <= a.tolerance else "TOO LARGE"
        ok &= err <= a.tolerance
        print(f"{a.name}: output {k} {e.dtype}{list(e.shape)} max relative error {err:.3g} "
              f"(limit {a.tolerance:g}) {status}; run {secs:.1f} s")
    if not ok:
        sys.exit(1)

    tir = os.path.join(work, a.name + ".tir")
    tir2 = os.path.join(work, a.name + ".opt.tir")
    run([a.xtpu, "import", stem + ".onnx", "-o", tir])
    run([a.xtpu, "opt", tir, "-o", tir2])
    if not filecmp.cmp(tir, tir2, shallow=False):
        sys.exit(f"FAILED: xtpu opt of {tir} differs from its input")
    print(f"{a.name}: import -> opt round-trips byte for byte ({os.path.getsize(tir) / 1e6:.1f} MB)")

    out2 = os.path.join(work, a.name + ".tir.out.npz")
    run([a.xtpu, "run", "--backend", "reference", tir, "--inputs", stem + ".inputs.npz", "--output", out2, "--quiet"])
    got2 = np.load(out2)
    for k in expected.files:
        if not np.array_equal(got[k], got2[k], equal_nan=True):
            sys.exit(f"FAILED: output {k} from {tir} differs from the .onnx run")
    print(f"{a.name}: .tir run is bit-identical to the .onnx run")
    for f in (tir, tir2, out, out2):
        os.remove(f)


if __name__ == "__main__":
    main()
