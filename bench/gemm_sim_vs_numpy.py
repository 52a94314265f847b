#!/usr/bin/python3
"""Functional simulation of examples/asm/gemm_bf16_4096.s versus the host's
own f32 GEMM (NumPy/OpenBLAS sgemm, 4096 x 4096 x 4096), side by side.

Each repetition times one whole `xtpu sim` process (assembly, seeded input
fill, simulation, timing model) on --threads T, then one NumPy `a @ b` on T
OpenBLAS threads; the two alternate so both see the same machine load. Prints
each pair with its ratio sim speed / sgemm speed (= sgemm time / sim time;
1.0 means the simulator is as fast as the host's sgemm), the medians, and the
median of the per-pair ratios (the headline: a pair shares the machine's load
at that moment, so it stays meaningful on a shared host).

Usage: /usr/bin/python3 bench/gemm_sim_vs_numpy.py --xtpu build/xtpu [--reps 5] [--threads 2]
"""
import argparse
import os
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--xtpu", default=os.path.join(ROOT, "build", "xtpu"))
    ap.add_argument("--program", default=os.path.join(ROOT, "examples", "asm", "gemm_bf16_4096.s"))
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--n", type=int, default=4096, help="NumPy GEMM size (the program is 4096^3)")
    args = ap.parse_args()

    # OpenBLAS reads its thread count when NumPy is imported.
    os.environ["OPENBLAS_NUM_THREADS"] = str(args.threads)
    os.environ["OMP_NUM_THREADS"] = str(args.threads)
    import numpy as np

    n = args.n
    flops = 2.0 * n * n * n
    rng = np.random.default_rng(0)
    a = rng.uniform(-1, 1, (n, n)).astype(np.float32)
    b = rng.uniform(-1, 1, (n, n)).astype(np.float32)
    a @ b  # warm up OpenBLAS (thread start, page faults)

    cmd = [args.xtpu, "sim", args.program, "--chip", "v4", "--threads", str(args.threads), "-q"]
    print(f"machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f} at start")
    print(f"numpy {np.__version__}; sim command: {' '.join(cmd)}")
    sim_t, np_t = [], []
    for i in range(args.reps):
        t0 = time.perf_counter()
        subprocess.run(cmd, check=True)
        sim_t.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        c = a @ b
        np_t.append(time.perf_counter() - t0)
        del c
        print(f"rep {i}: sim {sim_t[-1]:.3f} s ({flops / sim_t[-1] / 1e9:.1f} GFLOP/s)   "
              f"numpy sgemm {np_t[-1]:.3f} s ({flops / np_t[-1] / 1e9:.1f} GFLOP/s)   "
              f"ratio {np_t[-1] / sim_t[-1]:.2f}x")
        sys.stdout.flush()
    ms, mn = statistics.median(sim_t), statistics.median(np_t)
    print(f"median: sim {ms:.3f} s ({flops / ms / 1e9:.1f} GFLOP/s), "
          f"numpy sgemm {mn:.3f} s ({flops / mn / 1e9:.1f} GFLOP/s)")
    ratios = [n_ / s_ for s_, n_ in zip(sim_t, np_t)]
    print(f"ratio of medians: {mn / ms:.2f}x")
    print(f"median per-pair ratio sim/sgemm speed: {statistics.median(ratios):.2f}x "
          f"(min {min(ratios):.2f}x, max {max(ratios):.2f}x; target >= 0.5x)")
    print(f"load average {os.getloadavg()[0]:.2f} at end")


if __name__ == "__main__":
    main()
