#!/usr/bin/python3
"""Compiler benchmarks (issue 4): program quality on the timing model,
simulation speed against PyTorch, and compile time. Prints one table; the
figures go to docs/performance.md with this command line.

  quality   4096^3 matmul on v4, bf16 operands and result, and f32 (default
            precision = one bf16 pass): cycles vs the roofline bound; ResNet-50 at batch 64 and the BERT-style
            encoder at batch 32 (seq 128) on v4, each as exported (f32) and as a
            bf16 model (export.py --bf16): model FLOP/s as a fraction of the
            chip's peak (timing-only runs), and the per-layer table of the largest
            kernels.
  speed     ResNet-50 at batch 1: `xtpu run` of the compiled executable
            (functional + timing simulation, 2 threads) vs PyTorch running the same
            model natively on 2 threads, alternated in pairs (median of the
            per-pair ratios); `--timing-only` at batch 64 (wall time).
  compile   `xtpu compile` of ResNet-50 (wall time, median).

Usage: /usr/bin/python3 bench/compiler_bench.py --xtpu build/xtpu [--reps 3] [--skip-speed]
Models are exported into --models (default build/models) when missing.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "models"))

MATMUL_TIR = """HloModule matmul_4096

ENTRY main {
  a = f32[4096,4096] parameter(0)
  b = f32[4096,4096] parameter(1)
  c = f32[4096,4096] dot(a, b), lhs_batch_dims={}, lhs_contracting_dims={1}, rhs_batch_dims={}, rhs_contracting_dims={0}
  ROOT out = (f32[4096,4096]) tuple(c)
}
"""
# The "bf16 matmul": bf16 operands and result (JAX's usual HLO).
MATMUL_BF16_TIR = MATMUL_TIR.replace("f32[", "bf16[").replace("matmul_4096", "matmul_4096_bf16")


def sh(cmd, env=None):
    t = time.time()
    p = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if p.returncode != 0:
        sys.exit(f"FAILED: {' '.join(cmd)}\n{p.stderr.strip()}")
    return time.time() - t, p.stdout


def ensure_model(models, name, batch, suffix, bf16=False):
    stem = os.path.join(models, name + suffix)
    if not os.path.exists(stem + ".onnx"):
        args = [sys.executable, os.path.join(ROOT, "models", "export.py"), models, name]
        if batch != 1 or bf16:
            args += ["--batch", str(batch), "--suffix", suffix]
        if bf16:
            args += ["--bf16"]
        sh(args)
    return stem


def timing_run(xtpu, model, work, tag, chip="v4", layers=8):
    exe = os.path.join(work, tag + ".xtpu")
    stats = os.path.join(work, tag + ".stats.json")
    csec, _ = sh([xtpu, "compile", model, "--chip", chip, "-o", exe, "-q"])
    rsec, out = sh([xtpu, "run", exe, "--timing-only", "--stats", stats, "--layers", str(layers), "-q"])
    return csec, rsec, json.load(open(stats)), out


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--xtpu", default=os.path.join(ROOT, "build", "xtpu"))
    ap.add_argument("--models", default=os.path.join(ROOT, "build", "models"))
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--skip-speed", action="store_true")
    ap.add_argument("--only-speed", action="store_true")
    a = ap.parse_args()
    os.makedirs(a.models, exist_ok=True)
    work = tempfile.mkdtemp(prefix="xtpu_bench_")
    rows = []

    # ---- quality ----
    tir = os.path.join(work, "matmul_4096.tir")
    if a.only_speed:
        a.skip_quality = True
    else:
        a.skip_quality = False
    if not a.skip_quality:
        quality(a, work, tir, rows)
    if not a.skip_speed:
        speed(a, work, rows)
    print("\n| benchmark | value | figure |\n|---|---|---|")
    for r in rows:
        print(f"| {r[0]} | {r[1]} | {r[2]} |")


def quality(a, work, tir, rows):
    for label, text, tag in (("bf16", MATMUL_BF16_TIR, "matmul_bf16"), ("f32 (default precision)", MATMUL_TIR, "matmul")):
        path = tir.replace(".tir", f"_{tag}.tir")
        open(path, "w").write(text)
        _, _, s, _ = timing_run(a.xtpu, path, work, tag)
        p = s["performance"]
        rows.append((f"4096^3 {label} matmul, v4: cycles / roofline", f"{p['cycles']} / {p['roofline_cycles']:.0f}",
                     f"{100 * p['fraction_of_roofline']:.1f}% of roofline, {100 * p['fraction_of_peak']:.1f}% of peak"))
    for name, batch, bf16 in (("resnet50", 64, False), ("resnet50", 64, True), ("bert", 32, False), ("bert", 32, True)):
        tag = f"_b{batch}" + ("_bf16" if bf16 else "")
        label = f"{name} batch {batch}" + (" (bf16 model)" if bf16 else " (f32 model)")
        stem = ensure_model(a.models, name, batch, tag, bf16)
        csec, rsec, s, out = timing_run(a.xtpu, stem + ".onnx", work, name + tag)
        p = s["performance"]
        rows.append((f"{label}, v4: model FLOP/s / peak", f"{p['flops_per_second'] / 1e12:.1f} TFLOP/s",
                     f"{100 * p['fraction_of_peak']:.1f}% of peak"))
        rows.append((f"{label}: --timing-only run (wall)", f"{rsec:.2f} s", ""))
        print(f"\n== {label} on v4 (timing only): largest kernels\n{out}")



def speed(a, work, rows):
    # ---- speed: ResNet-50 batch 1, sim vs PyTorch ----
    if True:
        stem = ensure_model(a.models, "resnet50", 1, "")
        exe = os.path.join(work, "resnet50.xtpu")
        compile_times = [sh([a.xtpu, "compile", stem + ".onnx", "--chip", "v4", "-o", exe, "-q"])[0]
                         for _ in range(a.reps)]
        rows.append(("resnet50 compile (wall, median)", f"{statistics.median(compile_times):.2f} s", ""))
        env = dict(os.environ, OMP_NUM_THREADS=str(a.threads), OMP_WAIT_POLICY="passive")
        torch_cmd = [sys.executable, "-c", f"""
