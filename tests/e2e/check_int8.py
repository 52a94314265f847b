#!/usr/bin/env python3
"""End-to-end check of one int8 model (models/export_quantized.py) on a chip.

  1. the reference evaluator (`xtpu run NAME.onnx --backend reference`) must
     reproduce NAME.expected.npz (numpy, from the ONNX operator definitions)
     exactly: the importer's quantization ops are right;
  2. xtpu compile NAME.onnx --chip CHIP -o NAME.CHIP.xtpu, then xtpu run it with
     NAME.inputs.npz (--stats);
  3. the chip's outputs must equal NAME.expected_int8.npz (QDQ models: each
     MatMul/Conv as an exact int32 product scaled once in float32, what the
     int8-matmul pass computes; docs/numerics.md "The int8 path"), or
     NAME.expected.npz for QLinear models (integer by definition): integer
     outputs bit for bit, float (dequantized) outputs within 1e-5 relative;
  4. the matrix work ran on the int8 path: every kernel with FLOPs is an
     int8 matmul ("(s8)" in its op), and the stats report cycles and MXU
     utilization.

Usage: check_int8.py --xtpu PATH --models DIR --chip v1 NAME
"""
import argparse
import json
import os
import subprocess
import sys

import numpy as np


def run(cmd):
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode != 0:
        sys.exit(f"FAILED ({p.returncode}): {' '.join(cmd)}\n{p.stderr.strip()}")
    return p.stdout


def compare(label, got, want, failures):
    for name in want.files:
        if name not in got.files:
            failures.append(f"{label}: output '{name}' missing")
            continue
        g, w = got[name], want[name]
        if g.dtype != w.dtype or g.shape != w.shape:
            failures.append(f"{label}: '{name}' is {g.dtype}{list(g.shape)}, expected {w.dtype}{list(w.shape)}")
            continue
        if np.issubdtype(w.dtype, np.integer):
            bad = int((g != w).sum())
            ok = bad == 0
            line = f"{label}: '{name}' {w.dtype}{list(w.shape)}: {bad} of {w.size} elements differ"
        else:
            scale = float(np.abs(w).max()) or 1.0
            err = float(np.abs(g.astype(np.float64) - w).max()) / scale
            ok = err <= 1e-5
            line = f"{label}: '{name}' {w.dtype}{list(w.shape)}: max error {err:.3g} of the largest magnitude"
        print(line)
        if not ok:
            failures.append(line)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--xtpu", required=True)
    ap.add_argument("--models", required=True)
    ap.add_argument("--chip", default="v1")
    ap.add_argument("name")
    a = ap.parse_args()
    stem = os.path.join(a.models, a.name)
    work = os.path.join(a.models, "int8")
    os.makedirs(work, exist_ok=True)
    tag = f"{a.name}.{a.chip}"
    failures = []

    ref = os.path.join(work, a.name + ".reference.npz")
    run([a.xtpu, "run", stem + ".onnx", "--backend", "reference", "--inputs", stem + ".inputs.npz", "--output", ref,
         "-q"])
    compare("reference", np.load(ref), np.load(stem + ".expected.npz"), failures)

    exe = os.path.join(work, tag + ".xtpu")
    out = os.path.join(work, tag + ".out.npz")
    stats = os.path.join(work, tag + ".stats.json")
    run([a.xtpu, "compile", stem + ".onnx", "--chip", a.chip, "-o", exe, "-q"])
    run([a.xtpu, "run", exe, "--inputs", stem + ".inputs.npz", "--output", out, "--stats", stats, "--layers", "0",
         "-q"])
    int8_ref = stem + ".expected_int8.npz"
    want = np.load(int8_ref if os.path.exists(int8_ref) else stem + ".expected.npz")
    compare(f"chip {a.chip}", np.load(out), want, failures)

    s = json.load(open(stats))
    perf = s.get("performance", {})
    kernels = perf.get("kernels", [])
    matmuls = [k for k in kernels if k.get("flops", 0) > 0]
    if not matmuls:
        failures.append("stats: no kernel has FLOPs")
    for k in matmuls:
        if "(s8)" not in k.get("op", ""):
            failures.append(f"stats: kernel '{k.get('name')}' ({k.get('op')}) is not an int8 matmul")
    if perf.get("cycles", 0) <= 0 or "mxu_utilization" not in perf:
        failures.append("stats: cycles and mxu_utilization must be reported")
    print(f"chip {a.chip}: {perf.get('cycles', 0):.0f} cycles, MXU utilization "
          f"{100 * perf.get('mxu_utilization', 0):.1f}%, {len(matmuls)} int8 matmul kernels")
    if failures:
        sys.exit("FAILED:\n  " + "\n  ".join(failures))
    print("OK")


if __name__ == "__main__":
    main()
