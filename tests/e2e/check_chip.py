#!/usr/bin/env python3
"""End-to-end check of one exported model on the simulated chip.

  1. xtpu compile NAME.onnx --chip CHIP --precision P -o NAME.CHIP.P.xtpu
  2. xtpu run NAME.CHIP.P.xtpu with PyTorch's example inputs, --stats
  3. every output must match PyTorch's within relative L2 error
     ||xtpu - torch|| / ||torch|| <= 2e-2 (default precision), 1e-3 (high)
     or 1e-5 (highest); for classifier outputs ([batch, classes]) the top-1
     class must be PyTorch's for every row; for per-position outputs
     ([batch, seq, vocab]) the top-1 must agree wherever PyTorch's top two
     logits differ by more than --tie-margin (1e-3) of the output's range
     (closer pairs are within the bf16 noise of a default-precision matmul;
     bf16 models take 1e-2).
  4. the stats JSON has the performance fields users rely on.

Usage: check_chip.py --xtpu PATH --models DIR --chip v4 --precision default NAME
"""
import argparse
import json
import os
import subprocess
import sys
import time

import numpy as np

TOLERANCE = {"default": 2e-2, "high": 1e-3, "highest": 1e-5}


def run(cmd):
    t = time.time()
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode != 0:
        sys.exit(f"FAILED ({p.returncode}): {' '.join(cmd)}\n{p.stderr.strip()}")
    return time.time() - t, p.stdout


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--xtpu", required=True)
    ap.add_argument("--models", required=True)
    ap.add_argument("--chip", default="v4")
    ap.add_argument("--precision", default="default", choices=sorted(TOLERANCE))
    ap.add_argument("--tie-margin", type=float, default=1e-3,
                    help="per-position outputs: rows whose top two values differ by at most this fraction of the "
                         "output's range are near-ties, not checked for top-1 (default 1e-3; bf16 models, whose "
                         "values carry 8 bits, need about 1e-2)")
    ap.add_argument("name")
    a = ap.parse_args()
    stem = os.path.join(a.models, a.name)
    work = os.path.join(a.models, "chip")
    os.makedirs(work, exist_ok=True)
    tag = f"{a.name}.{a.chip}.{a.precision}"
    exe = os.path.join(work, tag + ".xtpu")
    out = os.path.join(work, tag + ".out.npz")
    stats = os.path.join(work, tag + ".stats.json")
    csecs, _ = run([a.xtpu, "compile", stem + ".onnx", "--chip", a.chip, "--precision", a.precision, "-o", exe, "-q"])
    rsecs, summary = run([a.xtpu, "run", exe, "--inputs", stem + ".inputs.npz", "--output", out, "--stats", stats,
                          "--layers", "0", "-q"])
    got = np.load(out)
    want = np.load(stem + ".expected.npz")
    tol = TOLERANCE[a.precision]
    failures = []
    for name in want.files:
        if name not in got.files:
            failures.append(f"output '{name}' missing (have {got.files})")
            continue
        x, y = got[name].astype(np.float64), want[name].astype(np.float64)
        if x.shape != y.shape:
            failures.append(f"{name}: shape {x.shape} != {y.shape}")
            continue
        rel = np.linalg.norm(x - y) / max(np.linalg.norm(y), 1e-30)
        line = f"{a.name} on {a.chip} ({a.precision}): {name} {list(y.shape)} relative L2 error {rel:.3g} (limit {tol:g})"
        if not rel <= tol:
            failures.append(line)
        if y.ndim >= 2 and y.shape[-1] > 1:
            xs, ys = x.reshape(-1, y.shape[-1]), y.reshape(-1, y.shape[-1])
            top_x, top_y = xs.argmax(-1), ys.argmax(-1)
            if y.ndim == 2:
                decided = np.ones(len(ys), bool)
            else:
                srt = np.sort(ys, -1)
                decided = (srt[:, -1] - srt[:, -2]) > a.tie_margin * (ys.max() - ys.min())
            agree = (top_x == top_y)[decided]
            line += f"; top-1 agrees on {agree.sum()}/{decided.sum()} rows"
            if not agree.all():
                failures.append(line)
        print(line)
    s = json.load(open(stats))
    perf = s.get("performance", {})
    for key in ("cycles", "seconds", "mxu_utilization", "roofline_cycles", "fraction_of_roofline", "hbm_bytes",
                "vmem_bytes", "kernels"):
        if key not in perf:
            failures.append(f"stats: performance.{key} missing")
    for key in ("timing", "functional", "config", "model_flops", "host_seconds"):
        if key not in s:
            failures.append(f"stats: {key} missing")
    if perf.get("cycles", 0) <= 0:
        failures.append(f"stats: cycles {perf.get('cycles')} must be > 0")
    print(f"compile {csecs:.1f} s, run {rsecs:.1f} s; {perf.get('cycles')} cycles, "
          f"{100 * perf.get('fraction_of_peak', 0):.1f}% of peak")
    if failures:
        sys.exit("FAILED:\n  " + "\n  ".join(failures))
    print("OK")


if __name__ == "__main__":
    main()