import time, numpy as np, torch, onnx
torch.set_num_threads({a.threads})
import export
m, x, _, _ = export.make('resnet50')
m.eval()
with torch.no_grad():
    m(x)
    t = time.time(); m(x); print(time.time() - t)
"""]
        ratios, phase_ratios, sims, phases, torches = [], [], [], [], []
        stats = os.path.join(work, "r50_b1.stats.json")
        for _ in range(a.reps):
            sim, _ = sh([a.xtpu, "run", exe, "--inputs", stem + ".inputs.npz", "--threads", str(a.threads),
                         "--layers", "0", "--stats", stats, "-q"], env=env)
            hs = json.load(open(stats))["host_seconds"]
            phase = hs["simulate"] + hs["timing"]
            _, out = sh(torch_cmd, env=dict(env, PYTHONPATH=os.path.join(ROOT, "models")))
            tt = float(out.strip().splitlines()[-1])
            sims.append(sim)
            phases.append(phase)
            torches.append(tt)
            ratios.append(sim / tt)
            phase_ratios.append(phase / tt)
        rows.append(("resnet50 b1: simulate+timing phases / PyTorch forward",
                     f"{statistics.median(phases):.2f} s / {statistics.median(torches):.3f} s",
                     f"{statistics.median(phase_ratios):.1f}x PyTorch's time"))
        rows.append(("resnet50 b1: whole `xtpu run` process (load, sim, timing) / PyTorch forward",
                     f"{statistics.median(sims):.2f} s / {statistics.median(torches):.3f} s",
                     f"{statistics.median(ratios):.1f}x PyTorch's time"))


if __name__ == "__main__":
    main()
